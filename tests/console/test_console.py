"""The web console (/console) in real headless Chromium (Debian's `chromium`, driven by playwright-core).

With an open server: the function list, a function's page (by a click, a reload and its URL), its
variables (a secret's value nowhere in the page), the run form (the response and the function's
logs appear, and the execution is on the server), executions made elsewhere and a failing one
arriving in the list without a reload, the status/trigger filters, an execution's own page, and a
build log growing while a build waits on a file the driver writes. With --api-key: the login form,
a refused password, the session (the key nowhere in the page), running from the form, logging out.
Serving (content types, CSP, refused paths and ids, host checks) is checked without a browser.

CONSOLE_SCREENSHOT=docs/console.png refreshes the README's screenshot.
"""
from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from urllib.parse import urlsplit

import pytest

import browser
from browser import require_browser
from support import ROOT, JsonApi, archive_bytes

pytestmark = pytest.mark.timeout(420)
DRIVER = ROOT / "tests" / "console" / "console_browser.mjs"
PROJECT = "consoletest"
SECRET_VALUE = "s3cret-console-VALUE-9f1c"
API_KEY = "console-test-key-7d2b"
HELLO = """def main(context):
    req = context.req
    context.log("log:" + req.body_text)
    if req.body_text == "fail":
        raise RuntimeError("console-test-failure")
    return context.res.text(f"{req.method} x={req.headers.get('x-console-test', '')} body={req.body_text}", 200,
                            {"x-from-function": "hello"})
"""
MARKER = """import os
def main(context):
    with open(os.environ["MARK_FILE"], "a") as f:
        f.write(context.req.body_text + "\\n")
    return context.res.json({"ran": True})
"""


def drive(args: dict) -> dict:
    return browser.drive(DRIVER, args, timeout=360)


def base_of(endpoint: str) -> str:
    return endpoint.rsplit("/v1", 1)[0]


def test_console_pages_run_form_live_lists_and_build_log(server_factory, tmp_path):
    require_browser()
    srv = server_factory()
    api = JsonApi(srv.endpoint, PROJECT)
    api.deploy("hello", {"main.py": HELLO}, execute=["any"])
    api.ok("POST", "/functions/hello/variables", {"variableId": "plain", "key": "PLAIN_VAR", "value": "plain-value"})
    api.ok("POST", "/functions/hello/variables",
           {"variableId": "hidden", "key": "SECRET_VAR", "value": SECRET_VALUE, "secret": True})
    # A build that prints a line (not as the command line shows it), then waits until the driver writes `go` (bounded), then prints another.
    go = tmp_path / "go"
    api.ok("POST", "/functions", {
        "functionId": "slow", "name": "slow", "runtime": "python-3.11", "entrypoint": "main.py",
        "commands": f"echo build-step-$((1)); for i in $(seq 3000); do [ -e {go} ] && break; sleep 0.1; done; "
                    "echo build-step-$((2))"})
    slow_deployment = api.upload_ok("slow", archive_bytes({"main.py": HELLO}))["$id"]
    screenshot = os.environ.get("CONSOLE_SCREENSHOT") or str(tmp_path / "console.png")

    seen = drive({"mode": "open", "base": base_of(srv.endpoint), "project": PROJECT, "functionId": "hello",
                  "runtime": "python-3.11", "plainKey": "PLAIN_VAR", "plainValue": "plain-value",
                  "secretKey": "SECRET_VAR", "secretValue": SECRET_VALUE, "slowFunctionId": "slow",
                  "goFile": str(go), "screenshot": screenshot})

    assert seen["pageErrors"] == [], seen["pageErrors"]
    assert urlsplit(seen["urlAfterProjectChange"]).query == f"project={PROJECT}"
    assert seen["listStatus"] == 200 and "default-src 'none'" in seen["csp"]
    assert urlsplit(seen["urlAfterClick"]).path == "/console/functions/hello"
    assert "hidden" in seen["secretCell"] and seen["secretInPage"] is False

    run = seen["run"]
    assert "completed" in run["status"] and run["responseStatus"] == "200", run
    assert run["responseBody"] == "PUT x=yes body=from-form", run
    # The request headers Appwrite keeps (content-type among them; the function got x-console-test: x=yes).
    assert run["requestLine"] == "PUT /echo?x=1" and "content-type\ttext/x-console" in run["requestHeaders"], run
    assert "x-from-function\thello" in run["responseHeaders"] and "log:from-form" in run["logs"], run
    # The form's execution is the server's, as the page showed it.
    stored = api.ok("GET", f"/functions/hello/executions/{run['id']}")
    assert (stored["requestMethod"], stored["requestPath"], stored["trigger"]) == ("PUT", "/echo?x=1", "http")
    assert "log:from-form" in stored["logs"]

    # Executions made by another client arrived in the open page; the failing one as failed.
    assert seen["listLiveWithoutReload"] is True
    assert seen["failed"]["status"] == "failed" and seen["outside"]["status"] == "completed"
    failed_id, outside_id = seen["failed"]["id"], seen["outside"]["id"]
    assert {status for _, status in seen["failedOnly"]} == {"failed"} and failed_id in dict(seen["failedOnly"])
    completed = dict(seen["completedOnly"])
    assert failed_id not in completed and {run["id"], outside_id} <= set(completed)
    assert {run["id"], outside_id, failed_id} <= set(dict(seen["httpOnly"]))

    assert seen["asyncRun"]["status"] == "completed"
    assert api.ok("GET", f"/functions/hello/executions/{seen['asyncRun']['id']}")["status"] == "completed"

    page = seen["executionPage"]
    assert page["requestLine"] == "PUT /echo?x=1" and page["responseStatus"] == "200"
    assert "content-type\ttext/x-console" in page["requestHeaders"]
    assert stored["responseBody"] == "" and "not kept" in page["responseBody"]  # Appwrite keeps no body either
    assert "console-test-failure" in seen["failedErrors"]

    assert seen["missingStatus"] == 200

    # The build log was on the page while the build waited, and grew there once it went on.
    assert "building" in seen["buildStatusWhileWaiting"] and seen["stepTwoBeforeGo"] is False
    assert seen["buildLogLiveWithoutReload"] is True
    deployment = api.ok("GET", f"/functions/slow/deployments/{slow_deployment}")
    assert deployment["status"] == "ready" and "build-step-2" in deployment["buildLogs"]

    with open(screenshot, "rb") as shot:
        assert shot.read(8) == b"\x89PNG\r\n\x1a\n"


def test_console_login_with_api_key(server_factory, tmp_path):
    require_browser()
    srv = server_factory("--api-key", API_KEY)
    api = JsonApi(srv.endpoint, PROJECT, key=API_KEY)
    marks = tmp_path / "marks.txt"
    api.deploy("keyfn", {"main.py": MARKER}, execute=["any"])
    api.ok("POST", "/functions/keyfn/variables", {"variableId": "mark", "key": "MARK_FILE", "value": str(marks)})

    seen = drive({"mode": "key", "base": base_of(srv.endpoint), "project": PROJECT, "functionId": "keyfn",
                  "apiKey": API_KEY})

    assert seen["pageErrors"] == [], seen["pageErrors"]
    assert seen["functionsBeforeLogin"] == 0
    assert seen["keyInPageAfterLogin"] is False and seen["keyInPageAfterRun"] is False
    assert "completed" in seen["runStatus"] and seen["loggedOut"] is True
    # The logged-in form ran the function once; the refused login ran nothing.
    assert marks.read_text().splitlines() == ["from-logged-in-form"]
    # Logging out closed the session on the server: no session documents are usable any more.
    status, _ = JsonApi(srv.endpoint, PROJECT).call("GET", "/functions")
    assert status == 401


def fetch(url: str, method: str = "GET", headers: dict | None = None) -> tuple[int, dict, bytes]:
    req = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def test_console_files_are_served_safely(server_factory):
    srv = server_factory("--api-key", API_KEY)
    base = base_of(srv.endpoint)
    shell = (ROOT / "emulator" / "console_ui" / "static" / "index.html").read_bytes()
    # Every deep link answers the shell page, without a credential (it holds no data).
    for path in ("/console", "/console/", "/console/functions/fn1", "/console/functions/fn1/executions/ex.1"):
        status, headers, body = fetch(base + path)
        assert (status, body) == (200, shell), path
        assert headers["Content-Type"] == "text/html; charset=utf-8"
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
        assert headers["X-Content-Type-Options"] == "nosniff"
    for name, ctype in (("app.js", "text/javascript"), ("api.js", "text/javascript"), ("dom.js", "text/javascript"),
                        ("style.css", "text/css")):
        status, headers, body = fetch(f"{base}/console/assets/{name}")
        assert status == 200 and headers["Content-Type"].startswith(ctype), name
        assert body == (ROOT / "emulator" / "console_ui" / "static" / name).read_bytes()
    status, headers, body = fetch(base + "/console/assets/app.js", method="HEAD")
    assert status == 200 and body == b""
    # Only the files in the table, ids checked for shape: 404. Paths outside the console's routes
    # (a `..` the client collapses, other folders) are unknown routes: under --api-key, 401 first.
    for path, expected in (("/console/assets/index.html", 404), ("/console/assets/..%2f__init__.py", 404),
                           ("/console/functions/bad$id", 404), ("/console/functions/" + "x" * 37, 404),
                           ("/console/functions/fn1/executions/-bad", 404), ("/console/assets/%2e%2e/__init__.py", 401),
                           ("/console/assets/../__init__.py", 401), ("/console/static/app.js", 401),
                           ("/console/other", 401)):
        status, headers, body = fetch(base + path)
        assert status == expected, path
        assert json.loads(body)["type"] in ("general_route_not_found", "general_unauthorized_scope"), path
    status, _, _ = fetch(base + "/console", method="POST")  # no such route: the key is asked for first
    assert status == 401
    # The host and origin rules hold for the console too.
    status, _, _ = fetch(base + "/console", headers={"Host": "evil.example"})
    assert status == 403
    status, _, _ = fetch(base + "/console/assets/app.js", headers={"Origin": "http://evil.example"})
    assert status == 403
    # The key still guards the API the page calls.
    status, _, _ = fetch(srv.endpoint + "/functions", headers={"X-Appwrite-Project": PROJECT})
    assert status == 401
