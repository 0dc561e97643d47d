namespace DotNetRuntime;

using System.Collections.Generic;
using System.Threading.Tasks;

public class Handler {
    // Runs once per execution. One parameter, the context: Req, Res, Log() and Error().
    public async Task<RuntimeOutput> Main(RuntimeContext Context)
    {
        // Log() and Error() end up in the execution's logs and errors; the caller never sees them.
        Context.Log("Starter function called on " + Context.Req.Path);
        Context.Error("Example error entry (from context.error)");

        if (Context.Req.Path == "/ping")
        {
            // A handler must return one of the Res helpers: Text(), Json(), Binary(), Redirect(), Empty().
            return Context.Res.Text("Pong");
        }

        await Task.CompletedTask;
        return Context.Res.Json(new Dictionary<string, object?>()
        {
            { "motto", "Build like a team of hundreds_" },
            { "learn", "https://appwrite.io/docs" },
            { "connect", "https://appwrite.io/discord" },
            { "getInspired", "https://builtwith.appwrite.io" },
        });
    }
}
