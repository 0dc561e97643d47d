# Canonical test function (current API): one action per `x-action` header, see runtimes/README.md.
import asyncio
import hashlib
import os


async def main(context):
    action = context.req.headers.get("x-action", "")
    res = context.res

    if action == "plaintextResponse":
        return res.text("Hello World 👋")
    if action == "jsonResponse":
        return res.json({"json": True, "message": "Developers are awesome."})
    if action == "customCharsetResponse":
        return res.text("ÅÆ", 200, {"content-type": "text/plain; charset=iso-8859-1"})
    if action == "uppercaseCharsetResponse":
        return res.text("ÅÆ", 200, {"content-type": "TEXT/PLAIN"})
    if action == "multipartResponse":
        return res.text(
            "--12345\n"
            'Content-Disposition: form-data; name="partOne"\n\n'
            "Why just have one part?\n"
            "--12345\n"
            'Content-Disposition: form-data; name="partTwo"\n\n'
            "When you can have two!\n"
            "--12345--",
            200,
            {"content-type": "multipart/form-data; boundary=12345"},
        )
    if action == "redirectResponse":
        return res.redirect("https://github.com/")
    if action == "emptyResponse":
        return res.empty()
    if action == "noResponse":
        res.text("This should be ignored, as it is not returned.")
        return None
    if action == "doubleResponse":
        res.text("This should be ignored.")
        return res.text("This should be returned.")
    if action == "enforcedHeaders":
        h = context.req.headers
        return res.json({
            "x-custom": h.get("x-custom"),
            "x-custom-uppercase": h.get("x-custom-uppercase"),
            "x-open-runtimes-custom": h.get("x-open-runtimes-custom"),
        })
    if action == "headersResponse":
        h = context.req.headers
        return res.text("OK", 200, {
            "first-header": "first-value",
            "second-header": h.get("x-open-runtimes-custom-in-header", "missing"),
            "cookie": h.get("cookie", "missing"),
            "x-open-runtimes-custom-out-header": "third-value",
        })
    if action == "statusResponse":
        return res.text("FAIL", 404)
    if action == "requestMethod":
        return res.text(context.req.method)
    if action == "requestUrl":
        req = context.req
        return res.json({
            "url": req.url,
            "port": req.port,
            "path": req.path,
            "query": req.query,
            "queryString": req.query_string,
            "scheme": req.scheme,
            "host": req.host,
        })
    if action == "requestHeaders":
        return res.json(context.req.headers)
    if action == "requestBodyText":
        return res.text(context.req.body_text)
    if action == "requestBodyJson":
        return res.json(context.req.body_json)
    if action == "requestBodyBinary":
        return res.binary(context.req.body_binary)
    if action == "requestBodyTextAuto":
        return res.text(context.req.body)
    if action == "requestBodyJsonAuto":
        return res.json(context.req.body)
    if action.startswith("binaryResponse") and action[len("binaryResponse"):] in ("1", "2", "3", "4", "5"):
        return res.binary(bytes([0, int(action[-1]) * 10, 255]))
    if action == "binaryResponseLarge":
        digest = hashlib.md5(context.req.body_binary).hexdigest()
        return res.text(digest, 200, {"x-method": context.req.method})
    if action == "envVars":
        return res.json({
            "var": os.environ.get("CUSTOM_ENV_VAR"),
            "emptyVar": os.environ.get("NOT_DEFINED_VAR"),
        })
    if action == "logs":
        print("Native log")
        context.log("Debug log")
        context.error("Error log")
        context.log("Log+With+Plus+Symbol")
        context.log(42)
        context.log(4.2)
        context.log(True)
        context.log({"objectKey": "objectValue"})
        context.log(["arrayValue"])
        context.log("A" * 9000)
        context.error("B" * 9000)
        return res.text("")
    if action == "timeout":
        context.log("Timeout start.")
        await asyncio.sleep(3)
        context.log("Timeout end.")
        return res.text("Successful response.")
    if action == "deprecatedMethods":
        return res.send(context.req.body_raw)
    if action == "deprecatedMethodsUntypedBody":
        return res.send(50)
    if action == "spreadOperatorLogs":
        context.log("engine:", "open-runtimes")
        context.error("engine:", "open-runtimes")
        return res.text("OK")
    if action == "errorTest":
        context.log("Before error...")
        raise Exception("Error!")
    # The emulator's own actions.
    if action == "largeResponse":
        size = int(context.req.headers.get("x-size", "2000000"))
        return res.text("A" * size)
    if action == "floodLogs":
        chunk = "F" * 1023
        for _ in range(5 * 1024):
            print(chunk)
        return res.text("OK")
    if action == "exit":
        os._exit(1)
    if action == "hang":
        while True:
            await asyncio.sleep(3600)

    raise Exception("Unknown action")
