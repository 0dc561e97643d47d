package io.openruntimes.kotlin

/** A response value built by [RuntimeResponse]; only the one the function returns is sent. */
open class RuntimeOutput(
    val body: ByteArray,
    val statusCode: Int,
    val headers: Map<String, String>,
)
