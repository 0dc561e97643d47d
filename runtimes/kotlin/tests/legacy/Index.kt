// Canonical test function for the legacy (Appwrite 1.0-1.3) API, written the way v2 Kotlin
// functions were: a top-level `main(req, res)` in a file without a package header.

fun main(req: RuntimeRequest, res: RuntimeResponse): RuntimeResponse {
    return when (req.headers["x-action"] ?: "") {
        "payload" -> res.send(req.payload)
        "json" -> res.json(mapOf("ok" to true, "payload" to req.payload))
        "variables" -> res.json(req.variables)
        "headers" -> res.json(req.headers)
        "status" -> res.send("teapot", 418)
        "log" -> {
            println("legacy log")
            res.send("ok")
        }
        "throw" -> throw Exception("Legacy error")
        else -> throw Exception("Unknown action")
    }
}
