/*
  Appwrite 1.0-1.3 function API: a bare Main(req, res) method, no class around it (the build adds it).
    req.Payload    the request body as a string ("" when empty)
    req.Variables  the function's variables and APPWRITE_FUNCTION_* values
    req.Headers    the request headers
    res.Send(text[, status]) and res.Json(dictionary[, status]); the last call wins.
  Anything written to the console is the execution's log. A thrown exception answers 500.
*/
using System;
using System.Collections.Generic;
using System.Threading.Tasks;

public async Task<RuntimeResponse> Main(RuntimeRequest req, RuntimeResponse res)
{
    if (req.Payload == "ping")
    {
        return res.Send("pong");
    }

    Console.WriteLine("Payload: " + req.Payload);

    await Task.CompletedTask;
    return res.Json(new Dictionary<string, object>()
    {
        { "areDevelopersAwesome", true },
        { "payload", req.Payload },
        { "functionId", req.Variables.TryGetValue("APPWRITE_FUNCTION_ID", out var id) ? id : "" },
    });
}
