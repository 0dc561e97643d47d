# Canonical test function for the legacy (Appwrite 1.0-1.3) API: main(req, res).


def main(req, res):
    action = req.headers.get("x-action", "")

    if action == "payload":
        return res.send(req.payload)
    if action == "json":
        return res.json({"ok": True, "payload": req.payload})
    if action == "variables":
        return res.json(req.variables)
    if action == "headers":
        return res.json(req.headers)
    if action == "status":
        return res.send("teapot", 418)
    if action == "log":
        print("legacy log")
        return res.send("ok")
    if action == "throw":
        raise Exception("Legacy error")

    raise Exception("Unknown action")
