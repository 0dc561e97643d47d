// C++ adapter: an HTTP server that speaks the open-runtimes executor contract
// (runtimes/README.md) and calls the user's runtime::Handler::main.
//
// Built once per deployment by emulator/languages/cpp.py:
//   g++ -O2 -DOPR_ENTRY_FILE='"<abs path of user file>"' -DOPR_ENTRYPOINT='"src/index.cc"' server.cc -ljsoncpp -pthread
// The user file is #included below, so the API (context or v2) is chosen at compile time
// from the signature of Handler::main.
//
// Each call runs in a process forked from the server (see invoke()): C++ code cannot be
// interrupted, so the soft timeout kills that process; a crash or exit() fails only its own call,
// and concurrent calls never share stdout. Global state does not carry over between calls.
#include "RuntimeContext.h"
#include "RuntimeOutput.h"
#include "RuntimeRequest.h"
#include "RuntimeResponse.h"

#include <arpa/inet.h>
#include <cxxabi.h>
#include <fcntl.h>
#include <malloc.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

extern char **environ;

namespace runtime {
class Handler;  // declared here so a file without it still compiles (-> "signature invalid")
}

// Every dynamic symbol is bound at start-up, as if linked with -z now: each call runs in a process
// forked from the server, where a symbol the server had not used yet was looked up again in every
// call. The server re-executes itself once with LD_BIND_NOW set, before any constructor of the
// function's code runs (priority 101), so those run once.
__attribute__((constructor(101))) static void oprBindNow(int argc, char **argv, char **) {
  const char *mark = std::getenv("OPR_CPP_BOUND_NOW");
  if (mark != nullptr) {
    const char *name = std::strrchr(argv[0], '/');
    prctl(PR_SET_NAME, name ? name + 1 : argv[0]);  // not "exe"
    unsetenv("LD_BIND_NOW");  // not for the processes a function starts
    unsetenv("OPR_CPP_BOUND_NOW");
    return;
  }
  if (argc < 1 || argv == nullptr || argv[0] == nullptr || std::getenv("LD_BIND_NOW") != nullptr) return;
  setenv("LD_BIND_NOW", "1", 1);
  setenv("OPR_CPP_BOUND_NOW", "1", 1);
  execv("/proc/self/exe", argv);
  unsetenv("LD_BIND_NOW");  // it did not run: go on, binding as calls need
  unsetenv("OPR_CPP_BOUND_NOW");
}

#if defined(OPR_ENTRY_FILE) && !defined(OPR_ENTRY_MISSING)
#include OPR_ENTRY_FILE
#endif

#ifndef OPR_ENTRYPOINT
#define OPR_ENTRYPOINT "src/index.cc"
#endif

namespace opr {
using runtime::RuntimeContext;
using runtime::RuntimeOutput;
using runtime::RuntimeRequest;
using runtime::RuntimeResponse;

// ---------------------------------------------------------------- config

std::string env(const char *name, const std::string &fallback = "") {
  const char *value = std::getenv(name);
  return value ? std::string(value) : fallback;
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

bool startsWith(const std::string &text, const std::string &prefix) {
  return text.compare(0, prefix.size(), prefix) == 0;
}

Json::Value parseJson(const std::string &text, bool *ok = nullptr) {
  Json::CharReaderBuilder builder;
  builder["collectComments"] = false;
  builder["allowComments"] = false;
  builder["strictRoot"] = false;
  builder["failIfExtra"] = true;
  builder["allowSpecialFloats"] = false;
  std::unique_ptr<Json::CharReader> reader(builder.newCharReader());
  Json::Value value;
  std::string errors;
  bool parsed = !text.empty() && reader->parse(text.data(), text.data() + text.size(), &value, &errors);
  if (ok) *ok = parsed;
  return parsed ? value : Json::Value();
}

struct Config {
  std::string host = env("OPEN_RUNTIMES_HOST", "0.0.0.0");
  int port = std::atoi(env("OPEN_RUNTIMES_PORT", "3000").c_str());
  std::string logsDir = env("OPEN_RUNTIMES_LOGS_DIR", "/mnt/logs");
  std::string entrypoint = OPR_ENTRYPOINT;
  std::string secret = env("OPEN_RUNTIMES_SECRET");
  bool development = env("OPEN_RUNTIMES_ENV", "production") == "development";
  Json::Value headers = enforcedHeaders();
  std::string v2Key = env("INTERNAL_RUNTIME_KEY");
  bool v2 = std::getenv("INTERNAL_RUNTIME_KEY") != nullptr;

  static Json::Value enforcedHeaders() {
    Json::Value parsed = parseJson(env("OPEN_RUNTIMES_HEADERS", "{}"));
    Json::Value out(Json::objectValue);
    if (!parsed.isObject()) return out;
    for (auto it = parsed.begin(); it != parsed.end(); ++it) {
      out[lower(it.name())] = runtime::detail::stringify(*it);
    }
    return out;
  }
};

const Config &config() {
  static const Config instance;
  return instance;
}

// ---------------------------------------------------------------- logging

const std::size_t MAX_LOG_CHARS = 8000;
const char *NATIVE_LOGS_NOTICE = "Native logs detected. Use context.log() or context.error() for better experience.";

std::string truncateLog(const std::string &message) {
  std::size_t chars = 0;
  for (std::size_t i = 0; i < message.size(); i++) {
    if ((static_cast<unsigned char>(message[i]) & 0xC0) == 0x80) continue;  // UTF-8 continuation byte
    if (chars++ == MAX_LOG_CHARS) {
      return message.substr(0, i) + "... Log truncated due to size limit (" + std::to_string(MAX_LOG_CHARS) +
             " characters)";
    }
  }
  return message;
}

// uniqid()-like: 8 hex of seconds + 5 hex of microseconds + 7 random hex.
std::string generateLogId() {
  using namespace std::chrono;
  auto micros = duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
  static std::mt19937 random{std::random_device{}()};
  static std::mutex randomLock;
  unsigned suffix;
  {
    std::lock_guard<std::mutex> guard(randomLock);
    suffix = random() & 0xFFFFFFF;
  }
  char id[32];
  std::snprintf(id, sizeof id, "%08llx%05llx%07x", static_cast<unsigned long long>(micros / 1000000),
                static_cast<unsigned long long>(micros % 1000000), suffix);
  return id;
}

// What one call may leave in each log file: the executor reads 5 MiB and notes the truncation when
// there is more, so one byte past that is all it needs; a flood stops filling the disk (or tmpfs).
const std::size_t LOG_FILE_BYTES = 5 * 1024 * 1024 + 1;

// State of one call that its process and the server both update: shared memory, so that it holds
// even when the call's process is killed.
struct CallShared {
  int noticeWritten;
  std::size_t logged[2];  // bytes appended to <id>_logs.log, <id>_errors.log
};

// Native output of one call (std::cout, printf, child processes): the call's process has its
// stdout/stderr pointed at unnamed temp files, drained into the logs as the call goes.
class Capture {
 public:
  explicit Capture(bool separateErrors) {
    out = tempFile();
    err = separateErrors ? tempFile() : out;
    void *page = mmap(nullptr, sizeof(CallShared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    shared_ = page == MAP_FAILED ? &fallback_ : static_cast<CallShared *>(page);
    *shared_ = CallShared{};
  }

  ~Capture() {
    close(out);
    if (err != out) close(err);
    if (shared_ != &fallback_) munmap(shared_, sizeof(CallShared));
  }

  Capture(const Capture &) = delete;
  Capture &operator=(const Capture &) = delete;

  // In the call's process.
  void redirect() const {
    dup2(out, STDOUT_FILENO);
    dup2(err, STDERR_FILENO);
  }

  static void flushStreams() {
    std::cout.flush();
    std::cerr.flush();
    std::fflush(stdout);
    std::fflush(stderr);
  }

  // What was written so far, at most what a log file keeps (the rest is dropped), and empties it.
  std::string take(int fd) const {
    flushStreams();
    std::string data;
    char buf[65536];
    off_t offset = 0;
    ssize_t n;
    while (data.size() < LOG_FILE_BYTES && (n = pread(fd, buf, sizeof buf, offset)) > 0) {
      data.append(buf, std::min(static_cast<std::size_t>(n), LOG_FILE_BYTES - data.size()));
      offset += n;
    }
    if (offset > 0 && ftruncate(fd, 0) != 0) data += "\n(native output capture failed)\n";
    return data;
  }

  bool claimNotice() { return __atomic_exchange_n(&shared_->noticeWritten, 1, __ATOMIC_SEQ_CST) == 0; }

  // How much of `size` bytes stream `index` may still take (0 once it is full).
  std::size_t reserve(int index, std::size_t size) {
    std::size_t before = __atomic_fetch_add(&shared_->logged[index], size, __ATOMIC_SEQ_CST);
    return before >= LOG_FILE_BYTES ? 0 : std::min(size, LOG_FILE_BYTES - before);
  }

  int out = -1, err = -1;

 private:
  CallShared *shared_ = nullptr;
  CallShared fallback_{};

  static int tempFile() {
    // A file without a name: no create and unlink of a directory entry per call. On disk, not in
    // memory (memfd), so that a flood of output does not fill memory before it is drained.
    int fd = open("/tmp", O_TMPFILE | O_RDWR, 0600);
    if (fd < 0) {
      char name[] = "/tmp/opr-cpp-native-XXXXXX";
      fd = mkstemp(name);
      if (fd < 0) throw std::runtime_error(std::string("Cannot capture native output: ") + std::strerror(errno));
      unlink(name);
    }
    // O_APPEND: writers keep appending at the end after take() truncates the file.
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_APPEND);
    return fd;
  }
};

bool legacyApi();  // whether the user's handler is a v2 one (see the loader)

// Opens a log file for appending; the logs dir is made only when it turns out to be missing.
int openLog(const std::string &path) {
  const int flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC;
  int fd = open(path.c_str(), flags, 0644);
  if (fd < 0 && errno == ENOENT) {
    mkdir(config().logsDir.c_str(), 0755);
    fd = open(path.c_str(), flags, 0644);
  }
  return fd;  // -1: an unwritable logs dir must not fail the execution; the output is dropped
}

// The request's two log files. Opened by the server; written by the call's process while it runs
// (append mode, written per entry) and by the server afterwards.
class Logger {
 public:
  Logger(bool enabled, const std::string &id, Capture *capture)
      : enabled_(enabled), id_(enabled ? id : ""), capture_(capture) {
    if (!enabled_) return;
    logs_ = openLog(config().logsDir + "/" + id_ + "_logs.log");
    errors_ = openLog(config().logsDir + "/" + id_ + "_errors.log");
  }

  ~Logger() {
    if (logs_ >= 0) close(logs_);
    if (errors_ >= 0) close(errors_);
  }

  Logger(const Logger &) = delete;
  Logger &operator=(const Logger &) = delete;

  const std::string &id() const { return id_; }

  int fileno(bool isError) const { return isError ? errors_ : logs_; }

  void write(bool isError, const std::string &message) {
    drainNative();
    append(isError, truncateLog(message) + "\n");
  }

  // Native output lands in order with context.log(), after the notice.
  void drainNative() {
    if (!capture_) return;
    std::string native = capture_->take(capture_->out);
    if (native.empty()) return;
    // v2-era functions log with native output only: no notice for them.
    if (!legacyApi() && capture_->claimNotice()) {
      append(false, std::string(NATIVE_LOGS_NOTICE) + "\n");
    }
    if (native.back() != '\n') native += '\n';
    append(false, native);
  }

 private:
  bool enabled_;
  std::string id_;
  Capture *capture_;
  int logs_ = -1;
  int errors_ = -1;

  void append(bool isError, const std::string &text) {
    int fd = isError ? errors_ : logs_;
    if (!enabled_ || fd < 0) return;
    std::size_t size = capture_ ? capture_->reserve(isError ? 1 : 0, text.size()) : text.size();
    std::size_t done = 0;
    while (done < size) {
      ssize_t n = ::write(fd, text.data() + done, size - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;  // a full disk must not fail the execution
      done += static_cast<std::size_t>(n);
    }
  }
};

// ---------------------------------------------------------------- request / context

struct HttpRequest {
  std::string method;
  std::string target;
  std::vector<std::pair<std::string, std::string>> headers;  // keys lower-cased
  std::string body;

  std::string header(const std::string &name) const {
    for (const auto &h : headers)
      if (h.first == name) return h.second;
    return "";
  }

  bool hasHeader(const std::string &name) const {
    for (const auto &h : headers)
      if (h.first == name) return true;
    return false;
  }
};

Json::Value functionHeaders(const HttpRequest &http) {
  Json::Value headers(Json::objectValue);
  for (const auto &h : http.headers) {
    if (startsWith(h.first, "x-open-runtimes-")) continue;
    if (headers.isMember(h.first)) {
      headers[h.first] = headers[h.first].asString() + (h.first == "cookie" ? "; " : ", ") + h.second;
    } else {
      headers[h.first] = h.second;
    }
  }
  const Json::Value &enforced = config().headers;
  for (auto it = enforced.begin(); it != enforced.end(); ++it) headers[it.name()] = *it;
  return headers;
}

Json::Value environment() {
  Json::Value variables(Json::objectValue);
  for (char **entry = environ; entry && *entry; entry++) {
    std::string pair(*entry);
    auto eq = pair.find('=');
    if (eq != std::string::npos) variables[pair.substr(0, eq)] = pair.substr(eq + 1);
  }
  return variables;
}

// v2-era per-execution variables come from the request: a warm process's environment cannot
// change per call (runtimes/README.md).
void addExecutionVariables(Json::Value &variables, const RuntimeRequest &req) {
  std::string event = req.headers.get("x-appwrite-event", "").asString();
  variables["APPWRITE_FUNCTION_TRIGGER"] = req.headers.get("x-appwrite-trigger", "").asString();
  variables["APPWRITE_FUNCTION_EVENT"] = event;
  variables["APPWRITE_FUNCTION_EVENT_DATA"] = event.empty() ? "" : req.bodyText;
  variables["APPWRITE_FUNCTION_DATA"] = req.bodyText;
  variables["APPWRITE_FUNCTION_USER_ID"] = req.headers.get("x-appwrite-user-id", "").asString();
  variables["APPWRITE_FUNCTION_JWT"] = req.headers.get("x-appwrite-user-jwt", "").asString();
}

RuntimeRequest buildRequest(const HttpRequest &http) {
  RuntimeRequest req;
  req.method = http.method;
  req.headers = functionHeaders(http);

  std::string target = http.target.substr(0, http.target.find('#'));
  auto question = target.find('?');
  req.path = target.substr(0, question);
  req.queryString = question == std::string::npos ? "" : target.substr(question + 1);
  std::size_t start = 0;
  while (start <= req.queryString.size()) {
    auto amp = req.queryString.find('&', start);
    std::string param = req.queryString.substr(start, amp == std::string::npos ? std::string::npos : amp - start);
    auto eq = param.find('=');
    std::string key = param.substr(0, eq);
    if (!key.empty()) req.query[key] = eq == std::string::npos ? "" : param.substr(eq + 1);
    if (amp == std::string::npos) break;
    start = amp + 1;
  }

  std::string proto = http.header("x-forwarded-proto");
  req.scheme = proto.empty() ? "http" : proto;
  int defaultPort = req.scheme == "https" ? 443 : 80;
  std::string host = http.header("host");
  req.port = defaultPort;
  auto colon = host.rfind(':');
  if (colon != std::string::npos && host.find(']', colon) == std::string::npos) {
    req.port = std::atoi(host.substr(colon + 1).c_str());
    host = host.substr(0, colon);
  }
  req.host = host;
  req.url = req.scheme + "://" + req.host + (req.port != defaultPort ? ":" + std::to_string(req.port) : "") +
            req.path + (req.queryString.empty() ? "" : "?" + req.queryString);

  req.bodyBinary = runtime::detail::bytes(http.body);
  req.bodyText = http.body;
  req.bodyRaw = http.body;
  req.bodyJson = parseJson(http.body);
  if (startsWith(lower(req.headers.get("content-type", "").asString()), "application/json")) {
    req.body = http.body.empty() ? Json::Value(Json::objectValue) : req.bodyJson;
  } else {
    req.body = http.body;
  }

  req.payload = http.body;
  // The v2-era API's (copying the environment costs more than the rest of a call).
  if (legacyApi() || config().v2) req.variables = environment();
  return req;
}

// ---------------------------------------------------------------- response

struct HttpResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

HttpResponse plain(int status, const std::string &body) {
  return HttpResponse{status, {{"content-type", "text/plain; charset=utf-8"}}, body};
}

HttpResponse toHttp(const RuntimeOutput &output, const std::string &logId) {
  HttpResponse http;
  http.status = output.statusCode;
  http.body.assign(reinterpret_cast<const char *>(output.body.data()), output.body.size());
  std::string contentType = "text/plain";
  const Json::Value &headers = output.headers;
  for (auto it = headers.begin(); it != headers.end(); ++it) {
    std::string key = lower(it.name());
    if (startsWith(key, "x-open-runtimes-")) continue;
    if (key == "content-type") {
      contentType = lower(runtime::detail::stringify(*it));
      continue;
    }
    if (it->isArray()) {
      for (const auto &value : *it) http.headers.emplace_back(key, runtime::detail::stringify(value));
    } else {
      http.headers.emplace_back(key, runtime::detail::stringify(*it));
    }
  }
  if (!startsWith(contentType, "multipart/") && contentType.find("charset=") == std::string::npos) {
    contentType += "; charset=utf-8";
  }
  http.headers.emplace_back("content-type", contentType);
  http.headers.emplace_back("x-open-runtimes-log-id", logId);
  return http;
}

HttpResponse failure(int status, const std::string &logId) {
  RuntimeOutput output;
  output.statusCode = status;
  return toHttp(output, logId);
}

// ---------------------------------------------------------------- loader

enum class Api { Missing, Invalid, Context, Legacy };

template <class H, class = void>
struct IsComplete : std::false_type {};
template <class H>
struct IsComplete<H, std::void_t<decltype(sizeof(H))>> : std::true_type {};

template <class H, class = void>
struct HasContextMain : std::false_type {};
template <class H>
struct HasContextMain<H, std::void_t<decltype(H::main(std::declval<RuntimeContext &>()))>>
    : std::is_convertible<decltype(H::main(std::declval<RuntimeContext &>())), RuntimeOutput> {};

template <class H, class = void>
struct HasLegacyMain : std::false_type {};
template <class H>
struct HasLegacyMain<H, std::void_t<decltype(H::main(std::declval<const RuntimeRequest &>(),
                                                     std::declval<RuntimeResponse &>()))>> : std::true_type {};

template <class H>
struct Loader {
#ifdef OPR_ENTRY_MISSING
  static constexpr Api api = Api::Missing;
#else
  static constexpr Api api = std::conjunction_v<IsComplete<H>, HasContextMain<H>>  ? Api::Context
                             : std::conjunction_v<IsComplete<H>, HasLegacyMain<H>> ? Api::Legacy
                                                                                   : Api::Invalid;
#endif

  static std::string error() {
    if (api == Api::Missing) return "Failed to load entrypoint, file " + config().entrypoint + " does not exist.";
    if (api == Api::Invalid) return "Function signature invalid. Did you forget to export a 'main' function?";
    return "";
  }

  // Returns the handler's output; for a v2 handler, the response its last res.* call built.
  static RuntimeOutput call(RuntimeContext &context) {
    if constexpr (api == Api::Context) {
      return H::main(context);
    } else if constexpr (api == Api::Legacy) {
      const RuntimeRequest &req = context.req;
      RuntimeResponse &res = H::main(req, context.res);
      if (&res != &context.res) {
        context.res.last = res.last;
        context.res.lastJson = res.lastJson;
        context.res.lastIsJson = res.lastIsJson;
      }
      RuntimeOutput output = context.res.last;
      if (output.statusCode == 0) output = context.res.text("");
      return output;
    } else {
      return RuntimeOutput();
    }
  }
};

using UserFunction = Loader<runtime::Handler>;

bool legacyApi() { return UserFunction::api == Api::Legacy; }

std::string describeException(std::exception_ptr error) {
  std::string message;
  try {
    std::rethrow_exception(error);
  } catch (const std::exception &e) {
    int status = 0;
    char *name = abi::__cxa_demangle(typeid(e).name(), nullptr, nullptr, &status);
    message = std::string(status == 0 && name ? name : typeid(e).name()) + ": " + e.what();
    std::free(name);
  } catch (const std::string &e) {
    message = e;
  } catch (const char *e) {
    message = e;
  } catch (...) {
    message = "Unknown exception";
  }
  // No stack traces in C++: name where the exception escaped from.
  return message + "\n    at runtime::Handler::main (" + config().entrypoint + ")";
}

struct Outcome {
  enum Kind { Output, NoReturn, Error, TimedOut, Died } kind = Died;
  RuntimeOutput output;
  std::string message;
  Json::Value legacyJson;  // what a v2 handler passed to res.json(), for the v2 wire
};

bool writeAll(int fd, const std::string &data) {
  std::size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

// The call's process keeps only its own descriptors: a descriptor of another request's call
// (e.g. its result pipe) held here would delay that request.
void closeOtherDescriptors(std::vector<int> keep) {
  keep.erase(std::remove(keep.begin(), keep.end(), -1), keep.end());
  std::sort(keep.begin(), keep.end());
  // close_range over the gaps: a few calls instead of a scan of /proc/self/fd and a close per descriptor.
#ifdef SYS_close_range
  unsigned first = STDERR_FILENO + 1;
  bool ranges = true;
  for (int fd : keep) {
    if (fd < static_cast<int>(first)) continue;
    if (fd > static_cast<int>(first)) ranges = ranges && syscall(SYS_close_range, first, fd - 1, 0) == 0;
    first = static_cast<unsigned>(fd) + 1;
  }
  ranges = ranges && syscall(SYS_close_range, first, ~0U, 0) == 0;
  if (ranges) return;
#endif
  std::vector<int> open;  // a kernel without close_range (before 5.9)
  if (DIR *dir = opendir("/proc/self/fd")) {
    while (dirent *entry = readdir(dir)) {
      int fd = std::atoi(entry->d_name);
      if (fd > STDERR_FILENO && fd != dirfd(dir)) open.push_back(fd);
    }
    closedir(dir);
  }
  for (int fd : open)
    if (!std::binary_search(keep.begin(), keep.end(), fd)) close(fd);
}

// In the call's process: run the handler and send the outcome to the server as one JSON line
// followed by the body bytes.
[[noreturn]] void runCall(int resultFd, const HttpRequest &http, const Json::Value &variables, Logger *logger,
                          const Capture &capture) {
  capture.redirect();
  Json::Value head(Json::objectValue);
  std::string body;
  try {
    RuntimeContext context;
    context.req = buildRequest(http);
    if (!config().v2 && legacyApi()) addExecutionVariables(context.req.variables, context.req);
    for (auto it = variables.begin(); it != variables.end(); ++it)
      context.req.variables[it.name()] = runtime::detail::stringify(*it);
    if (logger) {
      context.logger = [logger](bool isError, const std::string &message) { logger->write(isError, message); };
    } else {
      // v2 wire: the function's logs are its stdout/stderr.
      context.logger = [](bool isError, const std::string &message) {
        Capture::flushStreams();
        writeAll(isError ? STDERR_FILENO : STDOUT_FILENO, truncateLog(message) + "\n");
      };
    }
    RuntimeOutput output = UserFunction::call(context);
    if (output.statusCode == 0) {
      head["kind"] = "noReturn";
    } else {
      head["kind"] = "output";
      head["statusCode"] = output.statusCode;
      head["headers"] = output.headers;
      head["bodyLength"] = static_cast<Json::UInt64>(output.body.size());
      if (UserFunction::api == Api::Legacy && context.res.lastIsJson) head["legacyJson"] = context.res.lastJson;
      body.assign(reinterpret_cast<const char *>(output.body.data()), output.body.size());
    }
  } catch (...) {
    head = Json::Value(Json::objectValue);
    head["kind"] = "error";
    head["message"] = describeException(std::current_exception());
    body.clear();
  }
  if (logger) logger->drainNative();
  Capture::flushStreams();
  writeAll(resultFd, runtime::detail::toJson(head) + "\n" + body);
  std::_Exit(0);
}

std::string describeExit(int status) {
  if (WIFSIGNALED(status)) {
    return "The function's process was killed by signal " + std::to_string(WTERMSIG(status)) + " (" +
           strsignal(WTERMSIG(status)) + ").";
  }
  return "The function's process exited with code " + std::to_string(WEXITSTATUS(status)) +
         " before returning a response.";
}

// Every call runs in a forked copy of the server. C++ code cannot be interrupted, and a process can
// be killed: that is how the soft timeout stops a handler that overruns x-open-runtimes-timeout, and
// why a crash or exit() in a handler fails only its own execution. The price: global state set by
// one call is not seen by the next (each starts from the server's memory).
Outcome invoke(const HttpRequest &http, const Json::Value &variables, int timeoutSeconds, Logger *logger,
               Capture &capture) {
  Outcome outcome;
  int pipeFds[2];
  if (pipe(pipeFds) != 0) {
    outcome.kind = Outcome::Error;
    outcome.message = std::string("Cannot start the function: ") + std::strerror(errno);
    return outcome;
  }
  pid_t server = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    close(pipeFds[0]);
    close(pipeFds[1]);
    outcome.kind = Outcome::Error;
    outcome.message = std::string("Cannot start the function: ") + std::strerror(errno);
    return outcome;
  }
  if (pid == 0) {
    // A call must not outlive its server (e.g. a hung call when the executor stops the instance).
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != server) std::_Exit(1);
    close(pipeFds[0]);
    std::vector<int> keep = {pipeFds[1], capture.out, capture.err};
    if (logger) {
      keep.push_back(logger->fileno(false));
      keep.push_back(logger->fileno(true));
    }
    closeOtherDescriptors(keep);
    runCall(pipeFds[1], http, variables, logger, capture);
  }
  close(pipeFds[1]);

  // Read "<json>\n<body>"; the JSON line carries the body length. A process the function started
  // may still hold the pipe, so stop at the frame's end rather than at end-of-file.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeoutSeconds);
  std::string frame;
  std::size_t expected = std::string::npos;
  bool exited = false, late = false;
  int status = 0;
  char buf[65536];
  while (expected == std::string::npos || frame.size() < expected) {
    int wait = 100;
    if (timeoutSeconds > 0) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        late = true;
        break;
      }
      wait = static_cast<int>(std::min<long long>(left.count(), 100));
    }
    pollfd p{pipeFds[0], POLLIN, 0};
    if (poll(&p, 1, wait) > 0) {
      ssize_t n = read(pipeFds[0], buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;  // every writer is gone
      frame.append(buf, static_cast<std::size_t>(n));
      std::size_t headEnd = frame.find('\n');
      if (expected == std::string::npos && headEnd != std::string::npos) {
        expected = headEnd + 1 + parseJson(frame.substr(0, headEnd)).get("bodyLength", 0).asUInt64();
      }
      continue;
    }
    if (waitpid(pid, &status, WNOHANG) == pid) {
      exited = true;
      // it may have written its answer between the poll and its exit
      while (poll(&p, 1, 0) > 0) {
        ssize_t n = read(pipeFds[0], buf, sizeof buf);
        if (n <= 0) break;
        frame.append(buf, static_cast<std::size_t>(n));
      }
      std::size_t headEnd = frame.find('\n');
      if (expected == std::string::npos && headEnd != std::string::npos) {
        expected = headEnd + 1 + parseJson(frame.substr(0, headEnd)).get("bodyLength", 0).asUInt64();
      }
      break;
    }
  }
  close(pipeFds[0]);
  if (late) kill(pid, SIGKILL);
  if (!exited) waitpid(pid, &status, 0);
  if (logger) logger->drainNative();
  if (late) {
    outcome.kind = Outcome::TimedOut;
    return outcome;
  }

  std::size_t headEnd = frame.find('\n');
  if (headEnd == std::string::npos || (expected != std::string::npos && frame.size() < expected)) {
    outcome.kind = Outcome::Died;
    outcome.message = describeExit(status);
    return outcome;
  }
  Json::Value head = parseJson(frame.substr(0, headEnd));
  std::string kind = head.get("kind", "").asString();
  if (kind == "output") {
    outcome.kind = Outcome::Output;
    outcome.output.statusCode = head["statusCode"].asInt();
    outcome.output.headers = head["headers"];
    outcome.output.body = runtime::detail::bytes(frame.substr(headEnd + 1, expected - headEnd - 1));
    outcome.legacyJson = head["legacyJson"];
  } else if (kind == "noReturn") {
    outcome.kind = Outcome::NoReturn;
  } else {
    outcome.kind = Outcome::Error;
    outcome.message = head.get("message", "").asString();
  }
  return outcome;
}

bool isPositiveInteger(const std::string &text) {
  if (text.empty() || text.size() > 9) return false;
  for (char c : text)
    if (c < '0' || c > '9') return false;
  return std::atoi(text.c_str()) > 0;
}

const char *NO_RETURN = "Return statement missing. return context.res.empty() if no response is expected.";

// v5 wire: the processing order of runtimes/README.md.
HttpResponse handleV5(const HttpRequest &http) {
  std::string path = http.target.substr(0, http.target.find('?'));
  if (http.method == "GET" && path == "/__opr/health") return plain(200, "OK");

  int timeout = 0;
  std::string timeoutHeader = http.header("x-open-runtimes-timeout");
  if (!timeoutHeader.empty()) {
    if (!isPositiveInteger(timeoutHeader)) {
      return plain(500, "Header \"x-open-runtimes-timeout\" must be an integer greater than 0.");
    }
    timeout = std::atoi(timeoutHeader.c_str());
  }

  if (!config().secret.empty() && http.header("x-open-runtimes-secret") != config().secret) {
    return plain(500, "Unauthorized. Provide correct \"x-open-runtimes-secret\" header.");
  }

  bool enabled = http.header("x-open-runtimes-logging") != "disabled";
  std::string logId = http.header("x-open-runtimes-log-id");
  if (logId.empty()) logId = config().development ? "dev" : generateLogId();
  Capture capture(false);
  Logger logger(enabled, logId, &capture);

  if (UserFunction::api == Api::Missing || UserFunction::api == Api::Invalid) {
    logger.write(true, UserFunction::error());
    return failure(503, logger.id());
  }

  Outcome outcome = invoke(http, Json::Value(Json::objectValue), timeout, &logger, capture);
  switch (outcome.kind) {
    case Outcome::Output:
      return toHttp(outcome.output, logger.id());
    case Outcome::NoReturn:
      logger.write(true, NO_RETURN);
      break;
    case Outcome::TimedOut:
      logger.write(true, "Execution timed out.");
      break;
    case Outcome::Error:
    case Outcome::Died:
      logger.write(true, outcome.message);
      break;
  }
  return failure(500, logger.id());
}

HttpResponse jsonResponse(int status, const Json::Value &body) {
  return HttpResponse{status, {{"content-type", "application/json"}}, runtime::detail::toJson(body)};
}

std::string trimNewlines(std::string text) {
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return text;
}

// v2 wire (INTERNAL_RUNTIME_KEY set): JSON in, {"response", "stdout", "stderr"} out.
HttpResponse handleV2(const HttpRequest &http) {
  Json::Value reply(Json::objectValue);
  if (http.header("x-internal-challenge") != config().v2Key) {
    reply["stderr"] = "Unauthorized";
    return jsonResponse(500, reply);
  }
  bool ok = false;
  Json::Value data = parseJson(http.body, &ok);
  if (!ok || !data.isObject()) data = Json::Value(Json::objectValue);
  reply["response"] = "";
  reply["stdout"] = "";

  if (UserFunction::api == Api::Missing || UserFunction::api == Api::Invalid) {
    reply["stderr"] = UserFunction::error();
    return jsonResponse(503, reply);
  }

  HttpRequest inner;
  inner.method = "POST";
  inner.target = "/";
  const Json::Value &payload = data["payload"];
  inner.body = payload.isString() ? payload.asString() : (payload.isNull() ? "" : runtime::detail::toJson(payload));
  const Json::Value &headers = data["headers"];
  if (headers.isObject()) {
    for (auto it = headers.begin(); it != headers.end(); ++it)
      inner.headers.emplace_back(lower(it.name()), runtime::detail::stringify(*it));
  }
  const Json::Value &variables = data["variables"].isObject() ? data["variables"] : Json::Value(Json::objectValue);
  int timeout = data["timeout"].isIntegral() && data["timeout"].asInt() > 0 ? data["timeout"].asInt() : 0;

  Capture capture(true);
  Outcome outcome = invoke(inner, variables, timeout, nullptr, capture);
  std::string logs = trimNewlines(capture.take(capture.out));
  std::string errors = trimNewlines(capture.take(capture.err));
  auto addError = [&errors](const std::string &message) { errors += (errors.empty() ? "" : "\n") + message; };
  int status = 500;
  switch (outcome.kind) {
    case Outcome::Output:
      status = outcome.output.statusCode;
      if (!outcome.legacyJson.isNull()) {
        reply["response"] = outcome.legacyJson;
      } else {
        reply["response"] = std::string(reinterpret_cast<const char *>(outcome.output.body.data()),
                                        outcome.output.body.size());
      }
      break;
    case Outcome::NoReturn:
      addError(NO_RETURN);
      break;
    case Outcome::TimedOut:
      addError("Execution timed out.");
      break;
    case Outcome::Error:
    case Outcome::Died:
      addError(outcome.message);
      break;
  }
  reply["stdout"] = logs;
  reply["stderr"] = errors;
  return jsonResponse(status, reply);
}

// ---------------------------------------------------------------- server

const std::size_t MAX_HEADER_BYTES = 1024 * 1024;
const std::size_t MAX_BODY_BYTES = 20 * 1024 * 1024;

const char *reason(int status) {
  static const std::map<int, const char *> reasons = {
      {100, "Continue"}, {200, "OK"}, {201, "Created"}, {202, "Accepted"}, {204, "No Content"},
      {301, "Moved Permanently"}, {302, "Found"}, {304, "Not Modified"}, {307, "Temporary Redirect"},
      {308, "Permanent Redirect"}, {400, "Bad Request"}, {401, "Unauthorized"}, {403, "Forbidden"},
      {404, "Not Found"}, {405, "Method Not Allowed"}, {408, "Request Timeout"}, {413, "Payload Too Large"},
      {418, "I'm a teapot"}, {429, "Too Many Requests"}, {500, "Internal Server Error"}, {502, "Bad Gateway"},
      {503, "Service Unavailable"}, {504, "Gateway Timeout"}};
  auto it = reasons.find(status);
  return it == reasons.end() ? "Status" : it->second;
}

bool sendAll(int fd, const std::string &data) {
  std::size_t sent = 0;
  while (sent < data.size()) {
    ssize_t n = send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return false;
    sent += static_cast<std::size_t>(n);
  }
  return true;
}

class Connection {
 public:
  explicit Connection(int fd) : fd_(fd) {}

  // Reads more bytes into the buffer; false on EOF, error or an idle keep-alive connection.
  bool fill() {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, 300000) <= 0) return false;
    char chunk[65536];
    ssize_t n = recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    buffer_.append(chunk, static_cast<std::size_t>(n));
    return true;
  }

  // 0 = request read, 1 = connection closed, otherwise an HTTP error status to answer.
  int read(HttpRequest &request, bool &keepAlive) {
    std::size_t end;
    while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (buffer_.size() > MAX_HEADER_BYTES) return 431;
      if (!fill()) return 1;
    }
    std::string head = buffer_.substr(0, end);
    buffer_.erase(0, end + 4);

    std::size_t lineEnd = head.find("\r\n");
    std::string line = head.substr(0, lineEnd);
    std::size_t sp1 = line.find(' '), sp2 = line.rfind(' ');
    if (sp1 == std::string::npos || sp2 == sp1) return 400;
    request.method = line.substr(0, sp1);
    request.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    std::string version = line.substr(sp2 + 1);
    if (request.target.empty() || request.target[0] != '/') {
      // absolute-form (http://host/path) or garbage
      auto scheme = request.target.find("://");
      if (scheme == std::string::npos) return 400;
      auto slash = request.target.find('/', scheme + 3);
      request.target = slash == std::string::npos ? "/" : request.target.substr(slash);
    }

    std::size_t pos = lineEnd == std::string::npos ? head.size() : lineEnd + 2;
    while (pos < head.size()) {
      std::size_t next = head.find("\r\n", pos);
      if (next == std::string::npos) next = head.size();
      std::string field = head.substr(pos, next - pos);
      pos = next + 2;
      auto colon = field.find(':');
      if (colon == std::string::npos) continue;
      std::string key = lower(field.substr(0, colon));
      std::string value = field.substr(colon + 1);
      value.erase(0, value.find_first_not_of(" \t"));
      value.erase(value.find_last_not_of(" \t") + 1);
      request.headers.emplace_back(key, value);
    }

    std::string connection = lower(request.header("connection"));
    keepAlive = version == "HTTP/1.1" ? connection != "close" : connection == "keep-alive";

    if (lower(request.header("expect")) == "100-continue") sendAll(fd_, "HTTP/1.1 100 Continue\r\n\r\n");

    if (lower(request.header("transfer-encoding")).find("chunked") != std::string::npos) {
      return readChunked(request.body);
    }
    std::string length = request.header("content-length");
    std::size_t size = length.empty() ? 0 : std::strtoull(length.c_str(), nullptr, 10);
    if (size > MAX_BODY_BYTES) {
      // Read the body anyway: closing with unread data resets the connection before the client
      // sees the 413.
      if (size <= 4 * MAX_BODY_BYTES) discard(size);
      return 413;
    }
    while (buffer_.size() < size)
      if (!fill()) return 1;
    request.body = buffer_.substr(0, size);
    buffer_.erase(0, size);
    return 0;
  }

  // A keep-alive connection must not hold on to the buffer of a large request.
  void compact() {
    if (buffer_.capacity() > 1024 * 1024) buffer_.shrink_to_fit();
  }

  bool write(const HttpResponse &response, bool keepAlive, bool headOnly) {
    std::string out = "HTTP/1.1 " + std::to_string(response.status) + " " + reason(response.status) + "\r\n";
    for (const auto &h : response.headers) out += h.first + ": " + h.second + "\r\n";
    out += "content-length: " + std::to_string(response.body.size()) + "\r\n";
    out += keepAlive ? "connection: keep-alive\r\n\r\n" : "connection: close\r\n\r\n";
    if (!headOnly) out += response.body;
    return sendAll(fd_, out);
  }

 private:
  int fd_;
  std::string buffer_;

  void discard(std::size_t size) {
    while (true) {
      std::size_t drop = std::min(size, buffer_.size());
      buffer_.erase(0, drop);
      size -= drop;
      if (size == 0 || !fill()) return;
    }
  }

  int readChunked(std::string &body) {
    while (true) {
      std::size_t lineEnd;
      while ((lineEnd = buffer_.find("\r\n")) == std::string::npos)
        if (!fill()) return 1;
      std::size_t size = std::strtoull(buffer_.substr(0, lineEnd).c_str(), nullptr, 16);
      buffer_.erase(0, lineEnd + 2);
      if (size == 0) {
        // trailers end with an empty line
        while (true) {
          while ((lineEnd = buffer_.find("\r\n")) == std::string::npos)
            if (!fill()) return 1;
          bool last = lineEnd == 0;
          buffer_.erase(0, lineEnd + 2);
          if (last) return 0;
        }
      }
      if (body.size() + size > MAX_BODY_BYTES) return 413;
      while (buffer_.size() < size + 2)
        if (!fill()) return 1;
      body.append(buffer_, 0, size);
      buffer_.erase(0, size + 2);
    }
  }
};

void serve(int fd) {
  Connection connection(fd);
  while (true) {
    HttpRequest request;
    bool keepAlive = false;
    int status = connection.read(request, keepAlive);
    if (status == 1) break;
    if (status != 0) {
      connection.write(plain(status, reason(status)), false, false);
      break;
    }
    HttpResponse response;
    try {
      response = config().v2 ? handleV2(request) : handleV5(request);
    } catch (const std::exception &e) {
      response = plain(500, std::string("Runtime error: ") + e.what());
    }
    bool sent = connection.write(response, keepAlive, request.method == "HEAD");
    connection.compact();
    if (!sent || !keepAlive) break;
  }
  close(fd);
}

int listenSocket() {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo *found = nullptr;
  std::string port = std::to_string(config().port);
  int rc = getaddrinfo(config().host.c_str(), port.c_str(), &hints, &found);
  if (rc != 0) {
    std::cerr << "Cannot resolve " << config().host << ": " << gai_strerror(rc) << std::endl;
    std::exit(1);
  }
  int fd = -1;
  for (addrinfo *ai = found; ai; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (fd < 0) continue;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 128) == 0) break;
    close(fd);
    fd = -1;
  }
  freeaddrinfo(found);
  if (fd < 0) {
    std::cerr << "Cannot listen on " << config().host << ":" << config().port << ": " << std::strerror(errno)
              << std::endl;
    std::exit(1);
  }
  return fd;
}

int run() {
  signal(SIGPIPE, SIG_IGN);
  // Large request bodies go back to the system when freed: a fork copies the page tables of
  // everything the server still holds, so a bloated heap would slow every later call.
  mallopt(M_MMAP_THRESHOLD, 256 * 1024);
  config();
  int server = listenSocket();
  std::cout << "HTTP server successfully started!" << std::endl;
  while (true) {
    int client = accept(server, nullptr, nullptr);
    if (client < 0) {
      if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE || errno == ENFILE) continue;
      std::perror("accept");
      return 1;
    }
    int one = 1;
    setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::thread(serve, client).detach();
  }
}
}  // namespace opr

int main() { return opr::run(); }
