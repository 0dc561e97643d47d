"""Shared contract harness: the open-runtimes acceptance behaviour (§7.3 of the reference) as checks
that any runtime adapter can be run against.

A *driver* sends requests to one running function and returns `Result`s. Checks only use
`driver.request(...)`, `driver.level` ("runtime" for `DirectDriver`, "emulator" for a driver that
goes through the emulator's REST API), `driver.runtime` and `driver.api`; checks marked `direct`
also use the wire-level extras of `DirectDriver` (secret, log ids, log files, server output).

The driver interface every check relies on:

    driver.request(method="POST", path="/", headers: dict | list[tuple] | None = None,
                   body: bytes | str = b"", *, timeout=<default>, read_timeout=30.0) -> Result

`timeout` is the execution timeout in seconds (DirectDriver: the `x-open-runtimes-timeout` header;
an API driver: the function's timeout). Direct-only checks also pass `secret=`, `logging=` and
`log_id=`, and read `driver.logs_dir` and `driver.server_output()`.

    driver = DirectDriver("python-3.11", api="context")
    driver.start(); results = run_suite(driver); driver.stop()
    print(format_table({"python-3.11/context": results}))
"""
from __future__ import annotations

import concurrent.futures
import hashlib
import http.client
import json
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from .hostbuild import build_on_host
from .languages import language_for_runtime

# Values the official harness starts its main test server with (§7.1).
ENFORCED_HEADERS = '{"x-custom":"value","X-CUSTOM-UPPERCASE":"Value2","x-open-runtimes-custom":248}'
CUSTOM_ENV = {"CUSTOM_ENV_VAR": "customValue"}
STARTED_LINE = "HTTP server successfully started!"
TIMEOUT_HEADER_ERROR = 'Header "x-open-runtimes-timeout" must be an integer greater than 0.'
UNAUTHORIZED = 'Unauthorized. Provide correct "x-open-runtimes-secret" header.'

_DEFAULT = object()  # "use the driver's default" for request() keyword arguments


# ---------------------------------------------------------------------------------------------
# Results


@dataclass
class Result:
    status: int
    headers: dict[str, str]  # lower-cased keys; repeated headers joined with ", "
    body: bytes
    logs: str = ""
    errors: str = ""
    header_list: list[tuple[str, str]] = field(default_factory=list)  # as received, lower-cased keys
    log_id: str = ""  # x-open-runtimes-log-id (DirectDriver only)
    log_files: bool = False  # whether <id>_logs.log / <id>_errors.log existed (DirectDriver only)
    duration: float = 0.0

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def header_values(self, name: str) -> list[str]:
        return [v for k, v in self.header_list if k == name.lower()]

    def short(self) -> str:
        body = self.text
        if len(body) > 200:
            body = body[:200] + f"...({len(self.body)} bytes)"
        return (f"status={self.status} body={body!r} content-type={self.headers.get('content-type')!r} "
                f"logs={self.logs[:300]!r} errors={self.errors[:300]!r}")


@dataclass
class CheckResult:
    name: str
    passed: bool
    detail: str = ""
    skipped: bool = False


class CheckFailed(AssertionError):
    pass


class ToolchainMissing(RuntimeError):
    """The runtime's toolchain is not installed; the message is the install hint."""


def expect(condition, message: str, result: Result | None = None) -> None:
    if not condition:
        raise CheckFailed(message + (f"\n  got: {result.short()}" if result is not None else ""))


def _content_type(result: Result) -> str:
    return result.headers.get("content-type", "").replace(" ", "").lower()


# ---------------------------------------------------------------------------------------------
# Checks


@dataclass(frozen=True)
class Check:
    name: str
    fn: Callable[[object], None]
    apis: tuple[str, ...] = ("context",)
    level: str = "runtime"  # "emulator": only run by drivers whose level is "emulator"
    direct: bool = False  # needs wire-level control (secret, log ids, log files): DirectDriver only
    description: str = ""


CHECKS: list[Check] = []
BOTH = ("context", "legacy")


def check(name: str, apis: tuple[str, ...] = ("context",), level: str = "runtime", direct: bool = False):
    def register(fn):
        CHECKS.append(Check(name, fn, apis, level, direct, (fn.__doc__ or "").strip()))
        return fn
    return register


def _act(driver, action: str, **kw) -> Result:
    headers = dict(kw.pop("headers", None) or {})
    headers["x-action"] = action
    return driver.request(kw.pop("method", "POST"), kw.pop("path", "/"), headers=headers, **kw)


# --- wire level (both APIs) ---

@check("health", BOTH, direct=True)
def _health(d):
    r = d.request("GET", "/__opr/health", secret=None, timeout=None)
    expect(r.status == 200 and r.text == "OK", "GET /__opr/health must answer 200 OK without a secret", r)


@check("startLogs", BOTH, direct=True)
def _start_logs(d):
    out = d.server_output()
    expect(STARTED_LINE in out, f"server stdout must contain {STARTED_LINE!r}; got {out[-500:]!r}")


@check("wrongSecret", BOTH, direct=True)
def _wrong_secret(d):
    action = "plaintextResponse" if d.api == "context" else "payload"
    for secret in ("wrongSecret", None, ""):
        r = _act(d, action, secret=secret)
        expect(r.status in (500, 401) and "Unauthorized" in r.text,
               f"secret {secret!r} must be refused with 500/401 'Unauthorized'", r)
    r = _act(d, action, secret="wrongSecret")
    expect(r.text == UNAUTHORIZED, f"body must be exactly {UNAUTHORIZED!r}", r)


@check("invalidTimeout", BOTH, direct=True)
def _invalid_timeout(d):
    action = "plaintextResponse" if d.api == "context" else "payload"
    for value in ("abcd", "0", "-5"):
        r = _act(d, action, timeout=value)
        expect(r.status == 500 and r.text == TIMEOUT_HEADER_ERROR,
               f"x-open-runtimes-timeout: {value} must give 500 {TIMEOUT_HEADER_ERROR!r}", r)


# --- responses ---

@check("plaintextResponse")
def _plaintext(d):
    r = _act(d, "plaintextResponse")
    expect(r.status == 200 and r.text == "Hello World 👋", "expected 200 'Hello World 👋'", r)
    expect(_content_type(r) == "text/plain;charset=utf-8", "content-type must be text/plain; charset=utf-8", r)


@check("jsonResponse")
def _json(d):
    r = _act(d, "jsonResponse")
    expect(r.status == 200, "expected 200", r)
    expect(_content_type(r) == "application/json;charset=utf-8", "content-type application/json; charset=utf-8", r)
    data = r.json()
    expect(data.get("json") is True and data.get("message") == "Developers are awesome.", "wrong JSON", r)
    body = '{"nested": {"list": [1, 2, {"a": "b"}], "flag": true},\n "text": "x"}'
    r = _act(d, "requestBodyJson", body=body, headers={"content-type": "application/json"})
    expect(r.status == 200 and " " not in r.text and "\n" not in r.text, "json() must be compact", r)
    expect(r.json() == json.loads(body), "JSON must round-trip", r)


@check("customCharsetResponse")
def _custom_charset(d):
    r = _act(d, "customCharsetResponse")
    expect(r.status == 200 and _content_type(r) == "text/plain;charset=iso-8859-1",
           "content-type must stay text/plain; charset=iso-8859-1", r)


@check("uppercaseCharsetResponse")
def _upper_charset(d):
    r = _act(d, "uppercaseCharsetResponse")
    expect(r.status == 200 and _content_type(r) == "text/plain;charset=utf-8",
           "TEXT/PLAIN must become text/plain; charset=utf-8", r)


@check("multipartResponse")
def _multipart(d):
    r = _act(d, "multipartResponse")
    expect(r.status == 200 and _content_type(r) == "multipart/form-data;boundary=12345",
           "multipart content-type must be kept without charset", r)
    expect("Why just have one part?" in r.text and "When you can have two!" in r.text, "multipart body", r)


@check("redirectResponse")
def _redirect(d):
    r = _act(d, "redirectResponse")
    expect(r.status == 301 and r.body == b"" and r.headers.get("location") == "https://github.com/",
           "expected 301 with location https://github.com/ and empty body", r)


@check("emptyResponse")
def _empty(d):
    r = _act(d, "emptyResponse")
    expect(r.status == 204 and r.body == b"", "expected 204 with empty body", r)


@check("noResponse")
def _no_response(d):
    r = _act(d, "noResponse")
    expect(r.status == 500 and r.body == b"", "expected 500 with empty body", r)
    expect("Return statement missing." in r.errors, "errors must contain 'Return statement missing.'", r)


@check("doubleResponse")
def _double(d):
    r = _act(d, "doubleResponse")
    expect(r.status == 200 and r.text == "This should be returned.", "only the returned response counts", r)


@check("headersResponse")
def _headers_response(d):
    cookie = "cookieName=cookieValue; cookie2=value2; cookie3=value=3; cookie4=val:ue4; cookie5=value5"
    r = _act(d, "headersResponse", headers={"x-open-runtimes-custom-in-header": "notForwarded", "cookie": cookie})
    expect(r.status == 200 and r.text == "OK", "expected 200 OK", r)
    expect(r.headers.get("first-header") == "first-value", "first-header: first-value", r)
    expect(r.headers.get("second-header") == "missing", "x-open-runtimes-* request headers must not reach the function", r)
    expect(r.headers.get("cookie", "").split("; ") == cookie.split("; "), "cookie must be echoed unchanged", r)
    expect("x-open-runtimes-custom-out-header" not in r.headers, "x-open-runtimes-* response headers must be dropped", r)


@check("statusResponse")
def _status(d):
    r = _act(d, "statusResponse")
    expect(r.status == 404 and r.text == "FAIL", "expected 404 FAIL", r)


# --- request ---

@check("requestMethod")
def _method(d):
    for method in ("GET", "POST", "PUT", "DELETE", "PATCH"):
        r = _act(d, "requestMethod", method=method)
        expect(r.status == 200 and r.text == method, f"{method} must be echoed", r)
    r = _act(d, "requestMethod", method="OPTIONS")
    expect(r.status == 200, "OPTIONS must reach the function", r)


@check("requestUrl")
def _url(d):
    r = _act(d, "requestUrl", method="GET", path="/")
    expect(r.status == 200, "expected 200", r)
    data = r.json()
    expect(data.get("path") == "/" and data.get("queryString") == "" and data.get("scheme") == "http"
           and data.get("query") in ({}, []), "path '/', empty query", r)
    port = str(data.get("port"))
    host = data.get("host")
    expect(data.get("url") in (f"http://{host}:{port}/", f"http://{host}/"), "url must be built from host/port", r)

    cases = [
        ({"x-forwarded-proto": "https", "host": "www.mydomain.com:3001"}, "/a/b?c=d&e=f#something",
         {"port": 3001, "path": "/a/b", "query": {"c": "d", "e": "f"}, "queryString": "c=d&e=f", "scheme": "https",
          "host": "www.mydomain.com", "url": "https://www.mydomain.com:3001/a/b?c=d&e=f"}),
        ({"host": "www.mydomain.com:80"}, "/", {"port": 80, "url": "http://www.mydomain.com/"}),
        ({"host": "myapp.com", "x-forwarded-proto": "https"}, "/", {"port": 443, "url": "https://myapp.com/"}),
        ({"host": "myapp.com:443", "x-forwarded-proto": "https"}, "/", {"port": 443, "url": "https://myapp.com/"}),
        ({"host": "myapp.com:80", "x-forwarded-proto": "https"}, "/", {"port": 80, "url": "https://myapp.com:80/"}),
        ({"host": "myapp.com:80", "x-forwarded-proto": "http"}, "/", {"port": 80, "url": "http://myapp.com/"}),
    ]
    if d.level == "emulator":
        cases = []  # the emulator sets Host and the scheme itself
    for headers, path, want in cases:
        r = _act(d, "requestUrl", method="GET", path=path, headers=headers)
        data = r.json()
        for key, value in want.items():
            got = data.get(key)
            if key == "port":
                got = int(got) if str(got).isdigit() else got
            expect(got == value, f"{headers} {path}: {key} must be {value!r}, got {got!r}", r)

    r = _act(d, "requestUrl", method="GET", path="/?a=b&c==d&e=f=g=&h&i=j&&k")
    q = r.json().get("query")
    expect(isinstance(q, dict), "query must be an object", r)
    for key, value in {"a": "b", "c": "=d", "e": "f=g=", "h": "", "i": "j", "k": ""}.items():
        expect(q.get(key) == value, f"query[{key!r}] must be {value!r}, got {q.get(key)!r}", r)
    expect("l" not in q and "" not in q, "no empty or invented keys in query", r)


@check("requestHeaders")
def _request_headers(d):
    r = _act(d, "requestHeaders", headers={"x-first-header": "first-value", "X-UpPeRcAsE-KeY": "upper",
                                            "x-open-runtimes-custom-header": "hidden"})
    expect(r.status == 200, "expected 200", r)
    h = r.json()
    expect(h.get("x-action") == "requestHeaders" and h.get("x-first-header") == "first-value", "headers echoed", r)
    expect("x-open-runtimes-custom-header" not in h, "x-open-runtimes-* must be removed", r)
    expect(h.get("x-uppercase-key") == "upper" and "X-UpPeRcAsE-KeY" not in h, "keys must be lower-cased", r)


@check("enforcedHeaders", direct=True)
def _enforced(d):
    for sent in ({}, {"x-custom": "IS_IGNORED", "X-CUSTOM-UPPERCASE": "IS_IGNORED", "X-Open-Runtimes-Custom": "IS_IGNORED"}):
        r = _act(d, "enforcedHeaders", headers=sent)
        expect(r.status == 200, "expected 200", r)
        expect(r.json() == {"x-custom": "value", "x-custom-uppercase": "Value2", "x-open-runtimes-custom": "248"},
               "OPEN_RUNTIMES_HEADERS must override request headers (lower-cased keys, string values)", r)


_TEXT = "Hello 👋"
_TEXT_TYPES = [None, "text/plain", "application/xhtml+xml", "not-application/json", "not-video/mp4",
               "application/octet-stream", "audio/mpeg", "font/ttf", "image/png", "video/mp4"]


def _ct(value):
    return {"content-type": value} if value else {}


@check("requestBodyText")
def _body_text(d):
    for ct in _TEXT_TYPES:
        r = _act(d, "requestBodyText", body=_TEXT, headers=_ct(ct))
        expect(r.status == 200 and r.text == _TEXT, f"body_text with content-type {ct}", r)
    r = _act(d, "requestBodyText", body=b"")
    expect(r.status == 200 and r.text == "", "empty body must give ''", r)


@check("requestBodyJson")
def _body_json(d):
    body = '{"key1":"OK 👋","key2":true,"key3":3}'
    for ct in ("application/json", "text/plain", "ApPlIcAtIoN/JSON"):
        r = _act(d, "requestBodyJson", body=body, headers=_ct(ct))
        expect(r.status == 200 and r.json() == json.loads(body), f"body_json with content-type {ct}", r)


@check("invalidJson")
def _invalid_json(d):
    """body_json of a body that is not JSON is an uncaught error of the function."""
    r = _act(d, "requestBodyJson", body='{"invaludJson:true}', headers=_ct("application/json"))
    expect(r.status == 500 and r.body == b"", "invalid JSON must give 500 with empty body", r)
    expect("json" in r.errors.lower() or "3840" in r.errors, "errors must name the JSON error", r)
    r = _act(d, "requestBodyJson", body=b"", headers=_ct("application/json"))
    expect(r.status == 500 and r.body == b"", "body_json of an empty body must fail", r)
    r = _act(d, "requestBodyJson", body="{}", headers=_ct("application/json"))
    expect(r.status == 200 and r.json() == {}, "{} must round-trip", r)


@check("requestBodyAuto")
def _body_auto(d):
    for ct in _TEXT_TYPES:
        r = _act(d, "requestBodyTextAuto", body=_TEXT, headers=_ct(ct))
        expect(r.status == 200 and r.text == _TEXT, f"body is text for content-type {ct}", r)
    body = '{"key1":"OK 👋","key2":true,"key3":3}'
    for ct in ("application/json", "ApPlIcAtIoN/JSON", "application/json; charset=utf-8"):
        r = _act(d, "requestBodyJsonAuto", body=body, headers=_ct(ct))
        expect(r.status == 200 and r.json() == json.loads(body), f"body is parsed JSON for {ct}", r)
    r = _act(d, "requestBodyJsonAuto", body=b"", headers=_ct("application/json"))
    expect(r.status == 200 and r.json() == {}, "empty JSON body must give {}", r)


@check("requestBodyBinary")
def _body_binary(d):
    for data in (bytes.fromhex("0123456789abcdef"), bytes([0, 10, 255])):
        for ct in (None, "application/octet-stream", "text/plain", "application/json"):
            r = _act(d, "requestBodyBinary", body=data, headers=_ct(ct))
            expect(r.status == 200 and r.body == data, f"bytes {data.hex()} with {ct} must be echoed", r)


@check("binaryResponse")
def _binary_response(d):
    for i in range(1, 6):
        r = _act(d, f"binaryResponse{i}")
        expect(r.status == 200 and r.body == bytes([0, i * 10, 255]), f"binaryResponse{i} bytes", r)


@check("binaryResponseLarge")
def _binary_large(d):
    data = os.urandom(17 * 1024 * 1024)
    want = hashlib.md5(data).hexdigest()
    for method in ("PUT", "POST"):
        r = _act(d, "binaryResponseLarge", method=method, body=data, headers=_ct("application/zip"),
                 read_timeout=60)
        expect(r.status == 200 and r.text == want, f"{method} 17 MB body md5", r)
        expect(r.headers.get("x-method") == method, "x-method must echo the method", r)
    empty = hashlib.md5(b"").hexdigest()
    for headers in ({"content-length": "0"}, {}):
        r = _act(d, "binaryResponseLarge", method="GET", headers=headers)
        expect(r.status == 200 and r.text == empty, f"GET without body ({headers})", r)


@check("binaryRequestTooLarge", direct=True)
def _binary_too_large(d):
    """Bodies over 20 MB are refused (official test: 23 MB → 500 or 413)."""
    try:
        r = _act(d, "binaryResponseLarge", method="POST", body=os.urandom(23 * 1024 * 1024), read_timeout=60)
    except (ConnectionError, http.client.HTTPException) as exc:
        raise CheckFailed(f"server must answer 413/500 instead of dropping the connection ({exc!r})") from None
    expect(r.status in (413, 500), "23 MB request body must be refused with 413 or 500", r)


@check("envVars")
def _env(d):
    r = _act(d, "envVars")
    expect(r.status == 200 and _content_type(r).startswith("application/json"), "expected JSON", r)
    expect(r.json() == {"var": "customValue", "emptyVar": None}, "var=customValue, emptyVar=null", r)


# --- logs ---

@check("logs")
def _logs(d):
    r = _act(d, "logs")
    expect(r.status == 200 and r.body == b"", "expected 200 with empty body", r)
    for needle in ("Debug log", "42", "4.2", "Native log", "Native logs detected.", "objectKey", "objectValue",
                   "arrayValue", "Log+With+Plus+Symbol", "\n", "... Log truncated due to size limit (8000 characters)"):
        expect(needle in r.logs, f"logs must contain {needle!r}", r)
    expect("true" in r.logs.lower(), "logs must contain true", r)
    expect("A" * 8000 in r.logs and "A" * 8001 not in r.logs, "log entries must be cut at 8000 chars", r)
    expect("Error log" in r.errors and "... Log truncated due to size limit (8000 characters)" in r.errors,
           "errors must contain 'Error log' and the truncation note", r)
    expect("B" * 8000 in r.errors and "B" * 8001 not in r.errors, "error entries must be cut at 8000 chars", r)
    expect(len(r.logs.splitlines()) >= 9, "at least 9 log lines", r)
    expect(r.logs.count("Native logs detected.") == 1, "the native-logs notice appears once per call", r)


@check("logIds", direct=True)
def _log_ids(d):
    a = _act(d, "logs")
    b = _act(d, "logs")
    for r in (a, b):
        expect(len(r.log_id) == 20 and all(c in "0123456789abcdef" for c in r.log_id),
               f"generated log id must be 20 lowercase hex chars, got {r.log_id!r}", r)
        expect(r.log_files, "both log files must be written", r)
    expect(a.log_id != b.log_id, "each call gets a new log id")
    r = _act(d, "logs", logging="disabled", log_id="noLogs")
    expect(r.headers.get("x-open-runtimes-log-id", "") == "" and not r.log_files,
           "logging disabled: empty log-id header, no files", r)
    expect(not list(Path(d.logs_dir).glob("noLogs_*")), "logging disabled must not create files")
    r = _act(d, "plaintextResponse", log_id="customLogs")
    expect(r.log_id == "customLogs" and r.log_files, "x-open-runtimes-log-id must be honoured", r)
    r = _act(d, "plaintextResponse")
    expect(r.log_files and r.logs == "" and r.errors == "", "a call that logs nothing gets two empty files", r)


@check("spreadOperatorLogs")
def _spread(d):
    r = _act(d, "spreadOperatorLogs")
    expect(r.status == 200 and r.text == "OK", "expected 200 OK", r)
    for name, text in (("logs", r.logs), ("errors", r.errors)):
        expect("engine:" in text and "open-runtimes" in text and text.count(" ") == 1,
               f"{name} must be 'engine: open-runtimes' joined by exactly one space", r)


@check("concurrentLogs")
def _concurrent(d):
    """Logs of concurrent calls must not mix (native output included)."""
    actions = ["logs", "plaintextResponse"] * 4
    with concurrent.futures.ThreadPoolExecutor(len(actions)) as pool:
        results = list(pool.map(lambda a: (a, _act(d, a)), actions))
    for action, r in results:
        expect(r.status == 200, f"{action} must succeed concurrently", r)
        if action == "logs":
            expect(r.logs.count("Native log\n") == 1 and r.logs.count("Debug log") == 1,
                   "each logs call must see exactly its own output", r)
        else:
            expect(r.logs == "" and r.errors == "", "a call that logs nothing must get no other call's logs", r)


# --- timeouts and errors ---

@check("timeout")
def _timeout(d):
    started = time.monotonic()
    r = _act(d, "timeout", timeout=1)
    elapsed = time.monotonic() - started
    expect(r.status == 500 and r.body == b"", "timeout 1 s must give 500 with empty body", r)
    expect("Execution timed out." in r.errors, "errors must contain 'Execution timed out.'", r)
    expect("Timeout start." in r.logs and "Timeout end." not in r.logs, "logs: start but no end", r)
    expect(elapsed < 2.9, f"the soft timeout must answer before the function finishes ({elapsed:.1f}s)")
    r = _act(d, "timeout", timeout=5)
    expect(r.status == 200 and r.text == "Successful response.", "timeout 5 s must succeed", r)
    expect("Timeout start." in r.logs and "Timeout end." in r.logs, "logs: start and end", r)


@check("errorTest")
def _error(d):
    r = _act(d, "errorTest")
    expect(r.status == 500 and r.body == b"", "uncaught error must give 500 with empty body", r)
    expect("Before error..." in r.logs and "Error!" in r.errors, "logs 'Before error...', errors 'Error!'", r)


@check("exception")
def _exception(d):
    r = _act(d, "unknownActionXYZ")
    expect(r.status == 500 and r.body == b"", "unknown action must give 500 with empty body", r)
    expect("Unknown action" in r.errors, "errors must contain 'Unknown action'", r)
    expect(r.logs == "", "logs must be empty", r)


@check("deprecatedMethods")
def _deprecated(d):
    r = _act(d, "deprecatedMethods", body="Hello")
    expect(r.status == 200 and r.text == "Hello", "send(body_raw) must echo", r)
    for ct in ("application/json", "application/unknown"):
        r = _act(d, "deprecatedMethods", body='{"hello":"world"}', headers=_ct(ct))
        expect(r.status == 200 and r.text == '{"hello":"world"}', f"body_raw is the raw text for {ct}", r)
    r = _act(d, "deprecatedMethodsUntypedBody")
    expect(r.status == 200 and r.text == "50", "send(50) must give '50'", r)


# --- emulator level (only through the emulator's API) ---

@check("largeResponse", level="emulator")
def _large_response(d):
    r = _act(d, "largeResponse", headers={"x-size": "1000"})
    expect(r.status == 200 and len(r.body) == 1000, "a 1000-byte response passes", r)
    r = _act(d, "largeResponse", headers={"x-size": "2000000"})
    expect(r.status >= 400 and len(r.body) <= 1_000_000, "a response over 1 MB must fail the execution", r)
    expect(r.errors != "", "the size error must be reported in errors", r)


@check("floodLogs", level="emulator")
def _flood_logs(d):
    r = _act(d, "floodLogs", read_timeout=120)
    expect(r.status < 500, "printing 5 MB must not break the execution", r)
    expect(len(r.logs) <= 1_100_000 and "truncated" in r.logs.lower(), "logs must be capped with a truncation note", r)


@check("exit", level="emulator")
def _exit(d):
    r = _act(d, "exit")
    expect(r.status >= 500, "a function that kills its process must fail the execution", r)
    r = _act(d, "plaintextResponse")
    expect(r.status == 200, "the next execution must get a fresh runtime", r)


@check("hang", level="emulator")
def _hang(d):
    started = time.monotonic()
    r = _act(d, "hang", timeout=2, read_timeout=60)
    elapsed = time.monotonic() - started
    expect(r.status >= 400, "a hung function must fail at the function timeout", r)
    expect("timed out" in (r.errors + r.text).lower(), "the failure must say it timed out", r)
    expect(elapsed < 15, f"the function timeout must be enforced ({elapsed:.1f}s)")


# --- legacy API (req, res) ---

@check("legacyPayload", ("legacy",))
def _legacy_payload(d):
    r = _act(d, "payload", body="Hello legacy 👋")
    expect(r.status == 200 and r.text == "Hello legacy 👋", "res.send(req.payload)", r)
    r = _act(d, "payload", body=b"")
    expect(r.status == 200 and r.text == "", "empty payload is ''", r)


@check("legacyJson", ("legacy",))
def _legacy_json(d):
    r = _act(d, "json", body='{"a":1}')
    expect(r.status == 200 and _content_type(r).startswith("application/json"), "res.json sets application/json", r)
    expect(r.json() == {"ok": True, "payload": '{"a":1}'}, "res.json payload", r)


@check("legacyVariables", ("legacy",))
def _legacy_variables(d):
    r = _act(d, "variables")
    expect(r.status == 200, "expected 200", r)
    expect(r.json().get("CUSTOM_ENV_VAR") == "customValue", "req.variables holds the function's env", r)


@check("legacyExecutionVariables", ("legacy",))
def _legacy_execution_variables(d):
    """v2-era per-execution variables come from the request (runtimes/README.md)."""
    r = _act(d, "variables", body="the data", headers={"x-appwrite-trigger": "http"})
    v = r.json() if r.status == 200 else {}
    expect(v.get("APPWRITE_FUNCTION_TRIGGER") == "http", "APPWRITE_FUNCTION_TRIGGER from x-appwrite-trigger", r)
    expect(v.get("APPWRITE_FUNCTION_DATA") == "the data", "APPWRITE_FUNCTION_DATA is the body", r)
    expect(v.get("APPWRITE_FUNCTION_EVENT_DATA") == "" and "APPWRITE_FUNCTION_USER_ID" in v,
           "EVENT_DATA empty without an event; USER_ID present", r)


@check("legacyHeaders", ("legacy",))
def _legacy_headers(d):
    r = _act(d, "headers", headers={"x-first-header": "first-value", "X-UpPeRcAsE-KeY": "upper",
                                     "x-open-runtimes-custom-header": "hidden"})
    h = r.json()
    expect(r.status == 200 and h.get("x-first-header") == "first-value" and h.get("x-uppercase-key") == "upper",
           "req.headers lower-cased", r)
    expect("x-open-runtimes-custom-header" not in h, "x-open-runtimes-* removed", r)


@check("legacyStatus", ("legacy",))
def _legacy_status(d):
    r = _act(d, "status")
    expect(r.status == 418 and r.text == "teapot", "res.send('teapot', 418)", r)


@check("legacyLog", ("legacy",))
def _legacy_log(d):
    r = _act(d, "log")
    expect(r.status == 200 and r.text == "ok", "expected 200 ok", r)
    expect("legacy log" in r.logs, "native output is the legacy function's logs", r)


@check("legacyThrow", ("legacy",))
def _legacy_throw(d):
    r = _act(d, "throw")
    expect(r.status == 500 and r.errors.strip() != "", "an uncaught error gives 500 with the error in errors", r)


# --- v2 wire (INTERNAL_RUNTIME_KEY), run by run_suite on a DirectDriver started with wire="v2" ---

V2_CHECKS: list[Check] = []


def v2check(name: str):
    def register(fn):
        V2_CHECKS.append(Check(name, fn, ("legacy",), "runtime", True, (fn.__doc__ or "").strip()))
        return fn
    return register


@v2check("v2Unauthorized")
def _v2_unauth(d):
    for challenge in ("wrong", None):
        status, data, raw = d.request_v2({"payload": "x", "headers": {"x-action": "payload"}}, challenge=challenge)
        expect(status == 500 and "Unauthorized" in raw, f"challenge {challenge!r} must give 500 Unauthorized; got {status} {raw!r}")


@v2check("v2Payload")
def _v2_payload(d):
    status, data, raw = d.request_v2({"variables": {}, "payload": "Hello v2", "headers": {"x-action": "payload"}})
    expect(status == 200 and data.get("response") == "Hello v2", f"response must be the payload; got {status} {raw!r}")
    status, data, raw = d.request_v2({"variables": {}, "payload": '{"id":2}', "headers": {"x-action": "json"}})
    expect(status == 200 and data.get("response") == {"ok": True, "payload": '{"id":2}'},
           f"res.json gives an object response; got {status} {raw!r}")
    status, data, raw = d.request_v2({"headers": {"x-action": "payload"}, "unknownKey": 1})
    expect(status == 200 and data.get("response") == "", f"missing payload is ''; got {status} {raw!r}")


@v2check("v2Variables")
def _v2_variables(d):
    variables = {"APPWRITE_FUNCTION_ID": "fn1", "MY_VAR": "x"}
    status, data, raw = d.request_v2({"variables": variables, "payload": "", "headers": {"x-action": "variables"}})
    expect(status == 200 and isinstance(data.get("response"), dict), f"expected object; got {status} {raw!r}")
    for key, value in variables.items():
        expect(data["response"].get(key) == value, f"req.variables[{key}] must be {value!r}; got {raw!r}")
    status, data, raw = d.request_v2({"headers": {"x-action": "headers", "x-test-header": "t"}})
    expect(status == 200 and data["response"].get("x-test-header") == "t", f"req.headers from the body; got {raw!r}")


@v2check("v2Status")
def _v2_status(d):
    status, data, raw = d.request_v2({"payload": "", "headers": {"x-action": "status"}})
    expect(status == 418 and data.get("response") == "teapot", f"status chosen by the function; got {status} {raw!r}")


@v2check("v2Logs")
def _v2_logs(d):
    status, data, raw = d.request_v2({"payload": "", "headers": {"x-action": "log"}})
    expect(status == 200 and "legacy log" in data.get("stdout", ""), f"stdout carries native output; got {raw!r}")
    expect(data.get("response") == "ok" and "stderr" in data, f"response and stderr fields; got {raw!r}")


@v2check("v2Throw")
def _v2_throw(d):
    status, data, raw = d.request_v2({"payload": "", "headers": {"x-action": "throw"}})
    expect(status == 500 and data.get("stderr", "").strip() != "", f"500 with the trace in stderr; got {status} {raw!r}")


# ---------------------------------------------------------------------------------------------
# Running checks


def checks_for_api(api: str, level: str | None = "runtime") -> list[Check]:
    """The v5 checks that apply to `api` ("context"/"legacy"), for pytest parametrization; `level`
    None keeps emulator-level checks too."""
    return [c for c in CHECKS if api in c.apis and (level is None or c.level == level)]


def checks_for(driver, only: Iterable[str] | None = None) -> list[Check]:
    pool = V2_CHECKS if getattr(driver, "wire", "v5") == "v2" else CHECKS
    wanted = set(only) if only is not None else None
    return [c for c in pool if driver.api in c.apis and (wanted is None or c.name in wanted)]


def run_check(driver, chk: Check) -> CheckResult:
    if chk.level == "emulator" and driver.level != "emulator":
        return CheckResult(chk.name, False, "emulator-level check", skipped=True)
    if chk.direct and driver.level == "emulator":
        return CheckResult(chk.name, False, "needs direct wire access", skipped=True)
    try:
        chk.fn(driver)
    except AssertionError as exc:
        return CheckResult(chk.name, False, str(exc))
    except Exception as exc:  # a crash of the check is a failure of the runtime under test
        return CheckResult(chk.name, False, f"{type(exc).__name__}: {exc}")
    return CheckResult(chk.name, True)


def run_suite(driver, only: Iterable[str] | None = None) -> list[CheckResult]:
    return [run_check(driver, c) for c in checks_for(driver, only)]


def format_table(results: dict[str, list[CheckResult]]) -> str:
    """Rows are checks, columns are runtimes: ✓ passed, ✗ failed, skip."""
    runtimes = list(results)
    names: list[str] = []
    for rs in results.values():
        for r in rs:
            if r.name not in names:
                names.append(r.name)
    cell = {(rt, r.name): ("skip" if r.skipped else "✓" if r.passed else "✗") for rt, rs in results.items() for r in rs}
    width = max([len("check")] + [len(n) for n in names])
    cols = [max(len(rt), 4) for rt in runtimes]
    lines = ["check".ljust(width) + "  " + "  ".join(rt.ljust(w) for rt, w in zip(runtimes, cols))]
    for name in names:
        lines.append(name.ljust(width) + "  " + "  ".join(cell.get((rt, name), "").ljust(w) for rt, w in zip(runtimes, cols)))
    for rt in runtimes:
        rs = results[rt]
        passed = sum(r.passed for r in rs)
        failed = sum(not r.passed and not r.skipped for r in rs)
        skipped = sum(r.skipped for r in rs)
        lines.append(f"{rt}: {passed} passed, {failed} failed, {skipped} skipped")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Direct driver: build the canonical function, start the adapter, talk the wire contract


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen | None, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


class DirectDriver:
    level = "runtime"

    def __init__(self, runtime_id: str, api: str = "context", workdir: str | Path | None = None,
                 env: dict[str, str] | None = None, *, wire: str = "v5", source_dir: str | Path | None = None,
                 entrypoint: str | None = None, commands: str = "", start_timeout: float = 120.0,
                 build_timeout: float = 900.0):
        language = language_for_runtime(runtime_id)
        if language is None:
            raise ValueError(f"unknown runtime {runtime_id!r}")
        if api not in ("context", "legacy") or wire not in ("v5", "v2"):
            raise ValueError("api must be context|legacy and wire v5|v2")
        self.runtime = runtime_id
        self.language = language
        self.api = api
        self.wire = wire
        self.entrypoint = entrypoint or language.test_entrypoints.get(api, language.default_entrypoint)
        self.source_dir = Path(source_dir) if source_dir else language.adapter_dir / "tests" / api
        self.commands = commands
        self.extra_env = dict(env or {})
        self.start_timeout = start_timeout
        self.build_timeout = build_timeout
        self._own_workdir = workdir is None
        self.workdir = Path(workdir) if workdir else None
        self.secret = secrets.token_hex(16)
        self.port = 0
        self.proc: subprocess.Popen | None = None
        self.build_log = ""
        self.default_timeout = 15
        self._local = threading.local()

    # -- lifecycle --

    def start(self) -> "DirectDriver":
        toolchain = self.language.toolchain()
        if not toolchain.available:
            raise ToolchainMissing(toolchain.hint)
        if self.workdir is None:
            self.workdir = Path(tempfile.mkdtemp(prefix=f"contract-{self.runtime}-{self.api}-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.code_dir = self.workdir / "code"
        self.logs_dir = self.workdir / "logs"
        self.logs_dir.mkdir(exist_ok=True)
        if self.code_dir.exists():
            shutil.rmtree(self.code_dir)
        shutil.copytree(self.source_dir, self.code_dir, symlinks=True)
        chunks: list[str] = []
        env = {**CUSTOM_ENV, **self.extra_env, "OPEN_RUNTIMES_ENTRYPOINT": self.entrypoint}
        try:
            build_on_host(self.language, self.code_dir, self.entrypoint, self.commands, env, chunks.append,
                          timeout=self.build_timeout)
        finally:
            self.build_log = "".join(chunks)
        self.port = free_port()
        command = self.language.server(self.code_dir, self.entrypoint)
        run_env = dict(os.environ)
        run_env.update(command.env)
        run_env.update({
            "OPEN_RUNTIMES_HOST": "127.0.0.1",
            "OPEN_RUNTIMES_PORT": str(self.port),
            "OPEN_RUNTIMES_CODE_DIR": str(self.code_dir),
            "OPEN_RUNTIMES_LOGS_DIR": str(self.logs_dir),
            "OPEN_RUNTIMES_ENTRYPOINT": self.entrypoint,
            "OPEN_RUNTIMES_SECRET": self.secret,
            "OPEN_RUNTIMES_ENV": "production",
            "OPEN_RUNTIMES_HEADERS": ENFORCED_HEADERS,
            **CUSTOM_ENV,
        })
        if self.wire == "v2":
            run_env["INTERNAL_RUNTIME_KEY"] = self.secret
            run_env["INTERNAL_RUNTIME_ENTRYPOINT"] = self.entrypoint
        run_env.update(self.extra_env)
        self._output_path = self.workdir / "server-output.log"
        self._output = open(self._output_path, "wb")
        self.proc = subprocess.Popen(command.argv, cwd=command.cwd or str(self.code_dir), env=run_env,
                                     stdin=subprocess.DEVNULL, stdout=self._output, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        if not wait_for_port(self.port, self.proc, self.start_timeout):
            output = self.server_output()
            self.stop()
            raise RuntimeError(f"{self.runtime} adapter did not listen on port {self.port}:\n{output[-3000:]}")
        return self

    def stop(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, 15)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.proc.pid, 9)
                except ProcessLookupError:
                    pass
                self.proc.wait(5)
        if getattr(self, "_output", None) is not None:
            self._output.close()
            self._output = None
        if self._own_workdir and self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def server_output(self) -> str:
        try:
            return self._output_path.read_text("utf-8", "replace")
        except (OSError, AttributeError):
            return ""

    # -- HTTP --

    def _connection(self, fresh: bool = False, timeout: float = 30.0) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if fresh and conn is not None:
            conn.close()
            conn = None
        if conn is None:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
            self._local.conn = conn
        conn.timeout = timeout
        if conn.sock is not None:
            conn.sock.settimeout(timeout)
        return conn

    def raw_request(self, method: str, path: str, headers: list[tuple[str, str]], body: bytes,
                    read_timeout: float = 30.0) -> tuple[int, list[tuple[str, str]], bytes]:
        for attempt in (0, 1):
            conn = self._connection(fresh=attempt == 1, timeout=read_timeout)
            try:
                has_host = any(k.lower() == "host" for k, _ in headers)
                conn.putrequest(method, path, skip_host=has_host, skip_accept_encoding=True)
                for key, value in headers:
                    conn.putheader(key, value)
                has_length = any(k.lower() == "content-length" for k, _ in headers)
                if not has_length and (body or method in ("POST", "PUT", "PATCH")):
                    conn.putheader("Content-Length", str(len(body)))
                conn.endheaders(body if body else None)
                resp = conn.getresponse()
                data = resp.read()
                return resp.status, [(k.lower(), v) for k, v in resp.getheaders()], data
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                conn.close()
                self._local.conn = None
                if attempt == 1:
                    raise
            except Exception:
                conn.close()
                self._local.conn = None
                raise
        raise AssertionError("unreachable")

    def request(self, method: str = "POST", path: str = "/", headers=None, body: bytes | str = b"", *,
                timeout=_DEFAULT, secret=_DEFAULT, logging: str | None = "enabled", log_id: str | None = None,
                read_timeout: float = 30.0) -> Result:
        """Send one execution. `timeout`/`secret` None leaves that header out; `headers` is a dict or a
        list of pairs sent as given (case kept; a `host` entry replaces the Host header)."""
        if isinstance(body, str):
            body = body.encode("utf-8")
        pairs = list(headers.items() if isinstance(headers, dict) else headers or [])
        if not any(k.lower() == "content-type" for k, _ in pairs):
            pairs.append(("content-type", "text/plain"))
        secret = self.secret if secret is _DEFAULT else secret
        timeout = self.default_timeout if timeout is _DEFAULT else timeout
        if secret is not None:
            pairs.append(("x-open-runtimes-secret", secret))
        if timeout is not None:
            pairs.append(("x-open-runtimes-timeout", str(timeout)))
        if logging is not None:
            pairs.append(("x-open-runtimes-logging", logging))
        if log_id is not None:
            pairs.append(("x-open-runtimes-log-id", log_id))
        started = time.monotonic()
        status, header_list, data = self.raw_request(method, path, pairs, body, read_timeout)
        duration = time.monotonic() - started
        merged: dict[str, str] = {}
        for k, v in header_list:
            merged[k] = f"{merged[k]}, {v}" if k in merged else v
        result = Result(status, merged, data, header_list=header_list, duration=duration,
                        log_id=merged.get("x-open-runtimes-log-id", ""))
        if result.log_id:
            self._collect_logs(result)
        return result

    def _collect_logs(self, result: Result) -> None:
        log_id = urllib.parse.unquote(result.log_id)
        found = False
        for kind, attr in (("logs", "logs"), ("errors", "errors")):
            path = Path(self.logs_dir) / f"{log_id}_{kind}.log"
            try:
                setattr(result, attr, path.read_bytes().decode("utf-8", "replace"))
                path.unlink()
                found = True
            except FileNotFoundError:
                pass
        result.log_files = found

    def request_v2(self, body: dict, challenge=_DEFAULT, read_timeout: float = 30.0) -> tuple[int, dict, str]:
        """v2 wire: POST JSON with x-internal-challenge; returns (status, parsed JSON or {}, raw text)."""
        challenge = self.secret if challenge is _DEFAULT else challenge
        pairs = [("content-type", "application/json"), ("host", "null")]
        if challenge is not None:
            pairs.append(("x-internal-challenge", challenge))
        status, _, data = self.raw_request("POST", "/", pairs, json.dumps(body).encode(), read_timeout)
        raw = data.decode("utf-8", "replace")
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = {}
        return status, parsed if isinstance(parsed, dict) else {}, raw


def all_checks() -> list[Check]:
    return CHECKS + V2_CHECKS
