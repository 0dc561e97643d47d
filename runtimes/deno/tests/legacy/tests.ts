// Canonical test function for the legacy (Appwrite 1.0–1.3) API: two parameters, `req` and `res`.
// deno-lint-ignore no-explicit-any require-await
export default async function (req: any, res: any) {
  const action = req.headers["x-action"];

  switch (action) {
    case "payload":
      return res.send(req.payload);
    case "json":
      return res.json({ ok: true, payload: req.payload });
    case "variables":
      return res.json(req.variables);
    case "headers":
      return res.json(req.headers);
    case "status":
      return res.send("teapot", 418);
    case "log":
      console.log("legacy log");
      return res.send("ok");
    case "throw":
      throw new Error("legacy error");
    default:
      throw new Error("Unknown action");
  }
}
