package io.openruntimes.kotlin

import io.openruntimes.core.Logger

/** What a current-API function receives: the request, the response helpers and the logger. */
class RuntimeContext internal constructor(
    val req: RuntimeRequest,
    val res: RuntimeResponse,
    private val logger: Logger,
) {
    /** Arguments joined by a space; maps, lists and arrays as JSON. */
    fun log(vararg messages: Any?) = logger.message(false, messages)

    fun error(vararg messages: Any?) = logger.message(true, messages)
}
