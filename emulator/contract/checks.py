"""The open-runtimes acceptance behaviour as checks any runtime adapter is run against
(docs/runtime-contract.md says what each one relies on). Importing this module registers them."""
from __future__ import annotations

import concurrent.futures
import hashlib
import http.client
import json
import os
from pathlib import Path

from ..schemas import EXECUTION_BODY_MAX
from .registry import BOTH, check, v2check
from .results import CheckFailed, Result, expect

STARTED_LINE = "HTTP server successfully started!"
TIMEOUT_HEADER_ERROR = 'Header "x-open-runtimes-timeout" must be an integer greater than 0.'
UNAUTHORIZED = 'Unauthorized. Provide correct "x-open-runtimes-secret" header.'


def _content_type(result: Result) -> str:
    return result.headers.get("content-type", "").replace(" ", "").lower()


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
    """A large binary body reaches the function whole: 17 MB at the runtime (the official test's
    size), the largest body Appwrite's API accepts through the emulator."""
    data = os.urandom(EXECUTION_BODY_MAX if d.level == "emulator" else 17 * 1024 * 1024)
    want = hashlib.md5(data).hexdigest()
    for method in ("PUT", "POST"):
        r = _act(d, "binaryResponseLarge", method=method, body=data, headers=_ct("application/zip"),
                 read_timeout=60)
        expect(r.status == 200 and r.text == want, f"{method} {len(data):,} byte body md5", r)
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
    # "Timeout end." missing from the logs proves the answer came before the function finished;
    # no wall-clock bound, which a busy machine would break.
    r = _act(d, "timeout", timeout=1)
    expect(r.status == 500 and r.body == b"", "timeout 1 s must give 500 with empty body", r)
    expect("Execution timed out." in r.errors, "errors must contain 'Execution timed out.'", r)
    expect("Timeout start." in r.logs and "Timeout end." not in r.logs, "logs: start but no end", r)
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
    r = _act(d, "hang", timeout=2, read_timeout=60)
    expect(r.status >= 400, "a hung function must fail at the function timeout", r)
    expect("timed out" in (r.errors + r.text).lower(), "the failure must say it timed out", r)


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

