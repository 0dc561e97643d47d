"""Appwrite 1.9.6 behaviour the emulator must match beyond what the ports of Appwrite's e2e suite
(test_e2e_*.py, one test per method) check: stricter forms of the same items, read from Appwrite's
route definitions (the wording of errors, what a refused request leaves behind, HEAD on every GET route).

Plain HTTP against a real emulator; each check reads back what the server holds, so a refused
request is also seen to have changed nothing.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import requests

from emulator.specifications import SPEC_SLUGS
from e2e_support import headers_of
from support import JsonApi

H = {"x-appwrite-project": "conformance", "x-appwrite-key": "k"}
MAIN = ("def main(context):\n"
        "    context.log('ip=' + context.req.headers.get('x-appwrite-client-ip', '<none>'))\n"
        "    return context.res.text('ok:' + context.req.headers['x-appwrite-trigger'])\n")


def url(srv, path: str) -> str:
    return srv.endpoint + path


def deploy(srv, function_id: str, **extra) -> dict:
    """Creates a Python function answering `ok:<trigger>` and waits until its deployment is active."""
    return JsonApi(srv.endpoint, H["x-appwrite-project"]).deploy(function_id, {"main.py": MAIN}, **extra)


def executions(srv, function_id: str, **query) -> dict:
    r = requests.get(url(srv, f"/functions/{function_id}/executions"), headers=H, params=query)
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture(scope="module")
def fn(server):
    deploy(server, "conf")
    return server


def test_create_execution_array_body(fn):
    """PHP sends no parameters as the JSON `[]`: an empty parameter set, every default applies
    (test_e2e_custom_server.py::test_sync_create_execution); any other array is refused."""
    before = executions(fn, "conf")["total"]
    r = requests.post(url(fn, "/functions/conf/executions"), headers={**H, "content-type": "application/json"},
                      data=b"[]")
    assert r.status_code == 201, r.text
    doc = r.json()
    assert (doc["trigger"], doc["status"], doc["requestMethod"], doc["requestPath"]) == ("http", "completed", "POST", "/")
    assert doc["responseBody"] == "ok:http"
    assert executions(fn, "conf")["total"] == before + 1
    # A non-empty array is still no parameter set, and is refused without a trace.
    bad = requests.post(url(fn, "/functions/conf/executions"), headers={**H, "content-type": "application/json"},
                        data=b'["body"]')
    assert bad.status_code == 400 and bad.json()["type"] == "general_argument_invalid", bad.text
    assert executions(fn, "conf")["total"] == before + 1


def test_execution_id_header_only_in_the_live_answer(fn):
    r = requests.post(url(fn, "/functions/conf/executions"), headers=H, json={"body": "x"})
    assert r.status_code == 201, r.text
    doc = r.json()
    assert headers_of(doc, "responseHeaders")["x-appwrite-execution-id"] == doc["$id"]
    # Only the live answer has it; the stored record keeps the filtered headers.
    stored = requests.get(url(fn, f"/functions/conf/executions/{doc['$id']}"), headers=H).json()
    assert "x-appwrite-execution-id" not in headers_of(stored, "responseHeaders")
    # The HTTP caller's address is recorded and handed to the function.
    assert headers_of(doc, "requestHeaders")["x-appwrite-client-ip"] == "127.0.0.1"
    assert "ip=127.0.0.1" in doc["logs"]


def test_list_executions_ignores_search(fn):
    """1.9.6 has no `search` on list executions: one sent is ignored, not used to filter."""
    created = requests.post(url(fn, "/functions/conf/executions"), headers=H, json={"body": "x"})
    assert created.status_code == 201, created.text
    listed = executions(fn, "conf")
    assert created.json()["$id"] in [e["$id"] for e in listed["executions"]]
    searched = executions(fn, "conf", search="no-execution-has-this-word")
    assert searched["total"] == listed["total"]
    assert [e["$id"] for e in searched["executions"]] == [e["$id"] for e in listed["executions"]]


@pytest.mark.parametrize("param", ["buildSpecification", "runtimeSpecification"])
def test_create_function_with_invalid_specification(server, param):
    r = requests.post(url(server, "/functions"), headers=H, json={
        "functionId": "badspec", "name": "x", "runtime": "python-3.11", param: "s-2vcpu-512gb"})
    assert r.status_code == 400, r.text
    assert r.json()["type"] == "general_argument_invalid"
    assert r.json()["message"] == f"Invalid `{param}` param: Specification must be one of: " + ", ".join(SPEC_SLUGS)
    assert requests.get(url(server, "/functions/badspec"), headers=H).status_code == 404



def test_head_on_get_routes(fn):
    for path in ("/functions/conf/executions", "/functions/conf", "/functions"):
        get = requests.get(url(fn, path), headers=H)
        head = requests.head(url(fn, path), headers=H)
        assert head.status_code == 200 == get.status_code, (path, head.status_code)
        assert head.content == b""
        assert head.headers["content-type"] == get.headers["content-type"]
    assert requests.head(url(fn, "/functions/nosuchfn"), headers=H).status_code == 404


@pytest.mark.parametrize("offset", [timedelta(seconds=30), timedelta(milliseconds=500), timedelta(minutes=-10)],
                         ids=["seconds", "milliseconds", "past"])
def test_create_scheduled_execution_precision(fn, offset):
    """scheduledAt must be a whole minute (no seconds, no milliseconds) and at least a minute ahead."""
    when = (datetime.now(timezone.utc) + timedelta(minutes=5)).replace(second=0, microsecond=0) + offset
    before = executions(fn, "conf")["total"]
    r = requests.post(url(fn, "/functions/conf/executions"), headers=H,
                      json={"async": True, "scheduledAt": when.isoformat()})
    assert r.status_code == 400, r.text
    assert r.json()["type"] == "general_bad_request"
    assert r.json()["message"] == "Execution schedule must be a valid date, and at least 1 minute from now"
    assert executions(fn, "conf")["total"] == before



def test_create_function_with_unknown_runtime(server):
    r = requests.post(url(server, "/functions"), headers=H, json={"functionId": "cobol", "name": "x",
                                                                  "runtime": "cobol-1.0"})
    assert r.status_code == 400, r.text
    assert r.json()["type"] == "general_argument_invalid"
    assert r.json()["message"].startswith("Invalid `runtime` param: Value must be one of (")
    assert "python-3.11" in r.json()["message"]
    # A runtime Appwrite has that this emulator does not run: known, but not supported.
    r = requests.post(url(server, "/functions"), headers=H, json={"functionId": "bun", "name": "x",
                                                                  "runtime": "bun-1.1"})
    assert r.status_code == 404 and r.json()["type"] == "function_runtime_unsupported", r.text
    assert r.json()["message"] == 'Runtime "bun-1.1" is not supported'
    for function_id in ("cobol", "bun"):
        assert requests.get(url(server, f"/functions/{function_id}"), headers=H).status_code == 404

