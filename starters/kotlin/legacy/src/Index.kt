/*
  Appwrite 1.0-1.3 function API: a top-level main(req, res) in a file without a package header.
    req.payload    the request body as a String ("" when empty)
    req.variables  the function's variables and APPWRITE_FUNCTION_* values
    req.headers    the request headers
    res.send(text[, status]) and res.json(map[, status]); the last call wins.
  Anything printed is the execution's log. A thrown exception answers 500.
*/

fun main(req: RuntimeRequest, res: RuntimeResponse): RuntimeResponse {
    if (req.payload == "ping") {
        return res.send("pong")
    }

    println("Payload: " + req.payload)

    return res.json(
        mapOf(
            "areDevelopersAwesome" to true,
            "payload" to req.payload,
            "functionId" to (req.variables["APPWRITE_FUNCTION_ID"] ?: ""),
        ),
    )
}
