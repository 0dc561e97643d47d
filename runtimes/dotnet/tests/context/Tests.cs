// Canonical test function (current API): the actions of runtimes/README.md, chosen by x-action.
using System.Security.Cryptography;
using System.Text;

namespace DotNetRuntime
{
    public class Handler
    {
        public async Task<RuntimeOutput?> Main(RuntimeContext Context)
        {
            var req = Context.Req;
            var res = Context.Res;
            var action = req.Headers.TryGetValue("x-action", out var value) ? value : "";
            switch (action)
            {
                case "plaintextResponse":
                    return res.Text("Hello World 👋");
                case "jsonResponse":
                    return res.Json(new Dictionary<string, object?> { ["json"] = true, ["message"] = "Developers are awesome." });
                case "customCharsetResponse":
                    return res.Text("ÅÆ", 200, new Dictionary<string, string> { ["content-type"] = "text/plain; charset=iso-8859-1" });
                case "uppercaseCharsetResponse":
                    return res.Text("ÅÆ", 200, new Dictionary<string, string> { ["content-type"] = "TEXT/PLAIN" });
                case "multipartResponse":
                    return res.Text("--12345\nContent-Disposition: form-data; name=\"partOne\"\n\nWhy just have one part?\n--12345\nContent-Disposition: form-data; name=\"partTwo\"\n\nWhen you can have two!\n--12345--",
                        200, new Dictionary<string, string> { ["content-type"] = "multipart/form-data; boundary=12345" });
                case "redirectResponse":
                    return res.Redirect("https://github.com/");
                case "emptyResponse":
                    return res.Empty();
                case "noResponse":
                    res.Text("This should be ignored, as it is not returned.");
                    return null;
                case "doubleResponse":
                    res.Text("This should be ignored.");
                    return res.Text("This should be returned.");
                case "enforcedHeaders":
                    return res.Json(new Dictionary<string, object?>
                    {
                        ["x-custom"] = req.Headers.GetValueOrDefault("x-custom"),
                        ["x-custom-uppercase"] = req.Headers.GetValueOrDefault("x-custom-uppercase"),
                        ["x-open-runtimes-custom"] = req.Headers.GetValueOrDefault("x-open-runtimes-custom"),
                    });
                case "headersResponse":
                    return res.Text("OK", 200, new Dictionary<string, string>
                    {
                        ["first-header"] = "first-value",
                        ["second-header"] = req.Headers.GetValueOrDefault("x-open-runtimes-custom-in-header") ?? "missing",
                        ["cookie"] = req.Headers.GetValueOrDefault("cookie") ?? "missing",
                        ["x-open-runtimes-custom-out-header"] = "third-value",
                    });
                case "statusResponse":
                    return res.Text("FAIL", 404);
                case "requestMethod":
                    return res.Text(req.Method);
                case "requestUrl":
                    return res.Json(new Dictionary<string, object?>
                    {
                        ["url"] = req.Url,
                        ["port"] = req.Port,
                        ["path"] = req.Path,
                        ["query"] = req.Query,
                        ["queryString"] = req.QueryString,
                        ["scheme"] = req.Scheme,
                        ["host"] = req.Host,
                    });
                case "requestHeaders":
                    return res.Json(req.Headers);
                case "requestBodyText":
                    return res.Text(req.BodyText);
                case "requestBodyJson":
                    return res.Json(req.BodyJson);
                case "requestBodyBinary":
                    return res.Binary(req.BodyBinary);
                case "requestBodyTextAuto":
                    return res.Text((string)req.Body);
                case "requestBodyJsonAuto":
                    return res.Json(req.Body);
                case "binaryResponse1":
                case "binaryResponse2":
                case "binaryResponse3":
                case "binaryResponse5":
                case "binaryResponse4":
                    return res.Binary(new byte[] { 0, (byte)((action[^1] - '0') * 10), 255 });
                case "binaryResponseLarge":
                    var hash = Convert.ToHexString(MD5.HashData(req.BodyBinary)).ToLowerInvariant();
                    return res.Send(hash, 200, new Dictionary<string, string> { ["x-method"] = req.Method });
                case "envVars":
                    return res.Json(new Dictionary<string, object?>
                    {
                        ["var"] = Environment.GetEnvironmentVariable("CUSTOM_ENV_VAR"),
                        ["emptyVar"] = Environment.GetEnvironmentVariable("NOT_DEFINED_VAR"),
                    });
                case "logs":
                    Console.WriteLine("Native log");
                    Context.Log("Debug log");
                    Context.Error("Error log");
                    Context.Log("Log+With+Plus+Symbol");
                    Context.Log(42);
                    Context.Log(4.2);
                    Context.Log(true);
                    Context.Log(new Dictionary<string, object?> { ["objectKey"] = "objectValue" });
                    Context.Log(new List<string> { "arrayValue" });
                    Context.Log(new string('A', 9000));
                    Context.Error(new string('B', 9000));
                    return res.Text("");
                case "timeout":
                    Context.Log("Timeout start.");
                    await Task.Delay(3000);
                    Context.Log("Timeout end.");
                    return res.Text("Successful response.");
                case "deprecatedMethods":
                    return res.Send(req.BodyRaw);
                case "deprecatedMethodsUntypedBody":
                    return res.Send("50");
                case "spreadOperatorLogs":
                    Context.Log("engine:", "open-runtimes");
                    Context.Error("engine:", "open-runtimes");
                    return res.Text("OK");
                case "errorTest":
                    Context.Log("Before error...");
                    throw new Exception("Error!");
                case "largeResponse":
                    var size = int.Parse(req.Headers.GetValueOrDefault("x-size") ?? "2000000");
                    return res.Text(new string('A', size));
                case "floodLogs":
                    var line = new string('x', 1023);
                    for (var i = 0; i < 5 * 1024; i++) Console.WriteLine(line);
                    return res.Text("OK");
                case "exit":
                    Environment.Exit(1);
                    return null;
                case "hang":
                    await Task.Delay(Timeout.Infinite);
                    return null;
            }
            throw new Exception("Unknown action");
        }
    }
}
