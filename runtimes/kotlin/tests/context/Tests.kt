package io.openruntimes.kotlin

// Canonical test function (current context API), selected by the `x-action` request header.
// Same actions in every language: see runtimes/README.md. Official test layout: Tests.kt at the
// root is class io.openruntimes.kotlin.Tests, and its main may suspend.

import java.security.MessageDigest
import kotlin.system.exitProcess

class Tests {
    suspend fun main(context: RuntimeContext): RuntimeOutput? {
        val req = context.req
        val res = context.res
        when (req.headers["x-action"] ?: "") {
            "plaintextResponse" -> return res.text("Hello World 👋")
            "jsonResponse" -> return res.json(mapOf("json" to true, "message" to "Developers are awesome."))
            "customCharsetResponse" ->
                return res.text("ÅÆ", 200, mapOf("content-type" to "text/plain; charset=iso-8859-1"))
            "uppercaseCharsetResponse" -> return res.text("ÅÆ", 200, mapOf("content-type" to "TEXT/PLAIN"))
            "multipartResponse" -> return res.text(
                """
                |--12345
                |Content-Disposition: form-data; name="partOne"
                |
                |Why just have one part?
                |--12345
                |Content-Disposition: form-data; name="partTwo"
                |
                |When you can have two!
                |--12345--
                """.trimMargin(),
                200,
                mapOf("content-type" to "multipart/form-data; boundary=12345"),
            )
            "redirectResponse" -> return res.redirect("https://github.com/")
            "emptyResponse" -> return res.empty()
            "noResponse" -> {
                res.text("This should be ignored, as it is not returned.")
                return null
            }
            "doubleResponse" -> {
                res.text("This should be ignored.")
                return res.text("This should be returned.")
            }
            "enforcedHeaders" -> return res.json(
                mapOf(
                    "x-custom" to req.headers["x-custom"],
                    "x-custom-uppercase" to req.headers["x-custom-uppercase"],
                    "x-open-runtimes-custom" to req.headers["x-open-runtimes-custom"],
                ),
            )
            "headersResponse" -> return res.text(
                "OK",
                200,
                mapOf(
                    "first-header" to "first-value",
                    "second-header" to (req.headers["x-open-runtimes-custom-in-header"] ?: "missing"),
                    "cookie" to (req.headers["cookie"] ?: "missing"),
                    "x-open-runtimes-custom-out-header" to "third-value",
                ),
            )
            "statusResponse" -> return res.text("FAIL", 404)
            "requestMethod" -> return res.text(req.method)
            "requestUrl" -> return res.json(
                mapOf(
                    "url" to req.url,
                    "port" to req.port,
                    "path" to req.path,
                    "query" to req.query,
                    "queryString" to req.queryString,
                    "scheme" to req.scheme,
                    "host" to req.host,
                ),
            )
            "requestHeaders" -> return res.json(req.headers)
            "requestBodyText" -> return res.text(req.bodyText)
            "requestBodyJson" -> return res.json(req.bodyJson)
            "requestBodyBinary" -> return res.binary(req.bodyBinary)
            "requestBodyTextAuto" -> return res.text(req.body as String)
            "requestBodyJsonAuto" -> {
                @Suppress("UNCHECKED_CAST")
                return res.json(req.body as Map<String, Any?>)
            }
            "binaryResponse1" -> return res.binary(byteArrayOf(0, 10, 255.toByte()))
            "binaryResponse2" -> return res.binary(arrayOf<Byte>(0, 20, 255.toByte()).toByteArray())
            "binaryResponse3" -> return res.binary(byteArrayOf(0, 30, 255.toByte()))
            "binaryResponse4" -> return res.binary(byteArrayOf(0, 40, 255.toByte()))
            "binaryResponse5" -> return res.binary(byteArrayOf(0, 50, 255.toByte()))
            "binaryResponseLarge" -> {
                val hex = MessageDigest.getInstance("MD5").digest(req.bodyBinary).joinToString("") { "%02x".format(it) }
                return res.text(hex, 200, mapOf("x-method" to req.method))
            }
            "envVars" -> return res.json(
                mapOf("var" to System.getenv("CUSTOM_ENV_VAR"), "emptyVar" to System.getenv("NOT_DEFINED_VAR")),
            )
            "logs" -> {
                println("Native log")
                context.log("Debug log")
                context.error("Error log")
                context.log("Log+With+Plus+Symbol")
                context.log(42)
                context.log(4.2)
                context.log(true)
                context.log(mutableMapOf("objectKey" to "objectValue"))
                context.log(mutableListOf("arrayValue"))
                context.log("A".repeat(9000))
                context.error("B".repeat(9000))
                return res.text("")
            }
            "timeout" -> {
                context.log("Timeout start.")
                // a real suspension (kotlinx.coroutines is bundled, as in the official runtime)
                kotlinx.coroutines.delay(3000)
                context.log("Timeout end.")
                return res.text("Successful response.")
            }
            "deprecatedMethods" -> return res.send(req.bodyRaw)
            "deprecatedMethodsUntypedBody" -> return res.send(50.toString())
            "spreadOperatorLogs" -> {
                context.log("engine:", "open-runtimes")
                context.error("engine:", "open-runtimes")
                return res.text("OK")
            }
            "errorTest" -> {
                context.log("Before error...")
                throw Exception("Error!")
            }
            "largeResponse" -> return res.text("x".repeat((req.headers["x-size"] ?: "2000000").toInt()))
            "floodLogs" -> {
                println("x".repeat(5 * 1024 * 1024))
                return res.text("OK")
            }
            "exit" -> exitProcess(1)
            "hang" -> {
                Thread.sleep(Long.MAX_VALUE)
                return null
            }
            else -> throw Exception("Unknown action")
        }
    }
}
