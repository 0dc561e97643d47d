// .NET adapter: an HTTP server (plain sockets, no Kestrel) that speaks the open-runtimes executor
// contract (runtimes/README.md) and calls `DotNetRuntime.Handler.Main`. Compiled with the user's
// .cs files into one program by emulator/languages/dotnet.py. Which API the function uses is found by
// reflection: Main(RuntimeContext) is the current API, Main(RuntimeRequest, RuntimeResponse) the
// Appwrite 1.0-1.3 one.
using System.Net;
using System.Net.Sockets;
using System.Reflection;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace DotNetRuntime
{
    // ------------------------------------------------------------ config

    static class Config
    {
        public static readonly string Host = Env("OPEN_RUNTIMES_HOST", "0.0.0.0");
        public static readonly int Port = int.TryParse(Env("OPEN_RUNTIMES_PORT", "3000"), out var port) ? port : 3000;
        public static readonly string LogsDir = Env("OPEN_RUNTIMES_LOGS_DIR", "/mnt/logs");
        public static readonly string Secret = Env("OPEN_RUNTIMES_SECRET", "");
        public static readonly bool Development = Env("OPEN_RUNTIMES_ENV", "production") == "development";
        public static readonly string? V2Key = Environment.GetEnvironmentVariable("INTERNAL_RUNTIME_KEY");
        public static readonly string Entrypoint = Environment.GetEnvironmentVariable(V2Key != null ? "INTERNAL_RUNTIME_ENTRYPOINT" : "OPEN_RUNTIMES_ENTRYPOINT") ?? "Index.cs";
        public static readonly Dictionary<string, string> EnforcedHeaders = ParseHeaders(Env("OPEN_RUNTIMES_HEADERS", "{}"));

        public const int MaxBody = 20 * 1024 * 1024;
        public const int MaxLogChars = 8000;
        public const string NativeNotice = "Native logs detected. Use context.log() or context.error() for better experience.";
        public const string TimeoutHeaderError = "Header \"x-open-runtimes-timeout\" must be an integer greater than 0.";
        public const string Unauthorized = "Unauthorized. Provide correct \"x-open-runtimes-secret\" header.";
        public const string NoReturn = "Return statement missing. return context.res.empty() if no response is expected.";

        public static readonly JsonSerializerOptions Json = new JsonSerializerOptions
        {
            Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        };

        static string Env(string name, string fallback) => Environment.GetEnvironmentVariable(name) ?? fallback;

        static Dictionary<string, string> ParseHeaders(string raw)
        {
            var headers = new Dictionary<string, string>();
            try
            {
                using var doc = JsonDocument.Parse(string.IsNullOrWhiteSpace(raw) ? "{}" : raw);
                if (doc.RootElement.ValueKind != JsonValueKind.Object) return headers;
                foreach (var property in doc.RootElement.EnumerateObject())
                {
                    headers[property.Name.ToLowerInvariant()] = property.Value.ValueKind == JsonValueKind.String
                        ? property.Value.GetString() ?? ""
                        : property.Value.GetRawText();
                }
            }
            catch (JsonException)
            {
            }
            return headers;
        }
    }

    // ------------------------------------------------------------ logging

    public class RuntimeLogger
    {
        readonly bool enabled;
        readonly string? logsPath;
        readonly string? errorsPath;
        readonly object gate = new object();
        bool noticeWritten;
        public string Id { get; }
        public bool Closed { get; set; }
        // v2 wire: lines collected for the JSON reply instead of files.
        public StringBuilder? Stdout { get; }
        public StringBuilder? Stderr { get; }

        public RuntimeLogger(bool enabled, string id, bool collect = false)
        {
            this.enabled = enabled || collect;
            Id = enabled ? id : "";
            if (collect)
            {
                Stdout = new StringBuilder();
                Stderr = new StringBuilder();
            }
            else if (enabled)
            {
                logsPath = System.IO.Path.Combine(Config.LogsDir, Id + "_logs.log");
                errorsPath = System.IO.Path.Combine(Config.LogsDir, Id + "_errors.log");
                File.AppendAllText(logsPath, "");
                File.AppendAllText(errorsPath, "");
            }
        }

        public static string Stringify(object? value)
        {
            if (value == null) return "null";
            if (value is string text) return text;
            if (value is bool flag) return flag ? "true" : "false";
            if (value is System.Collections.IEnumerable || value is JsonElement || !value.GetType().IsPrimitive)
            {
                try
                {
                    return JsonSerializer.Serialize(value, Config.Json);
                }
                catch (Exception)
                {
                }
            }
            return Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture) ?? "";
        }

        static string Truncate(string message)
        {
            var info = new System.Globalization.StringInfo(message);
            if (info.LengthInTextElements <= Config.MaxLogChars) return message;
            return info.SubstringByTextElements(0, Config.MaxLogChars) + "... Log truncated due to size limit (" + Config.MaxLogChars + " characters)";
        }

        public void Write(bool isError, params object?[] values)
        {
            Append(isError, Truncate(string.Join(" ", values.Select(Stringify))) + "\n");
        }

        // Console output of the call (see NativeWriter).
        public void Native(string text)
        {
            if (text.Length == 0) return;
            lock (gate)
            {
                // v2-era functions log with Console only: no notice for them.
                if (!noticeWritten && Stdout == null && !Loader.Legacy)
                {
                    noticeWritten = true;
                    Append(false, Config.NativeNotice + "\n");
                }
            }
            Append(false, text);
        }

        void Append(bool isError, string text)
        {
            lock (gate)
            {
                // Once the call has been answered (e.g. timed out) what it writes later is dropped.
                if (!enabled || Closed) return;
                if (Stdout != null)
                {
                    (isError ? Stderr! : Stdout).Append(text);
                    return;
                }
                File.AppendAllText(isError ? errorsPath! : logsPath!, text);
            }
        }

        public static string GenerateId()
        {
            // uniqid()-like: 8 hex of seconds + 5 hex of microseconds + 7 random hex.
            long micros = (DateTime.UtcNow.Ticks - DateTime.UnixEpoch.Ticks) / 10;
            return (micros / 1000000).ToString("x8") + (micros % 1000000).ToString("x5") + Random.Shared.Next(0x10000000).ToString("x7");
        }
    }

    // Console.Out/Console.Error stand-in: output of a running call goes to that call's logs (found
    // through the async flow, so concurrent calls never mix), anything else to the real console.
    class NativeWriter : TextWriter
    {
        public static readonly AsyncLocal<RuntimeLogger?> Current = new AsyncLocal<RuntimeLogger?>();
        readonly TextWriter real;
        readonly bool isError;

        public NativeWriter(TextWriter real, bool isError)
        {
            this.real = real;
            this.isError = isError;
        }

        public override Encoding Encoding => Encoding.UTF8;

        public override void Write(char value) => Write(value.ToString());

        public override void Write(string? value)
        {
            var logger = Current.Value;
            if (logger == null)
            {
                real.Write(value);
                real.Flush();
            }
            else if (logger.Stdout != null && isError)
            {
                logger.Write(true, (value ?? "").TrimEnd('\n'));
            }
            else
            {
                logger.Native(value ?? "");
            }
        }

        public override void WriteLine(string? value) => Write((value ?? "") + "\n");
    }

    // ------------------------------------------------------------ request / context

    public class RuntimeRequest
    {
        public string Method { get; }
        public string Scheme { get; }
        public string Host { get; }
        public int Port { get; }
        public string Path { get; }
        public Dictionary<string, string> Query { get; }
        public string QueryString { get; }
        public string Url { get; }
        public Dictionary<string, string> Headers { get; }
        public byte[] BodyBinary { get; }
        public string BodyText => Encoding.UTF8.GetString(BodyBinary);
        public string BodyRaw => BodyText;
        public Dictionary<string, object?> BodyJson =>
            JsonSerializer.Deserialize<Dictionary<string, object?>>(BodyText) ?? new Dictionary<string, object?>();

        public object Body
        {
            get
            {
                var contentType = Headers.TryGetValue("content-type", out var value) ? value.ToLowerInvariant() : "text/plain";
                if (contentType.StartsWith("application/json"))
                {
                    return BodyBinary.Length == 0 ? new Dictionary<string, object?>() : BodyJson;
                }
                return BodyText;
            }
        }

        // v2 API (Appwrite 1.0-1.3).
        public string Payload => BodyText;
        public Dictionary<string, string> Variables { get; }

        public RuntimeRequest(string method, string scheme, string host, int port, string path,
            Dictionary<string, string> query, string queryString, string url,
            Dictionary<string, string> headers, byte[] bodyBinary, Dictionary<string, string> variables)
        {
            Method = method;
            Scheme = scheme;
            Host = host;
            Port = port;
            Path = path;
            Query = query;
            QueryString = queryString;
            Url = url;
            Headers = headers;
            BodyBinary = bodyBinary;
            Variables = variables;
        }
    }

    public class RuntimeOutput
    {
        public byte[] Body { get; set; }
        public int StatusCode { get; set; }
        public Dictionary<string, string> Headers { get; set; }
        internal RuntimeResponse? Origin { get; set; }

        public RuntimeOutput(byte[] body, int statusCode, Dictionary<string, string> headers)
        {
            Body = body;
            StatusCode = statusCode;
            Headers = headers;
        }

        // Lets v2 code (`Task<RuntimeResponse> Main(...)`) keep writing `return res.Json(...);`.
        public static implicit operator RuntimeResponse(RuntimeOutput output) => output.Origin ?? new RuntimeResponse();
    }

    // Shared by both APIs: helpers return a RuntimeOutput (only the returned one counts) and also
    // remember the last call, which is a v2 handler's response ("the last call wins").
    public class RuntimeResponse
    {
        internal RuntimeOutput? Last { get; private set; }
        internal object? LastJson { get; private set; }

        public RuntimeOutput Binary(byte[] bytes, int statusCode = 200, Dictionary<string, string>? headers = null)
        {
            var output = new RuntimeOutput(bytes, statusCode, headers ?? new Dictionary<string, string>()) { Origin = this };
            Last = output;
            LastJson = null;
            return output;
        }

        public RuntimeOutput Text(string body, int statusCode = 200, Dictionary<string, string>? headers = null) =>
            Binary(Encoding.UTF8.GetBytes(body), statusCode, headers);

        public RuntimeOutput Send(string body, int statusCode = 200, Dictionary<string, string>? headers = null) =>
            Text(body, statusCode, headers);

        public RuntimeOutput Json(object? json, int statusCode = 200, Dictionary<string, string>? headers = null)
        {
            var merged = new Dictionary<string, string>(headers ?? new Dictionary<string, string>()) { ["content-type"] = "application/json" };
            var output = Text(JsonSerializer.Serialize(json, Config.Json), statusCode, merged);
            LastJson = json ?? new Dictionary<string, object?>();
            return output;
        }

        public RuntimeOutput Empty() => Text("", 204);

        public RuntimeOutput Redirect(string url, int statusCode = 301, Dictionary<string, string>? headers = null)
        {
            var merged = new Dictionary<string, string>(headers ?? new Dictionary<string, string>()) { ["location"] = url };
            return Text("", statusCode, merged);
        }
    }

    public class RuntimeContext
    {
        public RuntimeRequest Req { get; }
        public RuntimeResponse Res { get; }
        public RuntimeLogger Logger { get; }

        public RuntimeContext(RuntimeRequest req, RuntimeResponse res, RuntimeLogger logger)
        {
            Req = req;
            Res = res;
            Logger = logger;
        }

        public void Log(params object?[] messages) => Logger.Write(false, messages);

        public void Error(params object?[] messages) => Logger.Write(true, messages);
    }

    class HttpRequestData
    {
        public string Method = "GET";
        public string Target = "/";
        public List<KeyValuePair<string, string>> Headers = new List<KeyValuePair<string, string>>();
        public byte[] Body = Array.Empty<byte>();

        public string Header(string name) => Headers.Where(h => h.Key == name).Select(h => h.Value).FirstOrDefault() ?? "";
    }

    static class RequestBuilder
    {
        public static Dictionary<string, string> FunctionHeaders(IEnumerable<KeyValuePair<string, string>> incoming)
        {
            var headers = new Dictionary<string, string>();
            foreach (var (key, value) in incoming)
            {
                if (key.StartsWith("x-open-runtimes-")) continue;
                headers[key] = headers.TryGetValue(key, out var previous) ? previous + (key == "cookie" ? "; " : ", ") + value : value;
            }
            foreach (var (key, value) in Config.EnforcedHeaders) headers[key] = value;
            return headers;
        }

        public static Dictionary<string, string> Environment()
        {
            var variables = new Dictionary<string, string>();
            foreach (System.Collections.DictionaryEntry entry in System.Environment.GetEnvironmentVariables())
            {
                variables[(string)entry.Key] = (string?)entry.Value ?? "";
            }
            return variables;
        }

        // v2-era per-execution variables come from the request: a warm process's environment
        // cannot change per call (runtimes/README.md).
        public static void AddExecutionVariables(RuntimeRequest request)
        {
            string Header(string name) => request.Headers.TryGetValue(name, out var value) ? value : "";
            var v = request.Variables;
            v["APPWRITE_FUNCTION_TRIGGER"] = Header("x-appwrite-trigger");
            v["APPWRITE_FUNCTION_EVENT"] = Header("x-appwrite-event");
            v["APPWRITE_FUNCTION_EVENT_DATA"] = Header("x-appwrite-event").Length > 0 ? request.BodyText : "";
            v["APPWRITE_FUNCTION_DATA"] = request.BodyText;
            v["APPWRITE_FUNCTION_USER_ID"] = Header("x-appwrite-user-id");
            v["APPWRITE_FUNCTION_JWT"] = Header("x-appwrite-user-jwt");
        }

        public static RuntimeRequest Build(HttpRequestData http, Dictionary<string, string> variables)
        {
            var headers = FunctionHeaders(http.Headers);
            var target = http.Target.Split('#')[0];
            var question = target.IndexOf('?');
            var path = question < 0 ? target : target.Substring(0, question);
            var queryString = question < 0 ? "" : target.Substring(question + 1);
            var query = new Dictionary<string, string>();
            foreach (var param in queryString.Split('&'))
            {
                var eq = param.IndexOf('=');
                var key = eq < 0 ? param : param.Substring(0, eq);
                if (key.Length == 0) continue;
                query[key] = eq < 0 ? "" : param.Substring(eq + 1);
            }
            var proto = http.Header("x-forwarded-proto");
            var scheme = proto.Length > 0 ? proto : "http";
            var defaultPort = scheme == "https" ? 443 : 80;
            var host = http.Header("host");
            var port = defaultPort;
            var colon = host.LastIndexOf(':');
            if (colon >= 0 && !host.Substring(colon).Contains(']'))
            {
                port = int.TryParse(host.Substring(colon + 1), out var parsed) ? parsed : defaultPort;
                host = host.Substring(0, colon);
            }
            var url = scheme + "://" + host + (port != defaultPort ? ":" + port : "") + path + (queryString.Length > 0 ? "?" + queryString : "");
            return new RuntimeRequest(http.Method, scheme, host, port, path, query, queryString, url, headers, http.Body, variables);
        }
    }

    // ------------------------------------------------------------ response

    class HttpResponseData
    {
        public int Status = 200;
        public List<KeyValuePair<string, string>> Headers = new List<KeyValuePair<string, string>>();
        public byte[] Body = Array.Empty<byte>();

        public static HttpResponseData Plain(int status, string body) => new HttpResponseData
        {
            Status = status,
            Headers = { new KeyValuePair<string, string>("content-type", "text/plain; charset=utf-8") },
            Body = Encoding.UTF8.GetBytes(body),
        };

        public static HttpResponseData Json(int status, object body) => new HttpResponseData
        {
            Status = status,
            Headers = { new KeyValuePair<string, string>("content-type", "application/json") },
            Body = JsonSerializer.SerializeToUtf8Bytes(body, Config.Json),
        };

        public static HttpResponseData From(RuntimeOutput output, string logId)
        {
            var response = new HttpResponseData { Status = output.StatusCode, Body = output.Body };
            var contentType = "text/plain";
            foreach (var (name, value) in output.Headers)
            {
                var key = name.ToLowerInvariant();
                if (key.StartsWith("x-open-runtimes-")) continue;
                if (key == "content-type") contentType = value.ToLowerInvariant();
                else response.Headers.Add(new KeyValuePair<string, string>(key, value));
            }
            if (!contentType.StartsWith("multipart/") && !contentType.Contains("charset=")) contentType += "; charset=utf-8";
            response.Headers.Add(new KeyValuePair<string, string>("content-type", contentType));
            response.Headers.Add(new KeyValuePair<string, string>("x-open-runtimes-log-id", logId));
            return response;
        }

        public static HttpResponseData Failure(int status, string logId) =>
            From(new RuntimeOutput(Array.Empty<byte>(), status, new Dictionary<string, string>()), logId);
    }

    // ------------------------------------------------------------ loader

    static class Loader
    {
        public static MethodInfo? Method;
        public static bool Legacy;
        public static string? Error;
        static object? instance;

        public static void Load()
        {
            var type = typeof(Loader).Assembly.GetType("DotNetRuntime.Handler");
            var methods = type?.GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static)
                .Where(m => m.Name == "Main").ToList() ?? new List<MethodInfo>();
            Method = methods.FirstOrDefault(m => Parameters(m).SequenceEqual(new[] { typeof(RuntimeContext) }));
            if (Method == null)
            {
                Method = methods.FirstOrDefault(m => Parameters(m).SequenceEqual(new[] { typeof(RuntimeRequest), typeof(RuntimeResponse) }));
                Legacy = Method != null;
            }
            if (type == null && !File.Exists(Config.Entrypoint) && Config.Entrypoint.Length > 0)
            {
                Error = "Failed to load entrypoint, file " + Config.Entrypoint + " does not exist.";
            }
            else if (Method == null)
            {
                Error = "Function signature invalid. Did you forget to export a 'main' function?";
            }
            else if (!Method.IsStatic)
            {
                try
                {
                    instance = Activator.CreateInstance(type!);
                }
                catch (Exception e)
                {
                    Error = "Failed to load module: " + (e.InnerException ?? e);
                }
            }
        }

        static IEnumerable<Type> Parameters(MethodInfo method) => method.GetParameters().Select(p => p.ParameterType);

        // The handler's output; for a v2 handler the response its last Send/Json call built.
        public static async Task<RuntimeOutput?> Call(RuntimeContext context)
        {
            object? result;
            try
            {
                result = Method!.Invoke(instance, Legacy ? new object[] { context.Req, context.Res } : new object[] { context });
            }
            catch (TargetInvocationException e) when (e.InnerException != null)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerException).Throw();
                throw;
            }
            if (result is Task task)
            {
                await task;
                result = task.GetType().GetProperty("Result")?.GetValue(task);
            }
            if (!Legacy) return result as RuntimeOutput;
            var res = result as RuntimeResponse ?? context.Res;
            return res.Last ?? context.Res.Text("");
        }
    }

    class Outcome
    {
        public RuntimeOutput? Output;
        public Exception? Error;
        public bool TimedOut;
    }

    // ------------------------------------------------------------ server

    public static class Server
    {
        static async Task<Outcome> Invoke(RuntimeContext context, int? timeout)
        {
            var outcome = new Outcome();
            var call = Task.Run(async () =>
            {
                NativeWriter.Current.Value = context.Logger;
                try
                {
                    outcome.Output = await Loader.Call(context);
                }
                catch (Exception e)
                {
                    outcome.Error = e;
                }
                finally
                {
                    Console.Out.Flush();
                }
            });
            if (timeout.HasValue)
            {
                // The call cannot be stopped; it keeps running with its logger closed.
                if (await Task.WhenAny(call, Task.Delay(TimeSpan.FromSeconds(timeout.Value))) != call) outcome.TimedOut = true;
            }
            else
            {
                await call;
            }
            return outcome;
        }

        // v5 wire: the processing order of runtimes/README.md.
        static async Task<HttpResponseData> HandleV5(HttpRequestData http)
        {
            var path = http.Target.Split('?')[0];
            if (http.Method == "GET" && path == "/__opr/health") return HttpResponseData.Plain(200, "OK");

            int? timeout = null;
            var timeoutHeader = http.Header("x-open-runtimes-timeout");
            if (timeoutHeader.Length > 0)
            {
                if (!timeoutHeader.All(char.IsDigit) || !int.TryParse(timeoutHeader, out var seconds) || seconds <= 0)
                {
                    return HttpResponseData.Plain(500, Config.TimeoutHeaderError);
                }
                timeout = seconds;
            }

            if (Config.Secret.Length > 0 && http.Header("x-open-runtimes-secret") != Config.Secret)
            {
                return HttpResponseData.Plain(500, Config.Unauthorized);
            }

            var enabled = http.Header("x-open-runtimes-logging") != "disabled";
            var logId = http.Header("x-open-runtimes-log-id");
            if (logId.Length == 0) logId = Config.Development ? "dev" : RuntimeLogger.GenerateId();
            var logger = new RuntimeLogger(enabled, logId);

            if (Loader.Error != null)
            {
                logger.Write(true, Loader.Error);
                return HttpResponseData.Failure(503, logger.Id);
            }

            var request = RequestBuilder.Build(http, RequestBuilder.Environment());
            if (Loader.Legacy) RequestBuilder.AddExecutionVariables(request);
            var context = new RuntimeContext(request, new RuntimeResponse(), logger);
            var outcome = await Invoke(context, timeout);
            try
            {
                if (outcome.TimedOut)
                {
                    logger.Write(true, "Execution timed out.");
                    return HttpResponseData.Failure(500, logger.Id);
                }
                if (outcome.Error != null)
                {
                    logger.Write(true, outcome.Error.ToString());
                    return HttpResponseData.Failure(500, logger.Id);
                }
                if (outcome.Output == null)
                {
                    logger.Write(true, Config.NoReturn);
                    return HttpResponseData.Failure(500, logger.Id);
                }
                return HttpResponseData.From(outcome.Output, logger.Id);
            }
            finally
            {
                logger.Closed = true;
            }
        }

        // v2 wire (INTERNAL_RUNTIME_KEY set): JSON in, {"response", "stdout", "stderr"} out.
        static async Task<HttpResponseData> HandleV2(HttpRequestData http)
        {
            if (http.Header("x-internal-challenge") != Config.V2Key)
            {
                return HttpResponseData.Json(500, new Dictionary<string, object?> { ["stderr"] = "Unauthorized" });
            }
            JsonElement data = default;
            try
            {
                data = JsonDocument.Parse(http.Body.Length == 0 ? "{}" : Encoding.UTF8.GetString(http.Body)).RootElement;
            }
            catch (JsonException)
            {
            }
            var reply = new Dictionary<string, object?> { ["response"] = "", ["stdout"] = "", ["stderr"] = "" };
            if (Loader.Error != null)
            {
                reply["stderr"] = Loader.Error;
                return HttpResponseData.Json(503, reply);
            }

            var inner = new HttpRequestData { Method = "POST", Target = "/" };
            var variables = RequestBuilder.Environment();
            int? timeout = null;
            if (data.ValueKind == JsonValueKind.Object)
            {
                if (data.TryGetProperty("payload", out var payload))
                {
                    inner.Body = Encoding.UTF8.GetBytes(payload.ValueKind == JsonValueKind.String ? payload.GetString() ?? "" : payload.ValueKind == JsonValueKind.Null ? "" : payload.GetRawText());
                }
                if (data.TryGetProperty("headers", out var headers) && headers.ValueKind == JsonValueKind.Object)
                {
                    foreach (var h in headers.EnumerateObject())
                    {
                        inner.Headers.Add(new KeyValuePair<string, string>(h.Name.ToLowerInvariant(), h.Value.ValueKind == JsonValueKind.String ? h.Value.GetString() ?? "" : h.Value.GetRawText()));
                    }
                }
                if (data.TryGetProperty("variables", out var vars) && vars.ValueKind == JsonValueKind.Object)
                {
                    foreach (var v in vars.EnumerateObject())
                    {
                        variables[v.Name] = v.Value.ValueKind == JsonValueKind.String ? v.Value.GetString() ?? "" : v.Value.GetRawText();
                    }
                }
                if (data.TryGetProperty("timeout", out var t) && t.ValueKind == JsonValueKind.Number && t.TryGetInt32(out var seconds) && seconds > 0)
                {
                    timeout = seconds;
                }
            }

            var logger = new RuntimeLogger(false, "", collect: true);
            var context = new RuntimeContext(RequestBuilder.Build(inner, variables), new RuntimeResponse(), logger);
            var outcome = await Invoke(context, timeout);
            var status = 500;
            if (outcome.TimedOut) logger.Write(true, "Execution timed out.");
            else if (outcome.Error != null) logger.Write(true, outcome.Error.ToString());
            else if (outcome.Output == null) logger.Write(true, Config.NoReturn);
            else
            {
                status = outcome.Output.StatusCode;
                var json = Loader.Legacy ? context.Res.LastJson : null;
                reply["response"] = json ?? Encoding.UTF8.GetString(outcome.Output.Body);
            }
            logger.Closed = true;
            reply["stdout"] = logger.Stdout!.ToString().TrimEnd('\n');
            reply["stderr"] = logger.Stderr!.ToString().TrimEnd('\n');
            return HttpResponseData.Json(status, reply);
        }

        static async Task Serve(TcpClient client)
        {
            using (client)
            {
                client.NoDelay = true;
                var stream = client.GetStream();
                var connection = new Connection(stream);
                while (true)
                {
                    HttpRequestData? request;
                    int error;
                    bool keepAlive;
                    try
                    {
                        (request, error, keepAlive) = await connection.Read();
                    }
                    catch (IOException)
                    {
                        return;
                    }
                    if (request == null && error == 0) return;
                    if (request == null)
                    {
                        await connection.Write(HttpResponseData.Plain(error, error == 413 ? "Payload Too Large" : "Bad Request"), false, false);
                        return;
                    }
                    HttpResponseData response;
                    try
                    {
                        response = Config.V2Key != null ? await HandleV2(request) : await HandleV5(request);
                    }
                    catch (Exception e)
                    {
                        response = HttpResponseData.Plain(500, "Runtime error: " + e.Message);
                    }
                    try
                    {
                        await connection.Write(response, keepAlive, request.Method == "HEAD");
                    }
                    catch (IOException)
                    {
                        return;
                    }
                    if (!keepAlive) return;
                }
            }
        }

        public static async Task Main()
        {
            Console.SetOut(new NativeWriter(new StreamWriter(Console.OpenStandardOutput()) { AutoFlush = true }, false));
            Console.SetError(new NativeWriter(new StreamWriter(Console.OpenStandardError()) { AutoFlush = true }, true));
            Loader.Load();
            var address = Config.Host == "0.0.0.0" ? IPAddress.Any : Config.Host == "::" ? IPAddress.IPv6Any : IPAddress.Parse(Config.Host);
            var listener = new TcpListener(address, Config.Port);
            listener.Server.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            listener.Start(128);
            Console.WriteLine("HTTP server successfully started!");
            while (true)
            {
                var client = await listener.AcceptTcpClientAsync();
                _ = Task.Run(() => Serve(client));
            }
        }
    }

    // HTTP/1.1 over a socket: keep-alive, content-length and chunked bodies, 20 MB limit.
    class Connection
    {
        readonly NetworkStream stream;
        byte[] buffer = new byte[65536];
        int start;
        int end;

        public Connection(NetworkStream stream) => this.stream = stream;

        async Task<bool> Fill()
        {
            if (start > 0 && start == end)
            {
                start = end = 0;
            }
            if (end == buffer.Length)
            {
                var bigger = new byte[Math.Max(buffer.Length * 2, end - start + 65536)];
                Buffer.BlockCopy(buffer, start, bigger, 0, end - start);
                end -= start;
                start = 0;
                buffer = bigger;
            }
            var n = await stream.ReadAsync(buffer, end, buffer.Length - end);
            if (n <= 0) return false;
            end += n;
            return true;
        }

        int Find(byte[] needle)
        {
            for (var i = start; i + needle.Length <= end; i++)
            {
                var match = true;
                for (var j = 0; j < needle.Length && match; j++) match = buffer[i + j] == needle[j];
                if (match) return i;
            }
            return -1;
        }

        static readonly byte[] HeaderEnd = Encoding.ASCII.GetBytes("\r\n\r\n");
        static readonly byte[] LineEnd = Encoding.ASCII.GetBytes("\r\n");

        async Task<byte[]?> Take(int count)
        {
            while (end - start < count)
            {
                if (!await Fill()) return null;
            }
            var data = new byte[count];
            Buffer.BlockCopy(buffer, start, data, 0, count);
            start += count;
            return data;
        }

        async Task<string?> Line()
        {
            int at;
            while ((at = Find(LineEnd)) < 0)
            {
                if (!await Fill()) return null;
            }
            var line = Encoding.ASCII.GetString(buffer, start, at - start);
            start = at + 2;
            return line;
        }

        // (request, 0, keepAlive) on success; (null, 0, _) when the client closed; (null, status, _) on a bad request.
        public async Task<(HttpRequestData?, int, bool)> Read()
        {
            int at;
            while ((at = Find(HeaderEnd)) < 0)
            {
                if (end - start > 1024 * 1024) return (null, 431, false);
                if (!await Fill()) return (null, 0, false);
            }
            var head = Encoding.UTF8.GetString(buffer, start, at - start).Split("\r\n");
            start = at + 4;
            var parts = head[0].Split(' ');
            if (parts.Length < 3) return (null, 400, false);
            var request = new HttpRequestData { Method = parts[0], Target = parts[1] };
            if (!request.Target.StartsWith("/"))
            {
                var scheme = request.Target.IndexOf("://", StringComparison.Ordinal);
                var slash = scheme < 0 ? -1 : request.Target.IndexOf('/', scheme + 3);
                request.Target = slash < 0 ? "/" : request.Target.Substring(slash);
            }
            foreach (var line in head.Skip(1))
            {
                var colon = line.IndexOf(':');
                if (colon <= 0) continue;
                request.Headers.Add(new KeyValuePair<string, string>(line.Substring(0, colon).Trim().ToLowerInvariant(), line.Substring(colon + 1).Trim()));
            }
            var connection = request.Header("connection").ToLowerInvariant();
            var keepAlive = parts[2] == "HTTP/1.1" ? connection != "close" : connection == "keep-alive";
            if (request.Header("expect").ToLowerInvariant() == "100-continue")
            {
                await stream.WriteAsync(Encoding.ASCII.GetBytes("HTTP/1.1 100 Continue\r\n\r\n"));
            }

            if (request.Header("transfer-encoding").ToLowerInvariant().Contains("chunked"))
            {
                var body = new MemoryStream();
                while (true)
                {
                    var sizeLine = await Line();
                    if (sizeLine == null) return (null, 0, false);
                    var size = Convert.ToInt32(sizeLine.Split(';')[0].Trim(), 16);
                    if (size == 0)
                    {
                        string? trailer;
                        while ((trailer = await Line()) != null && trailer.Length > 0)
                        {
                        }
                        break;
                    }
                    if (body.Length + size > Config.MaxBody) return (null, 413, false);
                    var chunk = await Take(size + 2);
                    if (chunk == null) return (null, 0, false);
                    body.Write(chunk, 0, size);
                }
                request.Body = body.ToArray();
            }
            else
            {
                var length = long.TryParse(request.Header("content-length"), out var parsed) ? parsed : 0;
                if (length > Config.MaxBody)
                {
                    // Read it anyway: closing with unread data resets the connection before the 413 arrives.
                    for (long left = length; left > 0;)
                    {
                        var drop = (int)Math.Min(left, end - start);
                        start += drop;
                        left -= drop;
                        if (left > 0 && !await Fill()) break;
                    }
                    return (null, 413, false);
                }
                var body = await Take((int)length);
                if (body == null) return (null, 0, false);
                request.Body = body;
            }
            if (buffer.Length > 1024 * 1024 && end - start < 65536)
            {
                // a keep-alive connection must not keep the buffer of a large request
                var small = new byte[65536];
                Buffer.BlockCopy(buffer, start, small, 0, end - start);
                end -= start;
                start = 0;
                buffer = small;
            }
            return (request, 0, keepAlive);
        }

        public async Task Write(HttpResponseData response, bool keepAlive, bool headOnly)
        {
            var head = new StringBuilder();
            head.Append("HTTP/1.1 ").Append(response.Status).Append(' ').Append(Reason(response.Status)).Append("\r\n");
            foreach (var (key, value) in response.Headers) head.Append(key).Append(": ").Append(value).Append("\r\n");
            head.Append("content-length: ").Append(response.Body.Length).Append("\r\n");
            head.Append(keepAlive ? "connection: keep-alive\r\n\r\n" : "connection: close\r\n\r\n");
            await stream.WriteAsync(Encoding.UTF8.GetBytes(head.ToString()));
            if (!headOnly && response.Body.Length > 0) await stream.WriteAsync(response.Body);
            await stream.FlushAsync();
        }

        static string Reason(int status)
        {
            try
            {
                var name = ((HttpStatusCode)status).ToString();
                return name.All(char.IsDigit) ? "Status" : name;
            }
            catch (Exception)
            {
                return "Status";
            }
        }
    }
}
