import Foundation

/*
  Appwrite 1.0-1.3 function API: main(req:res:).
    req.payload    the request body as a String ("" when empty)
    req.variables  the function's variables and APPWRITE_FUNCTION_* values
    req.headers    the request headers
    res.send(text[, statusCode:]) and res.json(data:[, statusCode:]); the last call wins.
  Anything printed is the execution's log. A thrown error answers 500.
*/
func main(req: RequestValue, res: RequestResponse) -> RequestResponse {
    if req.payload == "ping" {
        return res.send("pong")
    }

    print("Payload: " + req.payload)

    return res.json(data: [
        "areDevelopersAwesome": true,
        "payload": req.payload,
        "functionId": req.variables["APPWRITE_FUNCTION_ID"] ?? "",
    ])
}
