package io.openruntimes.kotlin

import io.openruntimes.core.Request

/**
 * `context.req` of the current API and `req` of the v2 API (payload, variables, headers). Body
 * semantics live in the shared core.
 */
class RuntimeRequest internal constructor(private val request: Request) {
    val method: String get() = request.method
    val scheme: String get() = request.scheme
    val host: String get() = request.host
    val port: Int get() = request.port
    val path: String get() = request.path
    val query: MutableMap<String, String> = LinkedHashMap(request.query)
    val queryString: String get() = request.queryString
    val url: String get() = request.url
    val headers: MutableMap<String, String> get() = request.headers
    val bodyBinary: ByteArray get() = request.body
    val bodyText: String get() = request.bodyText()

    /** Throws on an empty or invalid body. */
    val bodyJson: MutableMap<String, Any> get() = request.bodyJson()

    /** bodyJson for application/json (empty map when there is no body), bodyText otherwise. */
    val body: Any get() = request.body()

    /** Deprecated alias of bodyText. */
    val bodyRaw: String get() = request.bodyText()

    /** v2: the request body as text ("" when empty). */
    val payload: String get() = request.bodyText()

    /** v2: the function's variables. */
    val variables: MutableMap<String, String> get() = request.variables

    /** v2 (Appwrite 0.x name of variables). */
    val env: MutableMap<String, String> get() = request.variables
}
