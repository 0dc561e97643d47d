/*
  Appwrite 1.0-1.3 function API: two parameters.
    req.payload    the request body as a string ('' when empty)
    req.variables  the function's variables and APPWRITE_FUNCTION_* values
    req.headers    the request headers
    res.send(text, status = 200) and res.json(object, status = 200); the last call wins.
  Anything printed is the execution's log. A thrown error answers 500.
*/
// deno-lint-ignore no-explicit-any
export default async function (req: any, res: any) {
  if (req.payload === "ping") {
    return res.send("pong");
  }

  console.log(`Payload: ${req.payload}`);

  res.json({
    areDevelopersAwesome: true,
    payload: req.payload,
    functionId: req.variables["APPWRITE_FUNCTION_ID"] ?? "",
  });
}
