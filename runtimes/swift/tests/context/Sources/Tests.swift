// Canonical test function (current API): the actions of runtimes/README.md, chosen by x-action.
// Returns RuntimeOutput? so that "noResponse" can return nothing.
import Foundation

struct TestError: Error, CustomStringConvertible {
    let description: String
}

func main(context: RuntimeContext) async throws -> RuntimeOutput? {
    let req = context.req
    let res = context.res
    let action = req.headers["x-action"] ?? ""
    switch action {
    case "plaintextResponse":
        return res.text("Hello World 👋")
    case "jsonResponse":
        return try res.json(["json": true, "message": "Developers are awesome."])
    case "customCharsetResponse":
        return res.text("ÅÆ", headers: ["content-type": "text/plain; charset=iso-8859-1"])
    case "uppercaseCharsetResponse":
        return res.text("ÅÆ", headers: ["content-type": "TEXT/PLAIN"])
    case "multipartResponse":
        return res.text("--12345\nContent-Disposition: form-data; name=\"partOne\"\n\nWhy just have one part?\n--12345\nContent-Disposition: form-data; name=\"partTwo\"\n\nWhen you can have two!\n--12345--",
                        headers: ["content-type": "multipart/form-data; boundary=12345"])
    case "redirectResponse":
        return res.redirect("https://github.com/")
    case "emptyResponse":
        return res.empty()
    case "noResponse":
        _ = res.text("This should be ignored, as it is not returned.")
        return nil
    case "doubleResponse":
        _ = res.text("This should be ignored.")
        return res.text("This should be returned.")
    case "enforcedHeaders":
        return try res.json([
            "x-custom": req.headers["x-custom"],
            "x-custom-uppercase": req.headers["x-custom-uppercase"],
            "x-open-runtimes-custom": req.headers["x-open-runtimes-custom"],
        ])
    case "headersResponse":
        return res.text("OK", statusCode: 200, headers: [
            "first-header": "first-value",
            "second-header": req.headers["x-open-runtimes-custom-in-header"] ?? "missing",
            "cookie": req.headers["cookie"] ?? "missing",
            "x-open-runtimes-custom-out-header": "third-value",
        ])
    case "statusResponse":
        return res.text("FAIL", statusCode: 404)
    case "requestMethod":
        return res.text(req.method)
    case "requestUrl":
        return try res.json([
            "url": req.url, "port": req.port, "path": req.path, "query": req.query,
            "queryString": req.queryString, "scheme": req.scheme, "host": req.host,
        ])
    case "requestHeaders":
        return try res.json(req.headers)
    case "requestBodyText":
        return res.text(req.bodyText)
    case "requestBodyJson":
        guard (try? JSONSerialization.jsonObject(with: req.bodyBinary, options: .fragmentsAllowed)) != nil else {
            throw TestError(description: "Invalid json in request body")
        }
        return try res.json(req.bodyJson)
    case "requestBodyBinary":
        return res.binary(req.bodyBinary)
    case "requestBodyTextAuto":
        return res.text(req.body as! String)
    case "requestBodyJsonAuto":
        return try res.json(req.body as! [String: Any?])
    case "binaryResponse1", "binaryResponse2", "binaryResponse3", "binaryResponse4", "binaryResponse5":
        let n = UInt8(String(action.last!))! * 10
        return res.binary(Data([0, n, 255]))
    case "binaryResponseLarge":
        return res.send(md5Hex([UInt8](req.bodyBinary)), statusCode: 200, headers: ["x-method": req.method])
    case "envVars":
        return try res.json([
            "var": ProcessInfo.processInfo.environment["CUSTOM_ENV_VAR"],
            "emptyVar": ProcessInfo.processInfo.environment["NOT_DEFINED_VAR"],
        ])
    case "logs":
        print("Native log")
        context.log("Debug log")
        context.error("Error log")
        context.log("Log+With+Plus+Symbol")
        context.log(42)
        context.log(4.2)
        context.log(true)
        context.log(["objectKey": "objectValue"])
        context.log(["arrayValue"])
        context.log(String(repeating: "A", count: 9000))
        context.error(String(repeating: "B", count: 9000))
        return res.text("")
    case "timeout":
        context.log("Timeout start.")
        try await Task.sleep(nanoseconds: 3_000_000_000)
        context.log("Timeout end.")
        return res.text("Successful response.")
    case "deprecatedMethods":
        return res.send(req.bodyRaw)
    case "deprecatedMethodsUntypedBody":
        return res.send("50")
    case "spreadOperatorLogs":
        context.log("engine:", "open-runtimes")
        context.error("engine:", "open-runtimes")
        return res.text("OK")
    case "errorTest":
        context.log("Before error...")
        throw TestError(description: "Error!")
    case "largeResponse":
        let size = Int(req.headers["x-size"] ?? "") ?? 2_000_000
        return res.text(String(repeating: "A", count: size))
    case "floodLogs":
        let line = String(repeating: "x", count: 1023)
        for _ in 0..<(5 * 1024) { print(line) }
        return res.text("OK")
    case "exit":
        exit(1)
    case "hang":
        while true { sleep(3600) }
    default:
        throw TestError(description: "Unknown action")
    }
}

// RFC 1321, so the test function needs nothing beyond Foundation.
func md5Hex(_ input: [UInt8]) -> String {
    let k: [UInt32] = (0..<64).map { UInt32(truncatingIfNeeded: Int64(abs(sin(Double($0 + 1))) * 4_294_967_296.0)) }
    let r: [UInt32] = [7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
                       5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20,
                       4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
                       6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21]
    var message = input
    let bits = UInt64(input.count) * 8
    message.append(0x80)
    while message.count % 64 != 56 { message.append(0) }
    for i in 0..<8 { message.append(UInt8(truncatingIfNeeded: bits >> (8 * UInt64(i)))) }
    var h: [UInt32] = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476]
    for chunk in stride(from: 0, to: message.count, by: 64) {
        var w = [UInt32](repeating: 0, count: 16)
        for i in 0..<16 {
            let p = chunk + i * 4
            w[i] = UInt32(message[p]) | UInt32(message[p + 1]) << 8 | UInt32(message[p + 2]) << 16 | UInt32(message[p + 3]) << 24
        }
        var a = h[0], b = h[1], c = h[2], d = h[3]
        for i in 0..<64 {
            var f: UInt32
            var g: Int
            switch i {
            case 0..<16: f = (b & c) | (~b & d); g = i
            case 16..<32: f = (d & b) | (~d & c); g = (5 * i + 1) % 16
            case 32..<48: f = b ^ c ^ d; g = (3 * i + 5) % 16
            default: f = c ^ (b | ~d); g = (7 * i) % 16
            }
            let rotated = a &+ f &+ k[i] &+ w[g]
            a = d
            d = c
            c = b
            b = b &+ ((rotated << r[i]) | (rotated >> (32 - r[i])))
        }
        h = [h[0] &+ a, h[1] &+ b, h[2] &+ c, h[3] &+ d]
    }
    return h.map { word in (0..<4).map { String(format: "%02x", (word >> (8 * UInt32($0))) & 0xff) }.joined() }.joined()
}
