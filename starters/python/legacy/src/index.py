"""
Appwrite 1.0-1.3 function API: two parameters.
  req.payload    the request body as a string ("" when empty)
  req.variables  the function's variables and APPWRITE_FUNCTION_* values
  req.headers    the request headers
  res.send(text, status=200) and res.json(obj, status=200); the last call wins.
Anything printed is the execution's log. An exception answers 500.
"""


def main(req, res):
    if req.payload == "ping":
        return res.send("pong")

    print("Payload: " + req.payload)

    return res.json({
        "areDevelopersAwesome": True,
        "payload": req.payload,
        "functionId": req.variables.get("APPWRITE_FUNCTION_ID", ""),
    })
