// Canonical test function (v2 API, as written for Appwrite 1.0-1.3): a method without a class that
// the build wraps in Handler; the action comes from req.Headers["x-action"].
using System.Collections.Generic;
using System.Threading.Tasks;

public async Task<RuntimeResponse> Main(RuntimeRequest req, RuntimeResponse res)
{
    var action = req.Headers.TryGetValue("x-action", out var value) ? value : "";
    await Task.Yield();
    switch (action)
    {
        case "payload":
            return res.Send(req.Payload);
        case "json":
            return res.Json(new Dictionary<string, object?> { ["ok"] = true, ["payload"] = req.Payload });
        case "variables":
            return res.Json(req.Variables);
        case "headers":
            return res.Json(req.Headers);
        case "status":
            return res.Send("teapot", 418);
        case "log":
            System.Console.WriteLine("legacy log");
            return res.Send("ok");
        case "throw":
            throw new System.Exception("Legacy error");
    }
    throw new System.Exception("Unknown action");
}
