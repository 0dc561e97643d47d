// Canonical test function (v2 API, as written for Appwrite 1.0-1.3); the action comes from
// req.headers["x-action"].
import Foundation

struct LegacyError: Error, CustomStringConvertible {
    let description: String
}

func main(req: RequestValue, res: RequestResponse) throws -> RequestResponse {
    switch req.headers["x-action"] ?? "" {
    case "payload":
        return res.send(req.payload)
    case "json":
        return res.json(data: ["ok": true, "payload": req.payload])
    case "variables":
        return res.json(data: req.variables)
    case "headers":
        return res.json(data: req.headers)
    case "status":
        return res.send("teapot", statusCode: 418)
    case "log":
        print("legacy log")
        return res.send("ok")
    case "throw":
        throw LegacyError(description: "Legacy error")
    default:
        throw LegacyError(description: "Unknown action")
    }
}
