// Swift adapter: an HTTP server (Foundation + POSIX sockets, no SwiftNIO) that speaks the
// open-runtimes executor contract (runtimes/README.md) and calls the user's
// `func main(context: RuntimeContext) async throws -> RuntimeOutput` or, for Appwrite 1.0-1.3 code,
// `func main(req: RequestValue, res: RequestResponse) throws -> RequestResponse`.
//
// emulator/languages/swift.py builds it as `main.swift` of one SwiftPM executable together with the
// user's Sources and a generated `Dispatch.swift` that defines `userFunction` for the handler found.
// Each connection has a thread that runs its calls (Swift tasks whose jobs it runs, see CallExecutor):
// calls on different connections run concurrently, print() in the function being the call's native
// log (see CurrentCall). A timed-out call is cancelled (cooperatively) and answered by the watchdog,
// which closes its connection; it cannot be stopped.
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// ---------------------------------------------------------------- config

let environment = ProcessInfo.processInfo.environment
let configHost = environment["OPEN_RUNTIMES_HOST"] ?? "0.0.0.0"
let configPort = UInt16(environment["OPEN_RUNTIMES_PORT"] ?? "") ?? 3000
let configLogsDir = environment["OPEN_RUNTIMES_LOGS_DIR"] ?? "/mnt/logs"
let configSecret = environment["OPEN_RUNTIMES_SECRET"] ?? ""
let configDevelopment = (environment["OPEN_RUNTIMES_ENV"] ?? "production") == "development"
let configV2Key = environment["INTERNAL_RUNTIME_KEY"]
let enforcedHeaders: [String: String] = {
    guard let raw = environment["OPEN_RUNTIMES_HEADERS"], let data = raw.data(using: .utf8),
          let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
    else { return [:] }
    var headers: [String: String] = [:]
    for (key, value) in object {
        headers[key.lowercased()] = value as? String ?? stringify(value)
    }
    return headers
}()

let maxBody = 20 * 1024 * 1024
let maxLogChars = 8000
let nativeNotice = "Native logs detected. Use context.log() or context.error() for better experience."
let timeoutHeaderError = "Header \"x-open-runtimes-timeout\" must be an integer greater than 0."
let unauthorizedError = "Unauthorized. Provide correct \"x-open-runtimes-secret\" header."
let noReturnError = "Return statement missing. return context.res.empty() if no response is expected."

// ---------------------------------------------------------------- logging

// JSONSerialization rejects Optional.none; nil becomes null.
func jsonReady(_ value: Any?) -> Any {
    guard let value = value else { return NSNull() }
    let mirror = Mirror(reflecting: value)
    if mirror.displayStyle == .optional {
        guard let child = mirror.children.first else { return NSNull() }
        return jsonReady(child.value)
    }
    if let dict = value as? [String: Any?] {
        return dict.mapValues { jsonReady($0) }
    }
    if let array = value as? [Any?] {
        return array.map { jsonReady($0) }
    }
    return value
}

func jsonString(_ value: Any?) throws -> String {
    var options: JSONSerialization.WritingOptions = [.fragmentsAllowed]
    if #available(macOS 10.15, *) { options.insert(.withoutEscapingSlashes) }
    let data = try JSONSerialization.data(withJSONObject: jsonReady(value), options: options)
    return String(decoding: data, as: UTF8.self)
}

func stringify(_ value: Any?) -> String {
    guard let value = value else { return "null" }
    if let text = value as? String { return text }
    if let flag = value as? Bool { return flag ? "true" : "false" }
    if value is [Any?] || value is [String: Any?], let json = try? jsonString(value) { return json }
    return "\(value)"
}

func truncateLog(_ message: String) -> String {
    if message.count <= maxLogChars { return message }
    return String(message.prefix(maxLogChars)) + "... Log truncated due to size limit (\(maxLogChars) characters)"
}

// uniqid()-like: 8 hex of seconds + 5 hex of microseconds + 7 random hex.
func generateLogId() -> String {
    let micros = UInt64(Date().timeIntervalSince1970 * 1_000_000)
    let seconds = String(micros / 1_000_000, radix: 16)
    let fraction = String(micros % 1_000_000, radix: 16)
    let random = String(UInt32.random(in: 0..<0x1000_0000), radix: 16)
    return String(repeating: "0", count: max(0, 8 - seconds.count)) + seconds
        + String(repeating: "0", count: max(0, 5 - fraction.count)) + fraction
        + String(repeating: "0", count: max(0, 7 - random.count)) + random
}

// Native output: the function's print() and debugPrint() are compiled into this module, so these
// shadow the standard library's and reach the logger of the call they run in (a task-local value,
// inherited by the call's child tasks). Outside a call (a detached task, start-up) they print as
// usual. Per call rather than by redirecting stdout, which is process-wide: calls run concurrently.
enum CurrentCall {
    @TaskLocal static var logger: RuntimeLogger?
}

func print(_ items: Any..., separator: String = " ", terminator: String = "\n") {
    let text = items.map { String(describing: $0) }.joined(separator: separator) + terminator
    if let logger = CurrentCall.logger { logger.native(text) } else { Swift.print(text, terminator: "") }
}

func debugPrint(_ items: Any..., separator: String = " ", terminator: String = "\n") {
    let text = items.map { String(reflecting: $0) }.joined(separator: separator) + terminator
    if let logger = CurrentCall.logger { logger.native(text) } else { Swift.print(text, terminator: "") }
}

// What one call may leave in each log file: the executor reads 5 MiB and notes the truncation when
// there is more, so one byte past that is all it needs; a flood stops growing this process.
let logFileBytes = 5 * 1024 * 1024 + 1
// Past this much unwritten output a stream is appended to its file at once.
let logBufferBytes = 1024 * 1024

// Appends to a log file; the logs dir is made only when it turns out to be missing. An unwritable
// logs dir or a full disk must not fail the execution: the output is dropped then.
func appendLog(_ path: String, _ data: [UInt8]) {
    let flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC
    var fd = open(path, flags, 0o644)
    if fd < 0 && errno == ENOENT {
        _ = mkdir(configLogsDir, 0o755)
        fd = open(path, flags, 0o644)
    }
    guard fd >= 0 else { return }
    defer { close(fd) }
    var done = 0
    while done < data.count {
        let n = data[done...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { return }
        done += n
    }
}

// One per call. Its output is kept in memory (creating and reopening the files per entry cost more
// than the call) and appended to <id>_logs.log / <id>_errors.log by finish(), before the reply; a
// stream past logBufferBytes is written out at once, and each keeps at most logFileBytes.
final class RuntimeLogger: @unchecked Sendable {  // state behind `lock`
    let enabled: Bool
    let id: String
    var notice = true
    private var closed = false
    private var pendingNative = ""
    private var pendingNativeBytes = 0
    // v2 wire: collected for the JSON reply instead of files.
    private(set) var collected: (out: [String], err: [String])?
    private var noticeWritten = false
    private let lock = NSLock()
    private var paths: [String] = []
    private var buffers: [[UInt8]] = [[], []]  // log, error: not yet written
    private var room = [logFileBytes, logFileBytes]
    private var written = [false, false]

    init(enabled: Bool, id: String, collect: Bool = false) {
        self.enabled = enabled || collect
        self.id = enabled ? id : ""
        if collect {
            collected = ([], [])
        } else if enabled {
            paths = ["\(configLogsDir)/\(self.id)_logs.log", "\(configLogsDir)/\(self.id)_errors.log"]
        }
    }

    func write(_ messages: [Any?], isError: Bool) {
        lock.lock()
        defer { lock.unlock() }
        drainNativeLocked()
        append(truncateLog(messages.map { stringify($0) }.joined(separator: " ")), isError: isError)
    }

    func drainNative() {
        lock.lock()
        defer { lock.unlock() }
        drainNativeLocked()
    }

    // Native text is kept until the next context.log/error or the end of the call, and written
    // as one entry: lines printed in a row stay together, in order with the context logs.
    func native(_ text: String) {
        lock.lock()
        defer { lock.unlock() }
        // Past what the log file may hold, more is dropped (a print() flood stays bounded).
        if enabled && !closed && pendingNativeBytes <= room[0] {
            pendingNative += text
            pendingNativeBytes += text.utf8.count
        }
    }

    // Ends the call's logging: the files get what is left (both exist afterwards, empty when
    // nothing was logged, as the official runtimes leave them); later output is dropped.
    func finish() {
        lock.lock()
        defer { lock.unlock() }
        if closed { return }
        drainNativeLocked()
        closed = true
        if collected != nil || paths.isEmpty { return }
        for stream in 0..<2 where !written[stream] || !buffers[stream].isEmpty { writeOut(stream) }
    }

    private func drainNativeLocked() {
        var native = pendingNative
        pendingNative = ""
        pendingNativeBytes = 0
        if native.isEmpty { return }
        if native.hasSuffix("\n") { native.removeLast() }
        if collected == nil && notice && !noticeWritten {
            noticeWritten = true
            append(nativeNotice, isError: false)
        }
        append(native, isError: false)
    }

    private func append(_ line: String, isError: Bool) {
        // Once the call has been answered (e.g. timed out) what it writes later is dropped.
        guard enabled, !closed else { return }
        let stream = isError ? 1 : 0
        let left = room[stream]
        if left <= 0 { return }
        let size = line.utf8.count + (collected == nil ? 1 : 0)
        room[stream] = max(0, left - size)
        if collected != nil {
            let kept = size <= left ? line : String(decoding: line.utf8.prefix(left), as: UTF8.self)
            if isError { collected!.err.append(kept) } else { collected!.out.append(kept) }
            return
        }
        if size <= left {
            buffers[stream].append(contentsOf: line.utf8)
            buffers[stream].append(10)
        } else {
            buffers[stream].append(contentsOf: line.utf8.prefix(left))
        }
        if buffers[stream].count > logBufferBytes { writeOut(stream) }
    }

    private func writeOut(_ stream: Int) {
        appendLog(paths[stream], buffers[stream])
        buffers[stream] = []
        written[stream] = true
    }
}

// ---------------------------------------------------------------- request / context

class RuntimeRequest {
    let bodyBinary: Data
    let headers: [String: String]
    let method: String
    let url: String
    let scheme: String
    let host: String
    let port: Int
    let path: String
    let queryString: String
    let query: [String: String]

    init(bodyBinary: Data, headers: [String: String], method: String, url: String, scheme: String, host: String,
         port: Int, path: String, queryString: String, query: [String: String]) {
        self.bodyBinary = bodyBinary
        self.headers = headers
        self.method = method
        self.url = url
        self.scheme = scheme
        self.host = host
        self.port = port
        self.path = path
        self.queryString = queryString
        self.query = query
    }

    var bodyText: String { String(decoding: bodyBinary, as: UTF8.self) }
    var bodyRaw: String { bodyText }

    // Empty or non-object JSON gives an empty dictionary (a computed property cannot throw in Swift 5.5).
    var bodyJson: [String: Any?] {
        guard let object = try? JSONSerialization.jsonObject(with: bodyBinary, options: .fragmentsAllowed),
              let dict = object as? [String: Any]
        else { return [:] }
        return dict
    }

    var body: Any {
        let contentType = (headers["content-type"] ?? "text/plain").lowercased()
        if contentType.hasPrefix("application/json") {
            return bodyJson
        }
        return bodyText
    }
}

struct RuntimeOutput {
    let body: Data
    let statusCode: Int
    let headers: [String: String]
}

class RuntimeResponse {
    func binary(_ bytes: Data, statusCode: Int = 200, headers: [String: String] = [:]) -> RuntimeOutput {
        return RuntimeOutput(body: bytes, statusCode: statusCode, headers: headers)
    }

    func text(_ body: String, statusCode: Int = 200, headers: [String: String] = [:]) -> RuntimeOutput {
        return binary(Data(body.utf8), statusCode: statusCode, headers: headers)
    }

    // Deprecated alias of text().
    func send(_ body: String, statusCode: Int = 200, headers: [String: String] = [:]) -> RuntimeOutput {
        return text(body, statusCode: statusCode, headers: headers)
    }

    func json(_ json: [String: Any?], statusCode: Int = 200, headers: [String: String] = [:]) throws -> RuntimeOutput {
        var merged = headers
        merged["content-type"] = "application/json"
        return text(try jsonString(json), statusCode: statusCode, headers: merged)
    }

    func empty() -> RuntimeOutput {
        return text("", statusCode: 204)
    }

    func redirect(_ url: String, statusCode: Int = 301, headers: [String: String] = [:]) -> RuntimeOutput {
        var merged = headers
        merged["location"] = url
        return text("", statusCode: statusCode, headers: merged)
    }
}

class RuntimeContext {
    let req: RuntimeRequest
    let res: RuntimeResponse
    let logger: RuntimeLogger

    init(request: RuntimeRequest, response: RuntimeResponse, logger: RuntimeLogger) {
        req = request
        res = response
        self.logger = logger
    }

    func log(_ messages: Any?...) {
        logger.write(messages, isError: false)
    }

    func error(_ messages: Any?...) {
        logger.write(messages, isError: true)
    }
}

// v2 API (Appwrite 1.0-1.3): `func main(req: RequestValue, res: RequestResponse) throws -> RequestResponse`.
class RequestValue {
    let payload: String
    let variables: [String: String]
    let headers: [String: String]

    init(payload: String, variables: [String: String], headers: [String: String]) {
        self.payload = payload
        self.variables = variables
        self.headers = headers
    }

    var env: [String: String] { variables }  // name used by the earliest v2 runtimes
}

class RequestResponse {
    var statusCode = 200
    var sentText: String?
    var sentJson: [String: Any?]?

    @discardableResult
    func send(_ text: String, statusCode: Int = 200) -> RequestResponse {
        sentText = text
        sentJson = nil
        self.statusCode = statusCode
        return self
    }

    @discardableResult
    func json(data: [String: Any?], statusCode: Int = 200) -> RequestResponse {
        sentJson = data
        sentText = nil
        self.statusCode = statusCode
        return self
    }
}

struct HttpRequest {
    var method = "GET"
    var target = "/"
    var headers: [(String, String)] = []
    var body = Data()

    func header(_ name: String) -> String {
        return headers.first { $0.0 == name }?.1 ?? ""
    }
}

func functionHeaders(_ incoming: [(String, String)]) -> [String: String] {
    var headers: [String: String] = [:]
    for (key, value) in incoming where !key.hasPrefix("x-open-runtimes-") {
        if let previous = headers[key] {
            headers[key] = previous + (key == "cookie" ? "; " : ", ") + value
        } else {
            headers[key] = value
        }
    }
    for (key, value) in enforcedHeaders {
        headers[key] = value
    }
    return headers
}

func buildRequest(_ http: HttpRequest) -> RuntimeRequest {
    let headers = functionHeaders(http.headers)
    let target = String(http.target.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
    let parts = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
    let path = String(parts.first ?? "/")
    let queryString = parts.count > 1 ? String(parts[1]) : ""
    var query: [String: String] = [:]
    for param in queryString.split(separator: "&", omittingEmptySubsequences: true) {
        let pair = param.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
        let key = String(pair[0])
        if key.isEmpty { continue }
        query[key] = pair.count > 1 ? String(pair[1]) : ""
    }
    let proto = http.header("x-forwarded-proto")
    let scheme = proto.isEmpty ? "http" : proto
    let defaultPort = scheme == "https" ? 443 : 80
    var host = http.header("host")
    var port = defaultPort
    if let colon = host.lastIndex(of: ":"), !host[colon...].contains("]") {
        port = Int(host[host.index(after: colon)...]) ?? defaultPort
        host = String(host[..<colon])
    }
    let url = "\(scheme)://\(host)\(port != defaultPort ? ":\(port)" : "")\(path)\(queryString.isEmpty ? "" : "?\(queryString)")"
    return RuntimeRequest(bodyBinary: http.body, headers: headers, method: http.method, url: url, scheme: scheme,
                          host: host, port: port, path: path, queryString: queryString, query: query)
}

// v2-era per-execution variables come from the request: a warm process's environment cannot
// change per call (runtimes/README.md).
func executionVariables(_ request: RuntimeRequest) -> [String: String] {
    var variables = environment
    let event = request.headers["x-appwrite-event"] ?? ""
    variables["APPWRITE_FUNCTION_TRIGGER"] = request.headers["x-appwrite-trigger"] ?? ""
    variables["APPWRITE_FUNCTION_EVENT"] = event
    variables["APPWRITE_FUNCTION_EVENT_DATA"] = event.isEmpty ? "" : request.bodyText
    variables["APPWRITE_FUNCTION_DATA"] = request.bodyText
    variables["APPWRITE_FUNCTION_USER_ID"] = request.headers["x-appwrite-user-id"] ?? ""
    variables["APPWRITE_FUNCTION_JWT"] = request.headers["x-appwrite-user-jwt"] ?? ""
    return variables
}

// ---------------------------------------------------------------- response

struct HttpResponse {
    var status = 200
    var headers: [(String, String)] = []
    var body = Data()

    static func plain(_ status: Int, _ body: String) -> HttpResponse {
        return HttpResponse(status: status, headers: [("content-type", "text/plain; charset=utf-8")], body: Data(body.utf8))
    }

    static func json(_ status: Int, _ body: [String: Any?]) -> HttpResponse {
        let text = (try? jsonString(body)) ?? "{}"
        return HttpResponse(status: status, headers: [("content-type", "application/json")], body: Data(text.utf8))
    }

    static func from(_ output: RuntimeOutput, logId: String) -> HttpResponse {
        var response = HttpResponse(status: output.statusCode, headers: [], body: output.body)
        var contentType = "text/plain"
        for (name, value) in output.headers {
            let key = name.lowercased()
            if key.hasPrefix("x-open-runtimes-") { continue }
            if key == "content-type" {
                contentType = value.lowercased()
            } else {
                response.headers.append((key, value))
            }
        }
        if !contentType.hasPrefix("multipart/") && !contentType.contains("charset=") {
            contentType += "; charset=utf-8"
        }
        response.headers.append(("content-type", contentType))
        response.headers.append(("x-open-runtimes-log-id", logId))
        return response
    }

    static func failure(_ status: Int, logId: String) -> HttpResponse {
        return from(RuntimeOutput(body: Data(), statusCode: status, headers: [:]), logId: logId)
    }
}

// ---------------------------------------------------------------- loader

enum UserFunction {
    case context((RuntimeContext) async throws -> RuntimeOutput?)
    case legacy((RequestValue, RequestResponse) async throws -> RequestResponse)
    case invalid(String)
}

final class Box<T>: @unchecked Sendable {  // written by the task before it signals
    var value: T?
}

enum Outcome {
    case output(RuntimeOutput?)
    case legacy(RequestResponse)
    case failed(Error)
    case timedOut
}

#if compiler(>=6.0)
// A call runs on the thread of the connection that asked for it: its jobs (the partial tasks of its
// Task and of the child tasks it starts) are queued here and run by that thread, so a call costs no
// thread hand-off. Not on Swift's shared pool: it has one thread per core, and a function that blocks
// (sleep, a busy loop, synchronous I/O) would hold one of them; here it holds only its connection.
final class CallExecutor: TaskExecutor, @unchecked Sendable {  // state behind `condition`
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []
    private var finished = false
    private var ended = false

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        if ended {
            condition.unlock()
            // Work of the call that comes after its end (an unstructured task it started).
            globalConcurrentExecutor.enqueue(ExecutorJob(job))
            return
        }
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    func finish() {
        condition.lock()
        finished = true
        condition.signal()
        condition.unlock()
    }

    // On the connection's thread: runs the call's jobs until the call is over.
    func run() {
        condition.lock()
        while true {
            if !jobs.isEmpty {
                let job = jobs.removeFirst()
                condition.unlock()
                job.runSynchronously(on: asUnownedTaskExecutor())
                condition.lock()
            } else if finished {
                break
            } else {
                condition.wait()
            }
        }
        ended = true
        condition.unlock()
    }
}

// The soft timeout: answers a call that is past its deadline while the call keeps its connection's
// thread busy. One thread for all calls, woken only by a deadline earlier than the one it sleeps
// until, so a call that ends in time costs no thread switch.
final class Watchdog: @unchecked Sendable {  // state behind `condition`
    final class Entry: @unchecked Sendable {
        let deadline: Date
        let answer: () -> Void
        var claimed = false  // by the watchdog (it answers) or by the call's thread (the call did)
        let answered = DispatchSemaphore(value: 0)

        init(deadline: Date, answer: @escaping () -> Void) {
            self.deadline = deadline
            self.answer = answer
        }
    }

    static let shared = Watchdog()
    private let condition = NSCondition()
    private var entries: [Entry] = []
    private var sleepingUntil: Date?
    private var started = false

    func watch(seconds: Int, answer: @escaping () -> Void) -> Entry {
        let entry = Entry(deadline: Date(timeIntervalSinceNow: Double(seconds)), answer: answer)
        condition.lock()
        defer { condition.unlock() }
        entries.append(entry)
        if !started {
            started = true
            Thread.detachNewThread { self.run() }
        }
        if sleepingUntil.map({ entry.deadline < $0 }) ?? true { condition.signal() }
        return entry
    }

    // The call is over: true when its thread answers it, false when the watchdog has (or is).
    func settle(_ entry: Entry) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        if entry.claimed { return false }
        entry.claimed = true
        if let index = entries.firstIndex(where: { $0 === entry }) { entries.remove(at: index) }
        return true
    }

    private func run() {
        condition.lock()
        while true {
            let now = Date()
            entries.removeAll { entry in
                if entry.deadline > now { return false }
                entry.claimed = true
                // On a thread of its own: writing an answer must not hold up the other deadlines.
                Thread.detachNewThread {
                    entry.answer()
                    entry.answered.signal()
                }
                return true
            }
            sleepingUntil = entries.map(\.deadline).min()
            if let next = sleepingUntil { _ = condition.wait(until: next) } else { condition.wait() }
            sleepingUntil = nil
        }
    }
}

// Runs one call on this (its connection's) thread, its print() going to `logger`. Past `timeout`
// the watchdog cancels it (cooperatively) and calls `answerTimeout`, which answers and closes the
// connection while the call runs on: nil then, once that answer is out.
func invoke(timeout: Int?, logger: RuntimeLogger, answerTimeout: @escaping () -> Void,
            _ body: @escaping () async throws -> Outcome) -> Outcome? {
    let box = Box<Outcome>()
    let call = CallExecutor()
    let task = Task(executorPreference: call) {
        do {
            box.value = try await CurrentCall.$logger.withValue(logger) { try await body() }
        } catch {
            box.value = .failed(error)
        }
        call.finish()
    }
    let entry = timeout.map { Watchdog.shared.watch(seconds: $0) { task.cancel(); answerTimeout() } }
    call.run()
    logger.drainNative()
    if let entry = entry, !Watchdog.shared.settle(entry) {
        entry.answered.wait()  // the connection stays open until the timeout's answer is out
        return nil
    }
    return box.value ?? .output(nil)
}
#else
// Runs one call, its print() going to `logger`, and waits for it on this connection's thread (each
// connection has its own): calls on other connections run at the same time.
func invoke(timeout: Int?, logger: RuntimeLogger, answerTimeout: @escaping () -> Void,
            _ body: @escaping () async throws -> Outcome) -> Outcome? {
    let box = Box<Outcome>()
    let done = DispatchSemaphore(value: 0)
    let task = Task {
        do {
            box.value = try await CurrentCall.$logger.withValue(logger) { try await body() }
        } catch {
            box.value = .failed(error)
        }
        done.signal()
    }
    let finished: Bool
    if let timeout = timeout {
        finished = done.wait(timeout: .now() + .seconds(timeout)) == .success
    } else {
        done.wait()
        finished = true
    }
    logger.drainNative()
    if !finished {
        task.cancel()
        return .timedOut
    }
    return box.value ?? .output(nil)
}
#endif

func describe(_ error: Error) -> String {
    return "\(error)\n    at main (\(environment["OPEN_RUNTIMES_ENTRYPOINT"] ?? "Sources"))"
}

func positiveInteger(_ text: String) -> Int? {
    guard !text.isEmpty, text.allSatisfy({ $0.isASCII && $0.isNumber }), let value = Int(text), value > 0 else { return nil }
    return value
}

// v5 wire: the processing order of runtimes/README.md.
// nil: the call timed out and the watchdog answered (the connection is then closed).
func handleV5(_ http: HttpRequest, on connection: Connection) -> HttpResponse? {
    let path = String(http.target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
    if http.method == "GET" && path == "/__opr/health" { return .plain(200, "OK") }

    var timeout: Int?
    let timeoutHeader = http.header("x-open-runtimes-timeout")
    if !timeoutHeader.isEmpty {
        guard let seconds = positiveInteger(timeoutHeader) else { return .plain(500, timeoutHeaderError) }
        timeout = seconds
    }

    if !configSecret.isEmpty && http.header("x-open-runtimes-secret") != configSecret {
        return .plain(500, unauthorizedError)
    }

    let enabled = http.header("x-open-runtimes-logging") != "disabled"
    var logId = http.header("x-open-runtimes-log-id")
    if logId.isEmpty { logId = configDevelopment ? "dev" : generateLogId() }
    let logger = RuntimeLogger(enabled: enabled, id: logId)
    defer { logger.finish() }
    let answerTimeout = {
        logger.write(["Execution timed out."], isError: true)
        logger.finish()
        connection.answerTimedOut(.failure(500, logId: logger.id), headOnly: http.method == "HEAD")
    }

    let request = buildRequest(http)
    let result: Outcome?
    switch userFunction {
    case .invalid(let message):
        logger.write([message], isError: true)
        return .failure(503, logId: logger.id)
    case .context(let handler):
        let context = RuntimeContext(request: request, response: RuntimeResponse(), logger: logger)
        result = invoke(timeout: timeout, logger: logger, answerTimeout: answerTimeout) {
            .output(try await handler(context))
        }
    case .legacy(let handler):
        logger.notice = false  // v2-era functions log with print() only
        let req = RequestValue(payload: request.bodyText, variables: executionVariables(request), headers: request.headers)
        result = invoke(timeout: timeout, logger: logger, answerTimeout: answerTimeout) {
            .legacy(try await handler(req, RequestResponse()))
        }
    }
    guard let outcome = result else { return nil }

    switch outcome {
    case .timedOut:
        logger.write(["Execution timed out."], isError: true)
    case .failed(let error):
        logger.write([describe(error)], isError: true)
    case .output(nil):
        logger.write([noReturnError], isError: true)
    case .output(let output?):
        return .from(output, logId: logger.id)
    case .legacy(let res):
        do {
            let output: RuntimeOutput
            if let json = res.sentJson {
                output = try RuntimeResponse().json(json, statusCode: res.statusCode)
            } else {
                output = RuntimeResponse().text(res.sentText ?? "", statusCode: res.statusCode)
            }
            return .from(output, logId: logger.id)
        } catch {
            logger.write([describe(error)], isError: true)
        }
    }
    return .failure(500, logId: logger.id)
}

// v2 wire (INTERNAL_RUNTIME_KEY set): JSON in, {"response", "stdout", "stderr"} out.
// nil: the call timed out and the watchdog answered (the connection is then closed).
func handleV2(_ http: HttpRequest, on connection: Connection) -> HttpResponse? {
    if http.header("x-internal-challenge") != configV2Key {
        return .json(500, ["stderr": "Unauthorized"])
    }
    let data = (try? JSONSerialization.jsonObject(with: http.body.isEmpty ? Data("{}".utf8) : http.body)) as? [String: Any] ?? [:]
    if case .invalid(let message) = userFunction {
        return .json(503, ["response": "", "stdout": "", "stderr": message])
    }
    var inner = HttpRequest(method: "POST", target: "/")
    if let payload = data["payload"] {
        inner.body = Data((payload as? String ?? (payload is NSNull ? "" : stringify(payload))).utf8)
    }
    if let headers = data["headers"] as? [String: Any] {
        inner.headers = headers.map { ($0.key.lowercased(), $0.value as? String ?? stringify($0.value)) }
    }
    var variables = environment
    if let given = data["variables"] as? [String: Any] {
        for (key, value) in given { variables[key] = value as? String ?? stringify(value) }
    }
    let timeout = (data["timeout"] as? Int).flatMap { $0 > 0 ? $0 : nil }
    let request = buildRequest(inner)
    let logger = RuntimeLogger(enabled: false, id: "", collect: true)
    let reply = { (status: Int, response: Any) -> HttpResponse in
        logger.finish()
        let collected = logger.collected ?? ([], [])
        return .json(status, ["response": response, "stdout": collected.out.joined(separator: "\n"),
                              "stderr": collected.err.joined(separator: "\n")])
    }
    let answerTimeout = {
        logger.write(["Execution timed out."], isError: true)
        connection.answerTimedOut(reply(500, ""), headOnly: false)
    }

    let result: Outcome?
    switch userFunction {
    case .invalid:
        result = .output(nil)
    case .context(let handler):
        let context = RuntimeContext(request: request, response: RuntimeResponse(), logger: logger)
        result = invoke(timeout: timeout, logger: logger, answerTimeout: answerTimeout) {
            .output(try await handler(context))
        }
    case .legacy(let handler):
        let req = RequestValue(payload: request.bodyText, variables: variables, headers: request.headers)
        result = invoke(timeout: timeout, logger: logger, answerTimeout: answerTimeout) {
            .legacy(try await handler(req, RequestResponse()))
        }
    }
    guard let outcome = result else { return nil }
    var status = 500
    var response: Any = ""
    switch outcome {
    case .timedOut:
        logger.write(["Execution timed out."], isError: true)
    case .failed(let error):
        logger.write([describe(error)], isError: true)
    case .output(nil):
        logger.write([noReturnError], isError: true)
    case .output(let output?):
        status = output.statusCode
        response = String(decoding: output.body, as: UTF8.self)
    case .legacy(let res):
        status = res.statusCode
        response = res.sentJson.map { jsonReady($0) } ?? (res.sentText ?? "")
    }
    return reply(status, response)
}

// ---------------------------------------------------------------- server

func reasonPhrase(_ status: Int) -> String {
    let reasons = [200: "OK", 201: "Created", 204: "No Content", 301: "Moved Permanently", 302: "Found",
                   400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 413: "Payload Too Large",
                   418: "I'm a teapot", 500: "Internal Server Error", 503: "Service Unavailable"]
    return reasons[status] ?? "Status"
}

// UTF-8 text of bytes (invalid sequences repaired), through String's contiguous fast path.
func utf8Text(_ bytes: ArraySlice<UInt8>) -> String {
    return bytes.withUnsafeBufferPointer { String(decoding: $0, as: UTF8.self) }
}

// `bytes` without leading and trailing spaces and tabs.
func trimmedBlanks(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
    var start = bytes.startIndex
    var end = bytes.endIndex
    while start < end && (bytes[start] == 32 || bytes[start] == 9) { start += 1 }
    while end > start && (bytes[end - 1] == 32 || bytes[end - 1] == 9) { end -= 1 }
    return bytes[start..<end]
}

final class Connection {
    let fd: Int32
    var buffer = [UInt8]()

    init(fd: Int32) {
        self.fd = fd
    }

    private var chunk = [UInt8](repeating: 0, count: 65536)  // one per connection, not per read

    func fill() -> Bool {
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n <= 0 { return false }
        buffer.append(contentsOf: chunk[0..<n])
        return true
    }

    func find(_ needle: [UInt8], from start: Int = 0) -> Int? {
        return buffer.withUnsafeBufferPointer { bytes -> Int? in
            var i = start
            while i + needle.count <= bytes.count {
                if bytes[i] == needle[0] {
                    var matched = 1
                    while matched < needle.count && bytes[i + matched] == needle[matched] { matched += 1 }
                    if matched == needle.count { return i }
                }
                i += 1
            }
            return nil
        }
    }

    func take(_ count: Int) -> [UInt8]? {
        while buffer.count < count {
            if !fill() { return nil }
        }
        let data = Array(buffer[0..<count])
        buffer.removeFirst(count)
        return data
    }

    func line() -> String? {
        var at = find([13, 10])
        while at == nil {
            if !fill() { return nil }
            at = find([13, 10])
        }
        let text = utf8Text(buffer[0..<at!])
        buffer.removeFirst(at! + 2)
        return text
    }

    // (request, nil) on success, (nil, nil) when the client closed, (nil, status) for a bad request.
    func read() -> (HttpRequest?, Int?, Bool) {
        var end = find([13, 10, 13, 10])
        while end == nil {
            if buffer.count > 1024 * 1024 { return (nil, 431, false) }
            if !fill() { return (nil, nil, false) }
            end = find([13, 10, 13, 10])
        }
        let parsed = parseHead(buffer[0..<end!])
        buffer.removeFirst(end! + 4)
        guard var request = parsed.request else { return (nil, 400, false) }
        if !request.target.hasPrefix("/") {
            if let scheme = request.target.range(of: "://"),
               let slash = request.target[scheme.upperBound...].firstIndex(of: "/") {
                request.target = String(request.target[slash...])
            } else {
                request.target = "/"
            }
        }
        let connection = request.header("connection").lowercased()
        let keepAlive = parsed.http11 ? connection != "close" : connection == "keep-alive"
        if request.header("expect").lowercased() == "100-continue" {
            _ = sendAll(Array("HTTP/1.1 100 Continue\r\n\r\n".utf8))
        }
        if request.header("transfer-encoding").lowercased().contains("chunked") {
            var body = [UInt8]()
            while true {
                guard let sizeLine = line() else { return (nil, nil, false) }
                let size = Int(sizeLine.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? "", radix: 16) ?? 0
                if size == 0 {
                    while let trailer = line(), !trailer.isEmpty {}
                    break
                }
                if body.count + size > maxBody { return (nil, 413, false) }
                guard let chunk = take(size + 2) else { return (nil, nil, false) }
                body.append(contentsOf: chunk[0..<size])
            }
            request.body = Data(body)
        } else {
            let length = Int(request.header("content-length")) ?? 0
            if length > maxBody {
                // Read it anyway: closing with unread data resets the connection before the 413 arrives.
                var left = length
                while left > 0 {
                    let drop = min(left, buffer.count)
                    buffer.removeFirst(drop)
                    left -= drop
                    if left > 0 && !fill() { break }
                }
                return (nil, 413, false)
            }
            guard let body = take(length) else { return (nil, nil, false) }
            request.body = Data(body)
        }
        if buffer.capacity > 1024 * 1024 { buffer = Array(buffer) }
        return (request, nil, keepAlive)
    }

    // The request line and header fields, read from the bytes (no String of the whole head, no
    // Foundation splitting and trimming); request nil for a malformed request line.
    private func parseHead(_ head: ArraySlice<UInt8>) -> (request: HttpRequest?, http11: Bool) {
        var lines: [ArraySlice<UInt8>] = []
        var start = head.startIndex
        var i = start
        while i + 1 < head.endIndex {
            if head[i] == 13 && head[i + 1] == 10 {
                lines.append(head[start..<i])
                i += 2
                start = i
            } else {
                i += 1
            }
        }
        lines.append(head[start..<head.endIndex])
        let parts = lines[0].split(separator: 32)
        if parts.count < 3 { return (nil, false) }
        var request = HttpRequest(method: utf8Text(parts[0]), target: utf8Text(parts[1]))
        for field in lines.dropFirst() {
            guard let colon = field.firstIndex(of: 58) else { continue }
            var key = Array(trimmedBlanks(field[..<colon]))
            for index in key.indices where key[index] >= 65 && key[index] <= 90 { key[index] += 32 }
            request.headers.append((utf8Text(key[...]), utf8Text(trimmedBlanks(field[(colon + 1)...]))))
        }
        return (request, utf8Text(parts[2]) == "HTTP/1.1")
    }

    func sendAll(_ bytes: [UInt8]) -> Bool {
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return false }
            sent += n
        }
        return true
    }

    // The soft timeout's answer, from the watchdog's side while the call still runs on this
    // connection's thread: the connection closes so the client's next request gets a fresh one.
    func answerTimedOut(_ response: HttpResponse, headOnly: Bool) {
        _ = write(response, keepAlive: false, headOnly: headOnly)
        shutdown(fd, Int32(SHUT_WR))
    }

    func write(_ response: HttpResponse, keepAlive: Bool, headOnly: Bool) -> Bool {
        var head = "HTTP/1.1 \(response.status) \(reasonPhrase(response.status))\r\n"
        for (key, value) in response.headers { head += "\(key): \(value)\r\n" }
        head += "content-length: \(response.body.count)\r\n"
        head += keepAlive ? "connection: keep-alive\r\n\r\n" : "connection: close\r\n\r\n"
        var bytes = Array(head.utf8)
        if !headOnly { bytes.append(contentsOf: response.body) }
        return sendAll(bytes)
    }
}

func serve(_ fd: Int32) {
    let connection = Connection(fd: fd)
    defer { close(fd) }
    while true {
        let (request, error, keepAlive) = connection.read()
        guard let request = request else {
            if let status = error { _ = connection.write(.plain(status, reasonPhrase(status)), keepAlive: false, headOnly: false) }
            return
        }
        let handled = configV2Key != nil ? handleV2(request, on: connection) : handleV5(request, on: connection)
        guard let response = handled else { return }  // timed out: answered, and the connection closes
        if !connection.write(response, keepAlive: keepAlive, headOnly: request.method == "HEAD") || !keepAlive { return }
    }
}

func listenSocket() -> Int32 {
    var hints = addrinfo()
    hints.ai_family = AF_UNSPEC
    #if canImport(Glibc)
    hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
    #else
    hints.ai_socktype = SOCK_STREAM
    #endif
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
    var found: UnsafeMutablePointer<addrinfo>?
    guard getaddrinfo(configHost, String(configPort), &hints, &found) == 0 else {
        fatalError("Cannot resolve \(configHost)")
    }
    defer { freeaddrinfo(found) }
    var entry = found
    while let info = entry {
        let fd = socket(info.pointee.ai_family, info.pointee.ai_socktype, info.pointee.ai_protocol)
        if fd >= 0 {
            var one: Int32 = 1
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            if bind(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 && listen(fd, 128) == 0 { return fd }
            close(fd)
        }
        entry = info.pointee.ai_next
    }
    fatalError("Cannot listen on \(configHost):\(configPort)")
}

signal(SIGPIPE, SIG_IGN)
let server = listenSocket()
print("HTTP server successfully started!")
fflush(stdout)
while true {
    let client = accept(server, nil, nil)
    if client < 0 { continue }
    var one: Int32 = 1
    setsockopt(client, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    Thread.detachNewThread { serve(client) }
}
