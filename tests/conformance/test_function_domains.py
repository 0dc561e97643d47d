"""Function domains: a request whose Host is `<functionId>.functions.localhost[:port]` (or a proxy
rule's domain under it) runs that function and gets its raw response, as Appwrite's router does
for a function's domain; the run is recorded as an execution with trigger `http`. When it cannot
run: Appwrite's error types (HTML page, or the JSON envelope for a client asking JSON).

Driven with `curl` (which resolves *.localhost to loopback itself) and requests; effects are read
back through the API: the stored executions, and the lines the function appends to a file.
"""
from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from support import JsonApi, archive_bytes, require_toolchain, wait_for

PROJECT = "domains"
MAIN = """
import hashlib, json, os
def main(context):
    req = context.req
    with open(os.environ["MARK_FILE"], "a") as f:
        f.write(req.method + " " + req.path + "\\n")
    if req.path == "/bin":
        return context.res.binary(bytes([0, 10, 255, 254]), 200, {"content-type": "application/octet-stream"})
    if req.path == "/empty404":
        return context.res.send("", 404)
    return context.res.json({"method": req.method, "path": req.path, "query": req.query_string,
                             "host": req.headers.get("host"), "custom": req.headers.get("x-custom"),
                             "trigger": req.headers.get("x-appwrite-trigger"),
                             "md5": hashlib.md5(req.body_binary).hexdigest()}, 201, {"x-fn": "yes"})
"""


def _port(srv) -> int:
    return urlsplit(srv.endpoint).port


def _deploy(api: JsonApi, function_id: str, marks: Path, **fields) -> None:
    api.deploy(function_id, {"main.py": MAIN}, **fields)
    api.ok("POST", f"/functions/{function_id}/variables", {"key": "MARK_FILE", "value": str(marks)})


def _runs(marks: Path) -> list[str]:
    return marks.read_text().splitlines() if marks.exists() else []


def _curl(*args: str) -> tuple[int, dict, bytes]:
    """(status, headers lower-cased, body) of one curl call."""
    out = subprocess.run(["curl", "-sS", "-m", "120", "-D", "-", *args], capture_output=True, timeout=180)
    assert out.returncode == 0, out.stderr
    head, _, body = out.stdout.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(lines[0].split()[1]), headers, body


@pytest.fixture(scope="module")
def open_fn(server, tmp_path_factory):
    marks = tmp_path_factory.mktemp("domains") / "open.txt"
    _deploy(JsonApi(server.endpoint, PROJECT), "open-fn", marks, execute=["any"])
    return marks


def test_domain_runs_the_function_with_the_raw_request(server, open_fn, tmp_path):
    """curl on <functionId>.functions.localhost: the function gets method, path, query, headers and
    the raw body; the client gets its status, headers and body; the run is an `http` execution."""
    if subprocess.run(["curl", "--version"], capture_output=True).returncode != 0:
        require_toolchain("curl", "curl not found. Install: apt-get install -y curl")
    raw = bytes(range(256)) * 3
    (tmp_path / "body.bin").write_bytes(raw)
    url = f"http://open-fn.functions.localhost:{_port(server)}/a/b?c=d&e=f"
    status, headers, body = _curl("-X", "PUT", "--data-binary", f"@{tmp_path / 'body.bin'}", "-H", "x-custom: 42",
                                  "-H", "content-type: application/octet-stream", url)
    assert status == 201, body
    seen = json.loads(body)
    assert seen == {"method": "PUT", "path": "/a/b", "query": "c=d&e=f",
                    "host": f"open-fn.functions.localhost:{_port(server)}", "custom": "42", "trigger": "http",
                    "md5": hashlib.md5(raw).hexdigest()}
    assert headers["x-fn"] == "yes" and headers["content-type"].startswith("application/json")
    execution_id = headers["x-appwrite-execution-id"]

    api = JsonApi(server.endpoint, PROJECT)
    doc = api.ok("GET", f"/functions/open-fn/executions/{execution_id}")
    assert (doc["trigger"], doc["status"], doc["requestMethod"], doc["requestPath"], doc["responseStatusCode"]) == \
        ("http", "completed", "PUT", "/a/b?c=d&e=f", 201)
    assert {"name": "host", "value": f"open-fn.functions.localhost:{_port(server)}"} in doc["requestHeaders"]
    assert _runs(open_fn)[-1] == "PUT /a/b"

    # Bytes come back as they are; an error status with no body gets a page.
    status, headers, body = _curl(f"http://open-fn.functions.localhost:{_port(server)}/bin")
    assert (status, body) == (200, bytes([0, 10, 255, 254]))
    assert headers["content-type"].startswith("application/octet-stream")  # the runtime adds a charset
    status, headers, body = _curl(f"http://open-fn.functions.localhost:{_port(server)}/empty404")
    assert status == 404 and headers["content-type"].startswith("text/html") and b"<html" in body
    assert _runs(open_fn)[-2:] == ["GET /bin", "GET /empty404"]


def test_proxy_rule_domain_and_console_variables(server, open_fn):
    """The CLI's proxy rule for a domain under _APP_DOMAIN_FUNCTIONS routes to its function."""
    port = _port(server)
    api = JsonApi(server.endpoint, PROJECT)
    assert api.ok("GET", "/console/variables")["_APP_DOMAIN_FUNCTIONS"] == "functions.localhost"
    rule = api.ok("POST", "/proxy/rules/function", {"domain": "my-webhook.functions.localhost", "functionId": "open-fn"})
    assert rule["domain"] == "my-webhook.functions.localhost"
    r = requests.post(f"http://127.0.0.1:{port}/hook", data=b"payload", timeout=120,
                      headers={"Host": f"my-webhook.functions.localhost:{port}"})
    assert r.status_code == 201 and r.json()["md5"] == hashlib.md5(b"payload").hexdigest()
    assert _runs(open_fn)[-1] == "POST /hook"
    # A name under the domain that is neither a function nor a rule.
    r = requests.get(f"http://127.0.0.1:{port}/", headers={"Host": f"nothing-here.functions.localhost:{port}",
                                                            "Accept": "application/json"}, timeout=60)
    assert (r.status_code, r.json()["type"]) == (404, "rule_not_found")


def test_error_pages(server, tmp_path):
    """An unknown name, no active deployment (none, one never activated, a failed build: Appwrite's
    domain then has none either), `execute` without any/guests: Appwrite's errors, nothing runs."""
    port = _port(server)
    api = JsonApi(server.endpoint, PROJECT)
    api.ok("POST", "/functions", {"functionId": "undeployed", "name": "u", "runtime": "python-3.11",
                                  "entrypoint": "main.py"})
    idle = api.upload_ok("undeployed", archive_bytes({"main.py": MAIN}), activate=False)  # ready, never active
    wait_for(lambda: api.ok("GET", f"/functions/undeployed/deployments/{idle['$id']}")["status"] == "ready",
             timeout=120, message="the inactive build")
    closed = tmp_path / "closed.txt"
    _deploy(api, "closed-fn", closed, execute=["users"])
    api.ok("POST", "/functions", {"functionId": "broken", "name": "b", "runtime": "python-3.11",
                                  "entrypoint": "main.py", "commands": "exit 3"})
    dep = api.upload_ok("broken", archive_bytes({"main.py": MAIN}))
    wait_for(lambda: api.ok("GET", f"/functions/broken/deployments/{dep['$id']}")["status"] == "failed",
             timeout=120, message="the broken build to fail")

    expected = {"missing-fn": (404, "rule_not_found", "Nothing is here yet", "Start with this domain"),
                "undeployed": (404, "deployment_not_found", "No active deployments", "View deployments"),
                "broken": (404, "deployment_not_found", "No active deployments", "View deployments"),
                "closed-fn": (401, "function_execute_permission_missing", "Execution not permitted", "View settings")}
    for function_id, (code, error_type, heading, link) in expected.items():
        host = f"{function_id}.functions.localhost:{port}"
        page = requests.post(f"http://127.0.0.1:{port}/x", data=b"x", headers={"Host": host}, timeout=60)
        assert page.status_code == code and page.headers["content-type"].startswith("text/html"), function_id
        assert error_type in page.text and "<!DOCTYPE html>" in page.text
        assert heading in page.text and f">{link}</a>" in page.text, page.text
        if function_id != "missing-fn":  # the link leads to the function in the console, on the API's address
            assert f'href="http://127.0.0.1:{port}/console/functions/{function_id}"' in page.text
        envelope = requests.get(f"http://127.0.0.1:{port}/", timeout=60,
                                headers={"Host": host, "Accept": "application/json"}).json()
        assert (envelope["code"], envelope["type"]) == (code, error_type), envelope
    assert envelope["message"] == 'To execute function using domain, execute permissions must include "any" or "guests".'
    assert _runs(closed) == []
    for function_id in ("closed-fn", "broken", "undeployed"):
        assert api.ok("GET", f"/functions/{function_id}/executions")["total"] == 0


KEY = "domains-key"


def test_domain_origin_guard_and_custom_suffix(server_factory, tmp_path):
    """--functions-domain names the suffix; the key is not needed on a domain (Appwrite's are public),
    but a foreign page's Origin is refused unless --cors-origin allows it (an emulator choice)."""
    srv = server_factory("--api-key", KEY, "--functions-domain", "fn.test", "--cors-origin", "http://allowed.test")
    port = _port(srv)
    marks = tmp_path / "keyed.txt"

    def keyed(method: str, path: str, **kwargs) -> dict:
        r = requests.request(method, srv.endpoint + path, headers={"x-appwrite-project": PROJECT,
                                                                   "x-appwrite-key": KEY}, timeout=60, **kwargs)
        assert r.status_code < 400, r.text
        return r.json()

    keyed("POST", "/functions", json={"functionId": "edge", "name": "edge", "runtime": "python-3.11",
                                      "entrypoint": "main.py", "execute": ["any"]})
    keyed("POST", "/functions/edge/variables", json={"key": "MARK_FILE", "value": str(marks)})
    dep = keyed("POST", "/functions/edge/deployments", data={"activate": "true"},
                files={"code": ("code.tar.gz", archive_bytes({"main.py": MAIN}), "application/gzip")})
    wait_for(lambda: keyed("GET", "/functions/edge")["deploymentId"] == dep["$id"]
             and keyed("GET", f"/functions/edge/deployments/{dep['$id']}")["status"] == "ready",
             timeout=180, message="edge to be deployed")
    assert keyed("GET", "/console/variables")["_APP_DOMAIN_FUNCTIONS"] == "fn.test"

    url = f"http://127.0.0.1:{port}/p"
    host = f"edge.fn.test:{port}"
    r = requests.post(url, data=b"no-key", headers={"Host": host}, timeout=120)
    assert r.status_code == 201 and r.json()["host"] == host
    r = requests.post(url, data=b"evil", headers={"Host": host, "Origin": "http://evil.example"}, timeout=60)
    assert (r.status_code, r.json()["type"]) == (403, "general_unknown_origin")
    r = requests.post(url, data=b"ok", headers={"Host": host, "Origin": "http://allowed.test"}, timeout=120)
    assert r.status_code == 201
    # Host names that are not `<valid id>.fn.test` stay refused (DNS rebinding).
    for bad in (f"evil.test:{port}", f"-x.fn.test:{port}", f"{'a' * 40}.fn.test:{port}"):
        r = requests.post(url, data=b"rebound", headers={"Host": bad}, timeout=60)
        assert r.status_code == 403, bad
    assert _runs(marks) == ["POST /p", "POST /p"]
    # The API on the same port still wants the key.
    assert requests.get(srv.endpoint + "/functions", headers={"x-appwrite-project": PROJECT}, timeout=60
                        ).status_code == 401
