"""Python runtime adapter: serves one user function over the open-runtimes v5 wire contract (or the
v2 wire when INTERNAL_RUNTIME_KEY is set). Stdlib only, Python >= 3.10. See runtimes/README.md."""
from __future__ import annotations

import contextvars
import heapq
import http
import importlib
import importlib.machinery
import importlib.util
import inspect
import io
import json
import os
import secrets
import socket
import socketserver
import sys
import threading
import time
import traceback

# ---------------------------------------------------------------------------------------------
# config

HOST = os.environ.get("OPEN_RUNTIMES_HOST", "0.0.0.0")
PORT = int(os.environ.get("OPEN_RUNTIMES_PORT", "3000"))
CODE_DIR = os.path.abspath(os.environ.get("OPEN_RUNTIMES_CODE_DIR", "/usr/local/server/src/function"))
LOGS_DIR = os.environ.get("OPEN_RUNTIMES_LOGS_DIR", "/mnt/logs")
SECRET = os.environ.get("OPEN_RUNTIMES_SECRET", "")
DEVELOPMENT = os.environ.get("OPEN_RUNTIMES_ENV", "production") == "development"
V2_KEY = os.environ.get("INTERNAL_RUNTIME_KEY")
ENTRYPOINT = (os.environ.get("INTERNAL_RUNTIME_ENTRYPOINT") if V2_KEY is not None else None) \
    or os.environ.get("OPEN_RUNTIMES_ENTRYPOINT") or "main.py"
MAX_BODY = 20 * 1024 * 1024
MAX_LOG_CHARS = 8000
# What one call may leave in each log file: the executor reads 5 MiB and notes the truncation when
# there is more, so one character past that is all it needs; a flood stops growing this process.
LOG_FILE_CHARS = 5 * 1024 * 1024 + 1
TRUNCATED = "... Log truncated due to size limit (8000 characters)"
NATIVE_NOTICE = "Native logs detected. Use context.log() or context.error() for better experience."
TIMEOUT_ERROR = 'Header "x-open-runtimes-timeout" must be an integer greater than 0.'
UNAUTHORIZED = 'Unauthorized. Provide correct "x-open-runtimes-secret" header.'
NO_RETURN = "Return statement missing. return context.res.empty() if no response is expected."


def _enforced_headers() -> dict[str, str]:
    try:
        value = json.loads(os.environ.get("OPEN_RUNTIMES_HEADERS") or "{}")
    except ValueError:
        return {}
    if not isinstance(value, dict):
        return {}
    return {str(k).lower(): v if isinstance(v, str) else json.dumps(v) for k, v in value.items()}


ENFORCED_HEADERS = _enforced_headers()

# ---------------------------------------------------------------------------------------------
# logging

# The sink native output of the current call goes to; a ContextVar so that concurrent calls (each in
# its own thread, or asyncio tasks started by it) never see each other's output.
_native_sink: contextvars.ContextVar = contextvars.ContextVar("native_sink", default=None)


class _NativeStream(io.TextIOBase):
    """Stands in for sys.stdout/sys.stderr: output of a running call is captured, the rest passes through."""

    def __init__(self, real, kind: str):
        self._real = real
        self._kind = kind

    def write(self, text):
        sink = _native_sink.get()
        if sink is None:
            return self._real.write(text)
        sink(self._kind, str(text))
        return len(text)

    def flush(self):
        if _native_sink.get() is None:
            self._real.flush()

    def writable(self):
        return True

    def isatty(self):
        return False

    def fileno(self):
        return self._real.fileno()

    @property
    def encoding(self):
        return getattr(self._real, "encoding", "utf-8")

    @property
    def buffer(self):
        return _NativeBuffer(self)


class _NativeBuffer:
    """`sys.stdout.buffer` of the stand-in: bytes written during a call are captured too."""

    def __init__(self, stream: _NativeStream):
        self._stream = stream

    def write(self, data) -> int:
        if _native_sink.get() is None:
            return self._stream._real.buffer.write(data)
        self._stream.write(bytes(data).decode("utf-8", "replace"))
        return len(data)

    def flush(self) -> None:
        self._stream.flush()

    def __getattr__(self, name):
        return getattr(self._stream._real.buffer, name)


def _stringify(message) -> str:
    if isinstance(message, (dict, list, tuple)):
        try:
            return json.dumps(message, separators=(",", ":"), ensure_ascii=False, default=str)
        except (TypeError, ValueError):
            return str(message)
    return str(message)


def _new_log_id() -> str:
    now = time.time()
    return f"{int(now):08x}{int((now % 1) * 1_000_000):05x}{secrets.token_hex(4)[:7]}"


class Logger:
    """Collects one call's logs and errors; `end()` appends them to `<id>_logs.log` / `<id>_errors.log`."""

    def __init__(self, logging_header: str, log_id_header: str, native_notice: bool = True):
        self.enabled = logging_header.lower() != "disabled"
        self.id = (log_id_header or ("dev" if DEVELOPMENT else _new_log_id())) if self.enabled else ""
        self.logs: list[str] = []
        self.errors: list[str] = []
        self._room = {"log": LOG_FILE_CHARS, "error": LOG_FILE_CHARS}
        self.native_notice = native_notice
        self._native_seen = False
        self._open = True

    def write(self, kind: str, messages) -> None:
        if not self._open:
            return  # a timed-out call that keeps running must not write into a finished call's logs
        text = " ".join(_stringify(m) for m in messages)
        if len(text) > MAX_LOG_CHARS:
            text = text[:MAX_LOG_CHARS] + TRUNCATED
        self._append(kind, text + "\n")

    def native(self, kind: str, text: str) -> None:
        if not self._open or not text:
            return
        if kind == "log" and not self._native_seen:
            self._native_seen = True
            if self.native_notice:
                self._append("log", NATIVE_NOTICE + "\n")
        self._append(kind, text)

    def _append(self, kind: str, text: str) -> None:
        kind = "error" if kind == "error" else "log"
        room = self._room[kind]
        if room <= 0:
            return
        if len(text) > room:
            text = text[:room]
        self._room[kind] = room - len(text)
        (self.errors if kind == "error" else self.logs).append(text)

    def end(self) -> None:
        self._open = False
        if not self.enabled:
            return
        base = os.path.join(LOGS_DIR, self.id.replace("/", "_"))
        for suffix, chunks in (("_logs.log", self.logs), ("_errors.log", self.errors)):
            fd = os.open(base + suffix, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            try:
                data = "".join(chunks).encode("utf-8", "replace")
                while data:
                    data = data[os.write(fd, data):]
            finally:
                os.close(fd)

    def text(self, kind: str) -> str:
        return "".join(self.errors if kind == "error" else self.logs)


# ---------------------------------------------------------------------------------------------
# request / context


class Request:
    def __init__(self, method: str, target: str, headers: dict[str, str], body: bytes):
        self.method = method
        self.body_binary = body
        self.headers = headers
        target = target.split("#", 1)[0]
        if "://" in target and not target.startswith("/"):  # absolute-form request target
            target = "/" + target.split("://", 1)[1].partition("/")[2]
        self.path, _, self.query_string = target.partition("?")
        self.query: dict[str, str] = {}
        for part in self.query_string.split("&"):
            key, _, value = part.partition("=")
            if key:
                self.query[key] = value
        self.scheme = headers.get("x-forwarded-proto", "http")
        default_port = 443 if self.scheme == "https" else 80
        host = headers.get("host", "")
        port = ""
        if host.startswith("["):  # [ipv6]:port
            end = host.find("]")
            host, port = host[: end + 1], host[end + 2:]
        elif ":" in host:
            host, _, port = host.partition(":")
        self.host = host
        self.port = int(port) if port.isdigit() else default_port
        self.url = f"{self.scheme}://{self.host}" + (f":{self.port}" if self.port != default_port else "") + self.path
        if self.query_string:
            self.url += "?" + self.query_string

    @property
    def body_text(self) -> str:
        return self.body_binary.decode("utf-8")

    @property
    def body_json(self):
        return json.loads(self.body_text)

    @property
    def body_raw(self) -> str:
        return self.body_text

    @property
    def body(self):
        if self.headers.get("content-type", "text/plain").lower().startswith("application/json"):
            return self.body_json if self.body_binary else {}
        return self.body_text

    # Dict-style access keeps `context.req["body"]`-style code from older examples working.
    def __getitem__(self, key):
        return getattr(self, key)


class Response:
    """Builds response values; only the one the function returns counts."""

    @staticmethod
    def _out(body, status, headers, status_code):
        return {"body": body, "statusCode": status if status_code is None else status_code,
                "headers": dict(headers or {})}

    def binary(self, bytes, statusCode=200, headers=None, *, status_code=None):  # noqa: A002 (official name)
        return self._out(bytes, statusCode, headers, status_code)

    def text(self, body, statusCode=200, headers=None, *, status_code=None):
        return self._out(str(body).encode("utf-8"), statusCode, headers, status_code)

    def send(self, body, statusCode=200, headers=None, *, status_code=None):
        return self._out(body, statusCode, headers, status_code)

    def json(self, obj, statusCode=200, headers=None, *, status_code=None):
        headers = dict(headers or {})
        headers["content-type"] = "application/json"
        body = json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        return self._out(body, statusCode, headers, status_code)

    def empty(self):
        return self._out(b"", 204, {}, None)

    def redirect(self, url, statusCode=301, headers=None, *, status_code=None):
        headers = dict(headers or {})
        headers["location"] = url
        return self._out(b"", statusCode, headers, status_code)


class Context:
    def __init__(self, req: Request, logger: Logger):
        self.req = req
        self.res = Response()
        self._logger = logger

    def log(self, *messages) -> None:
        self._logger.write("log", messages)

    def error(self, *messages) -> None:
        self._logger.write("error", messages)


def legacy_variables(payload: str, headers: dict) -> dict:
    """The environment plus the per-execution variables of the v2 era, taken from the request
    because a warm process's environment cannot change per call (runtimes/README.md)."""
    event = headers.get("x-appwrite-event", "")
    return {**os.environ,
            "APPWRITE_FUNCTION_TRIGGER": headers.get("x-appwrite-trigger", ""),
            "APPWRITE_FUNCTION_EVENT": event,
            "APPWRITE_FUNCTION_EVENT_DATA": payload if event else "",
            "APPWRITE_FUNCTION_DATA": payload,
            "APPWRITE_FUNCTION_USER_ID": headers.get("x-appwrite-user-id", ""),
            "APPWRITE_FUNCTION_JWT": headers.get("x-appwrite-user-jwt", "")}


class LegacyRequest:
    def __init__(self, payload: str, variables: dict, headers: dict):
        self.payload = payload
        self.variables = variables
        self.headers = headers

    def __getitem__(self, key):
        return getattr(self, key)


class LegacyResponse:
    def __init__(self):
        self.body = None
        self.status = 200
        self.is_json = False

    def send(self, text="", status=200):
        self.body, self.status, self.is_json = "" if text is None else str(text), int(status), False
        return self

    def json(self, obj, status=200):
        self.body, self.status, self.is_json = obj, int(status), True
        return self


def request_headers(received: dict[str, str]) -> dict[str, str]:
    """The function's view of the request headers (names already lower case): the executor's own
    x-open-runtimes-* left out, the enforced ones on top."""
    headers = {key: value for key, value in received.items() if not key.startswith("x-open-runtimes-")}
    headers.update(ENFORCED_HEADERS)
    return headers


# ---------------------------------------------------------------------------------------------
# response


def _encode_body(body) -> bytes:
    if body is None:
        return b""
    if isinstance(body, (bytes, bytearray, memoryview)):
        return bytes(body)
    if isinstance(body, (dict, list)):
        return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return str(body).encode("utf-8")


def response_headers(headers: dict) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    content_type = "text/plain"
    for key, value in (headers or {}).items():
        key = str(key).lower().strip()
        if key.startswith("x-open-runtimes-") or key in ("content-length", "transfer-encoding", "connection"):
            continue
        if key == "content-type":
            content_type = str(value)
            continue
        for item in value if isinstance(value, (list, tuple)) else [value]:
            out.append((key, str(item)))
    media, sep, params = content_type.partition(";")
    content_type = media.strip().lower() + sep + params
    if not content_type.startswith("multipart/") and "charset=" not in content_type.lower():
        content_type += "; charset=utf-8"
    out.insert(0, ("content-type", content_type))
    return out


# ---------------------------------------------------------------------------------------------
# loader


class LoadError(Exception):
    pass


_handler = None
_load_lock = threading.Lock()


def _entry_module_name(entrypoint: str) -> str | None:
    parts = entrypoint.replace("\\", "/").lstrip("./").split("/")
    if not parts[-1].endswith(".py"):
        return None
    parts[-1] = parts[-1][:-3]
    if any(not p or "." in p for p in parts):
        return None
    return "function." + ".".join(parts)


def _import_entry(path: str):
    # The user's tree is the package `function`, so relative imports work like in the official
    # image; the code dir and the entry's own dir are on sys.path for sibling imports.
    for directory in (CODE_DIR, os.path.dirname(path)):
        if directory not in sys.path:
            sys.path.insert(0, directory)
    if "function" not in sys.modules:
        spec = importlib.machinery.ModuleSpec("function", None, is_package=True)
        spec.submodule_search_locations = [CODE_DIR]
        package = importlib.util.module_from_spec(spec)
        sys.modules["function"] = package
    name = _entry_module_name(os.path.relpath(path, CODE_DIR))
    if name is None:
        spec = importlib.util.spec_from_file_location("function_entry", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    importlib.invalidate_caches()
    return importlib.import_module(name)


def load_handler():
    """Returns (main, legacy). Raises LoadError with the message for the errors file."""
    global _handler
    if _handler is not None:
        return _handler
    with _load_lock:
        if _handler is not None:
            return _handler
        path = os.path.join(CODE_DIR, ENTRYPOINT)
        if not os.path.isfile(path):
            raise LoadError(f"Failed to load entrypoint, file {ENTRYPOINT} does not exist.")
        try:
            module = _import_entry(path)
        except SyntaxError as exc:
            file = exc.filename or ENTRYPOINT
            if os.path.isabs(file) and file.startswith(CODE_DIR + os.sep):
                file = os.path.relpath(file, CODE_DIR)
            raise LoadError(f"Syntax error in {file}: {exc.msg} (line {exc.lineno})") from None
        except BaseException as exc:  # noqa: BLE001 (user module code can raise anything, SystemExit too)
            raise LoadError("Failed to load module: " + _trace(exc)) from None
        main = getattr(module, "main", None)
        if not callable(main):
            raise LoadError("Function signature invalid. Did you forget to export a 'main' function?")
        _handler = (main, _takes_two_arguments(main))
        return _handler


def _takes_two_arguments(fn) -> bool:
    """Legacy `main(req, res)` vs `main(context)`, told apart by the parameter count."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2


class _Watchdog(threading.Thread):
    """The soft timeout: answers a call that is past its deadline while the call keeps running on its
    connection's thread. One thread for all calls, woken only by a deadline earlier than the one it
    sleeps until, so a call that ends in time costs a heap push and no thread switch."""

    def __init__(self):
        super().__init__(daemon=True, name="timeout-watchdog")
        self._cond = threading.Condition(threading.Lock())
        self._heap: list[list] = []  # [deadline, sequence, _Call or None once it ended]
        self._sequence = 0
        self._wake_at = float("inf")
        self._compact_at = 64
        self.start()

    def watch(self, call: "_Call", seconds: int) -> list:
        entry = [time.monotonic() + seconds, 0, call]
        with self._cond:
            self._sequence += 1
            entry[1] = self._sequence
            heapq.heappush(self._heap, entry)
            if len(self._heap) >= self._compact_at:
                # Ended calls are dropped lazily; this keeps them from piling up between wake-ups.
                self._heap = [e for e in self._heap if e[2] is not None]
                heapq.heapify(self._heap)
                self._compact_at = 2 * len(self._heap) + 64
            if entry[0] < self._wake_at:
                self._cond.notify()
        return entry

    def run(self):
        with self._cond:
            while True:
                now = time.monotonic()
                heap = self._heap
                wake_at = float("inf")
                while heap and (heap[0][2] is None or heap[0][0] <= now):
                    deadline, _, call = heapq.heappop(heap)
                    if call is not None:
                        call.expire()
                    elif deadline > now:
                        # Sleeping until an ended call's deadline rather than until notified
                        # spares the next calls (all due later) a wake-up each.
                        wake_at = deadline
                self._wake_at = heap[0][0] if heap else wake_at
                self._cond.wait(None if self._wake_at == float("inf") else self._wake_at - now)


_watchdog: _Watchdog | None = None
_event_loops = threading.local()  # one per connection thread, reused by its async calls


class _Call:
    """One handler call, run on the thread of the connection that asked for it. With a timeout, the
    watchdog answers in its place when the deadline passes (`on_timeout`, on a thread of its own);
    whichever of the two takes `answered` first is the one that replies."""

    def __init__(self, fn, args, logger: Logger):
        self.fn, self.args, self.logger = fn, args, logger
        self.value = None
        self.error: BaseException | None = None
        self.answered = threading.Lock()
        self.on_timeout = None
        self.timeout_answered: threading.Event | None = None
        self.loop = None
        self.task = None

    def run(self, timeout: int | None, on_timeout) -> bool:
        """Runs the handler; True when this thread answers, False when the timeout already has."""
        global _watchdog
        entry = None
        if timeout:
            if _watchdog is None:
                with _load_lock:
                    if _watchdog is None:
                        _watchdog = _Watchdog()
            self.on_timeout = on_timeout
            entry = _watchdog.watch(self, timeout)
        _native_sink.set(self.logger.native)
        try:
            value = self.fn(*self.args)
            if inspect.isawaitable(value):
                import asyncio  # here, not at the top: its import is a quarter of a start, and only async functions need it

                loop = getattr(_event_loops, "loop", None)
                if loop is None or loop.is_closed():
                    loop = _event_loops.loop = asyncio.new_event_loop()
                    asyncio.set_event_loop(loop)
                self.task = loop.create_task(_await(value))
                self.loop = loop
                value = loop.run_until_complete(self.task)
            self.value = value
        except BaseException as exc:  # noqa: BLE001 (SystemExit from user code must not kill the server)
            self.error = exc
        finally:
            _native_sink.set(None)
        if entry is not None:
            entry[2] = None
        if self.answered.acquire(False):
            return True
        self.timeout_answered.wait()  # the connection must stay open until that answer is out
        return False

    def expire(self) -> None:
        """The deadline passed (watchdog thread): answer unless the call already has."""
        self.timeout_answered = threading.Event()  # set before `answered` is taken: run() waits on it
        if self.answered.acquire(False):
            threading.Thread(target=self._answer_timeout, daemon=True, name="timeout-answer").start()

    def _answer_timeout(self) -> None:
        try:
            self.on_timeout()
        finally:
            self.timeout_answered.set()
            loop, task = self.loop, self.task
            if loop is not None and task is not None:
                try:
                    loop.call_soon_threadsafe(task.cancel)
                except RuntimeError:
                    pass


async def _await(awaitable):
    return await awaitable


_ADAPTER_FRAMES = (os.path.abspath(__file__), os.path.join(os.path.dirname(os.__file__), "asyncio") + os.sep,
                   os.path.dirname(importlib.__file__) + os.sep, "<frozen ")


def _trace(exc: BaseException) -> str:
    """The user's part of the stack trace (leading adapter, asyncio and import frames are noise)."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None and \
            tb.tb_frame.f_code.co_filename.startswith(_ADAPTER_FRAMES):
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb)).rstrip("\n")


# ---------------------------------------------------------------------------------------------
# server


_PHRASES = {status.value: status.phrase for status in http.HTTPStatus}
MAX_LINE = 65536
MAX_HEADERS = 1000  # Appwrite allows 100 user headers and adds its own and the executor's on top


class _BadRequest(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class Connection(socketserver.StreamRequestHandler):
    """One client connection, on its own thread: requests are parsed here (the stdlib's
    BaseHTTPRequestHandler parses headers with the email package, which costs more than the rest of
    a warm call) and each call runs right on this thread, so a call is no thread switch."""

    disable_nagle_algorithm = True

    def handle(self):
        self.close_connection = False
        while not self.close_connection:
            try:
                if not self.read_request():
                    return
            except _BadRequest as exc:
                self.command, self.close_connection = "", True
                self.reply(exc.status, str(exc).encode())
                return
            self.dispatch()

    def read_request(self) -> bool:
        """Reads the request line and headers into command/path/headers; False at the end of the connection."""
        line = self.rfile.readline(MAX_LINE + 1)
        while line in (b"\r\n", b"\n"):  # empty lines before a request are allowed (RFC 9112 2.2)
            line = self.rfile.readline(MAX_LINE + 1)
        if not line:
            return False
        if len(line) > MAX_LINE:
            raise _BadRequest(414, "Request line too long.")
        parts = line.decode("latin-1").split()
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            raise _BadRequest(400, "Bad request.")
        self.command, self.path, version = parts
        headers: dict[str, str] = {}
        name = ""
        while True:
            line = self.rfile.readline(MAX_LINE + 1)
            if len(line) > MAX_LINE:
                raise _BadRequest(431, "Request header too long.")
            if line in (b"\r\n", b"\n", b""):
                break
            if len(headers) >= MAX_HEADERS:
                raise _BadRequest(431, "Too many request headers.")
            text = line.decode("latin-1")
            if text[0] in " \t" and name:  # obsolete line folding: continues the previous value
                headers[name] += " " + text.strip()
                continue
            name, sep, value = text.partition(":")
            name = name.strip().lower()
            if not sep or not name:
                raise _BadRequest(400, "Bad request header.")
            headers[name] = value.strip()
        self.headers = headers
        connection = headers.get("connection", "").lower()
        self.close_connection = "close" in connection if version != "HTTP/1.0" else "keep-alive" not in connection
        if headers.get("expect", "").lower() == "100-continue" and version != "HTTP/1.0":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        return True

    # -- plumbing --

    def read_body(self) -> bytes | None:
        """The request body, or None when it is over the 20 MB limit (then it is drained)."""
        if "chunked" in self.headers.get("transfer-encoding", "").lower():
            chunks, size = [], 0
            while True:
                line = self.rfile.readline(65537)
                length = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if length == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                size += length
                data = self.rfile.read(length)
                if size <= MAX_BODY:
                    chunks.append(data)
                self.rfile.readline(65537)
            return b"".join(chunks) if size <= MAX_BODY else None
        length_header = self.headers.get("content-length", "")
        length = int(length_header) if length_header.isdigit() else 0
        if length > MAX_BODY:
            remaining = length
            while remaining > 0:
                got = self.rfile.read(min(remaining, 1 << 20))
                if not got:
                    break
                remaining -= len(got)
            return None
        return self.rfile.read(length) if length else b""

    def reply(self, status: int, body: bytes = b"", headers: list[tuple[str, str]] | None = None,
              content_type: str | None = "text/plain; charset=utf-8", close: bool = False) -> None:
        head = f"HTTP/1.1 {status} {_PHRASES.get(status, 'Unknown')}\r\n"
        if content_type is not None:
            head += f"content-type: {content_type}\r\n"
        for key, value in headers or ():
            if "\r" in value or "\n" in value:
                value = value.replace("\r", "").replace("\n", "")
            head += f"{key}: {value}\r\n"
        head += f"content-length: {len(body)}\r\n"
        if close or self.close_connection:
            head += "connection: close\r\n"
        data = (head + "\r\n").encode("latin-1", "replace")
        if self.command == "HEAD":
            self.wfile.write(data)
        elif len(body) < 65536:
            self.wfile.write(data + body)
        else:
            self.wfile.write(data)
            self.wfile.write(body)

    def reply_timed_out(self, status: int, body: bytes, headers=None, content_type=None) -> None:
        """The soft timeout's answer, from the watchdog's side while the call still runs on this
        connection's thread: the connection closes so the client's next request gets a fresh one."""
        try:
            self.reply(status, body, headers, content_type, close=True)
            self.connection.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    # -- requests --

    def dispatch(self):
        body = self.read_body()
        if self.command == "GET" and self.path.partition("?")[0] == "/__opr/health":
            return self.reply(200, b"OK")
        if body is None:
            return self.reply(413, b"Request body is larger than 20 MB.")
        if V2_KEY is not None:
            return self.serve_v2(body)
        return self.serve_v5(body)

    def serve_v5(self, body: bytes) -> None:
        timeout_header = self.headers.get("x-open-runtimes-timeout", "")
        timeout = None
        if timeout_header:
            if not timeout_header.isdigit() or int(timeout_header) == 0:
                return self.reply(500, TIMEOUT_ERROR.encode())
            timeout = int(timeout_header)
        if SECRET and self.headers.get("x-open-runtimes-secret", "") != SECRET:
            return self.reply(500, UNAUTHORIZED.encode())

        logger = Logger(self.headers.get("x-open-runtimes-logging", ""), self.headers.get("x-open-runtimes-log-id", ""))

        def timed_out():
            logger.write("error", ["Execution timed out."])
            logger.end()
            self.reply_timed_out(500, b"", response_headers({}) + [("x-open-runtimes-log-id", logger.id)])

        try:
            outcome = self.execute(body, timeout, logger, timed_out)
        except Exception as exc:  # noqa: BLE001 (an adapter bug must still answer)
            logger.write("error", [_trace(exc)])
            outcome = 500, b"", response_headers({})
        if outcome is None:  # the timeout answered and closed the connection
            self.close_connection = True
            return
        status, out_body, out_headers = outcome
        out_headers.append(("x-open-runtimes-log-id", logger.id))
        logger.end()
        self.reply(status, out_body, out_headers, content_type=None)

    def execute(self, body: bytes, timeout: int | None, logger: Logger, timed_out):
        try:
            main, legacy = load_handler()
        except LoadError as exc:
            logger.write("error", [str(exc)])
            return 503, b"", response_headers({})
        headers = request_headers(self.headers)
        if legacy:
            logger.native_notice = False  # native output is how legacy functions log
            payload = body.decode("utf-8", "replace")
            req = LegacyRequest(payload, legacy_variables(payload, headers), headers)
            res = LegacyResponse()
            call = _Call(main, (req, res), logger)
        else:
            context = Context(Request(self.command, self.path, headers, body), logger)
            call = _Call(main, (context,), logger)

        if not call.run(timeout, timed_out):
            return None
        if call.error is not None:
            logger.write("error", [_trace(call.error)])
            return 500, b"", response_headers({})
        if legacy:
            if res.body is None:
                return res.status, b"", response_headers({})
            if res.is_json:
                return res.status, _encode_body(res.body), response_headers({"content-type": "application/json"})
            return res.status, _encode_body(res.body), response_headers({})
        output = call.value
        if output is None:
            logger.write("error", [NO_RETURN])
            return 500, b"", response_headers({})
        if not isinstance(output, dict) or "body" not in output:
            logger.write("error", ["Return value must be built with context.res (text, json, binary, empty, "
                                   f"redirect); got {type(output).__name__}."])
            return 500, b"", response_headers({})
        try:
            status = int(output.get("statusCode", 200))
        except (TypeError, ValueError):
            status = 500
        return status, _encode_body(output.get("body")), response_headers(output.get("headers") or {})

    def serve_v2(self, body: bytes) -> None:
        def answer(status, data, close=False):
            encoded = json.dumps(data, ensure_ascii=False).encode("utf-8")
            if close:
                return self.reply_timed_out(status, encoded, content_type="application/json")
            self.reply(status, encoded, content_type="application/json")

        if self.headers.get("x-internal-challenge", "") != V2_KEY:
            return answer(500, {"stderr": "Unauthorized"})
        try:
            data = json.loads(body or b"{}")
            if not isinstance(data, dict):
                raise ValueError
        except ValueError:
            return answer(500, {"stderr": "No data received"})
        payload = data.get("payload")
        if payload is None:
            payload = ""
        elif not isinstance(payload, str):
            payload = json.dumps(payload)
        variables = data.get("variables") if isinstance(data.get("variables"), dict) else {}
        headers = {str(k).lower(): str(v) for k, v in (data.get("headers") or {}).items()} \
            if isinstance(data.get("headers"), dict) else {}
        timeout = data.get("timeout") if isinstance(data.get("timeout"), int) and data["timeout"] > 0 else None

        logger = Logger("disabled", "", native_notice=False)

        def outputs():
            logger._open = False
            return logger.text("log").rstrip("\n"), logger.text("error").rstrip("\n")

        def timed_out():
            stdout, stderr = outputs()
            answer(500, {"response": "", "stdout": stdout, "stderr": (stderr + "\nExecution timed out.").strip()},
                   close=True)

        try:
            main, legacy = load_handler()
        except LoadError as exc:
            return answer(500, {"response": "", "stdout": "", "stderr": str(exc)})
        if legacy:
            res = LegacyResponse()
            call = _Call(main, (LegacyRequest(payload, variables, headers), res), logger)
        else:
            request = Request("POST", "/", {"content-type": "text/plain", **headers}, payload.encode("utf-8"))
            call = _Call(main, (Context(request, logger),), logger)
        if not call.run(timeout, timed_out):
            self.close_connection = True
            return
        stdout, stderr = outputs()
        if call.error is not None:
            return answer(500, {"response": "", "stdout": stdout, "stderr": (stderr + "\n" + _trace(call.error)).strip()})
        if legacy:
            response = "" if res.body is None else res.body
            return answer(res.status, {"response": response, "stdout": stdout, "stderr": stderr})
        output = call.value if isinstance(call.value, dict) else {"body": b"", "statusCode": 500}
        raw = _encode_body(output.get("body")).decode("utf-8", "replace")
        content_type = str((output.get("headers") or {}).get("content-type", "")).lower()
        response = raw
        if content_type.startswith("application/json"):
            try:
                response = json.loads(raw)
            except ValueError:
                pass
        return answer(int(output.get("statusCode", 200)), {"response": response, "stdout": stdout, "stderr": stderr})


class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 256


def main() -> None:
    sys.stdout = _NativeStream(sys.stdout, "log")
    sys.stderr = _NativeStream(sys.stderr, "error")
    if V2_KEY is None:
        os.makedirs(LOGS_DIR, exist_ok=True)
    server = Server((HOST, PORT), Connection)
    print("HTTP server successfully started!", flush=True)

    def preload():
        try:
            load_handler()
        except LoadError:
            pass  # reported to the errors file of the next request

    threading.Thread(target=preload, daemon=True, name="preload").start()
    try:
        server.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
