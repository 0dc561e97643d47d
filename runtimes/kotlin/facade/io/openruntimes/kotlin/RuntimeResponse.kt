package io.openruntimes.kotlin

import io.openruntimes.core.Json

/**
 * `context.res` of the current API, and `res` of the v2 API. The two share this name, so send/json
 * return a RuntimeResponse (a RuntimeOutput): a v2 handler can `return res.send(...)` and a current
 * one can return the same call as its output. v2 semantics ("the last send/json call wins") are
 * kept in [last].
 */
open class RuntimeResponse internal constructor(
    body: ByteArray,
    statusCode: Int,
    headers: Map<String, String>,
    /** The value a legacy send/json carried: its text or its JSON object. */
    internal val value: Any?,
) : RuntimeOutput(body, statusCode, headers) {
    constructor() : this(ByteArray(0), 200, mapOf(), null)

    internal var last: RuntimeResponse? = null

    fun binary(
        bytes: ByteArray,
        statusCode: Int = 200,
        headers: Map<String, String> = mapOf(),
    ): RuntimeOutput = RuntimeOutput(bytes, statusCode, HashMap(headers))

    fun text(
        body: String,
        statusCode: Int = 200,
        headers: Map<String, String> = mapOf(),
    ): RuntimeOutput = binary(body.toByteArray(Charsets.UTF_8), statusCode, headers)

    /** Deprecated alias of text(); also the v2 `res.send(text, statusCode)`. */
    fun send(
        body: String,
        statusCode: Int = 200,
        headers: Map<String, String> = mapOf(),
    ): RuntimeResponse {
        val response = RuntimeResponse(body.toByteArray(Charsets.UTF_8), statusCode, HashMap(headers), body)
        last = response
        return response
    }

    /** Compact JSON with content-type application/json; also the v2 `res.json(data, statusCode)`. */
    fun json(
        json: Map<String, Any?>,
        statusCode: Int = 200,
        headers: Map<String, String> = mapOf(),
    ): RuntimeResponse {
        val all = HashMap(headers)
        all["content-type"] = "application/json"
        val response = RuntimeResponse(Json.encode(json).toByteArray(Charsets.UTF_8), statusCode, all, json)
        last = response
        return response
    }

    fun empty(): RuntimeOutput = text("", 204)

    fun redirect(
        url: String,
        statusCode: Int = 301,
        headers: Map<String, String> = mapOf(),
    ): RuntimeOutput {
        val all = HashMap(headers)
        all["location"] = url
        return text("", statusCode, all)
    }
}
