"""Execute permissions as Appwrite 1.9.6 applies them, against a server run with --api-key.

Ported from FunctionsConsoleClientTest::testCreateFunction (roles are validated) and
FunctionsCustomClientTest::testCreateExecution / testCreateCustomExecutionGuest (a caller without
a key is the guests role: it may create an execution of a function whose `execute` includes `any`
or `guests`, nothing else). Guests read nothing (Appwrite gives them `executions.write` only). The
official Python and Node SDKs without a key and the real web SDK in headless Chromium make the
guest calls.
Effects are read back with the key: executions stored, the function's own record of each run.
"""
from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest
import requests

from browser import NODE_MODULES, drive, sdk_site
from support import archive_bytes, require_toolchain, wait_for

KEY = "permissions-test-key"
PROJECT = "perms"
MAIN = """
import hashlib, os
def main(context):
    body = context.req.body_binary
    with open(os.environ["MARK_FILE"], "a") as f:
        f.write(hashlib.md5(body).hexdigest() + "\\n")
    return context.res.json({"md5": hashlib.md5(body).hexdigest(), "size": len(body),
                             "trigger": context.req.headers.get("x-appwrite-trigger", "")})
"""
DRIVER = Path(__file__).with_name("web_sdk_guest.mjs")


@pytest.fixture(scope="module")
def keyed(module_server_factory):
    return module_server_factory("--api-key", KEY)


def _call(srv, method: str, path: str, key: str | None = KEY, **kwargs) -> requests.Response:
    headers = {"x-appwrite-project": PROJECT, **kwargs.pop("headers", {})}
    if key:
        headers["x-appwrite-key"] = key
    return requests.request(method, srv.endpoint + path, headers=headers, timeout=120, **kwargs)


def _deploy(srv, function_id: str, execute: list, marks: Path, **fields) -> None:
    r = _call(srv, "POST", "/functions", json={"functionId": function_id, "name": function_id,
                                               "runtime": "python-3.11", "entrypoint": "main.py",
                                               "execute": execute, **fields})
    assert r.status_code == 201, r.text
    r = _call(srv, "POST", f"/functions/{function_id}/variables", json={"key": "MARK_FILE", "value": str(marks)})
    assert r.status_code == 201, r.text
    r = _call(srv, "POST", f"/functions/{function_id}/deployments", data={"activate": "true"},
              files={"code": ("code.tar.gz", archive_bytes({"main.py": MAIN}), "application/gzip")})
    assert r.status_code == 202, r.text

    def active():
        doc = _call(srv, "GET", f"/functions/{function_id}").json()
        return doc["deploymentId"] and _call(
            srv, "GET", f"/functions/{function_id}/deployments/{doc['deploymentId']}").json()["status"] == "ready"
    wait_for(active, timeout=180, message=f"{function_id} to be deployed")


def _runs(marks: Path) -> list[str]:
    return marks.read_text().split() if marks.exists() else []


def _executions(srv, function_id: str) -> int:
    return _call(srv, "GET", f"/functions/{function_id}/executions").json()["total"]


def test_create_function(keyed):
    """testCreateFunction: a role list Appwrite's Roles validator refuses is 400 and creates nothing."""
    r = _call(keyed, "POST", "/functions", json={"functionId": "roles-bad", "name": "Test Failure",
                                                 "runtime": "python-3.11", "execute": ["some-random-string"]})
    assert r.status_code == 400
    assert r.json()["type"] == "general_argument_invalid"
    assert r.json()["message"] == ('Invalid `execute` param: Role "some-random-string" is not allowed. Must be one '
                                   'of: any, guests, users, user, team, member, label.')
    assert _call(keyed, "GET", "/functions/roles-bad").status_code == 404
    for roles, message in ((["users:abc"], 'Role "users" can not have an ID value.'),
                           (["user"], 'Role "user" must have an ID value.'),
                           (["users/admin"], 'Role "users" dimension value is invalid. Must be one of: verified, '
                                             'unverified.'),
                           (["*"], 'Wildcard role "*" has been replaced. Use "any" instead.')):
        r = _call(keyed, "PUT", "/functions/roles-bad", json={"name": "x", "execute": roles})
        assert (r.status_code, r.json()["message"]) == (400, f"Invalid `execute` param: {message}"), roles
    valid = ["any", "guests", "users", "users/verified", "user:abc", "user:abc/unverified", "team:t1",
             "team:t1/owner", "member:m1", "label:vip"]
    r = _call(keyed, "POST", "/functions", json={"functionId": "roles-ok", "name": "Test", "runtime": "python-3.11",
                                                 "execute": valid})
    assert r.status_code == 201, r.text
    assert _call(keyed, "GET", "/functions/roles-ok").json()["execute"] == valid


def test_create_execution(keyed, tmp_path):
    """testCreateExecution: a guest may not execute a function open to one user only (401), a key may."""
    marks = tmp_path / "user-only.txt"
    _deploy(keyed, "user-only", ["user:someone"], marks)
    r = _call(keyed, "POST", "/functions/user-only/executions", key=None, json={"async": True})
    assert r.status_code == 401
    assert r.json()["type"] == "user_unauthorized"
    assert r.json()["message"] == ('Missing "execute" permission for role "user:someone". Only "["any","guests"]" '
                                   'scopes are allowed and "["user:someone"]" was given.')
    assert _executions(keyed, "user-only") == 0
    r = _call(keyed, "POST", "/functions/user-only/executions", json={"async": True})
    assert r.status_code == 202
    wait_for(lambda: len(_runs(marks)) == 1, timeout=120, message="the keyed execution to run")

    _deploy(keyed, "nobody", [], tmp_path / "nobody.txt")
    r = _call(keyed, "POST", "/functions/nobody/executions", key=None, json={"body": "x"})
    assert (r.status_code, r.json()["message"]) == (401, "No permissions provided for action 'execute'")
    assert _executions(keyed, "nobody") == 0 and _runs(tmp_path / "nobody.txt") == []


def test_create_custom_execution_guest(keyed, tmp_path):
    """testCreateCustomExecutionGuest: `any` lets a guest execute (async 202, sync 201), and read nothing."""
    marks = tmp_path / "open.txt"
    _deploy(keyed, "open-any", ["any"], marks)
    r = _call(keyed, "POST", "/functions/open-any/executions", key=None, json={"body": "foobar", "async": True})
    assert r.status_code == 202, r.text
    wait_for(lambda: _runs(marks) == [hashlib.md5(b"foobar").hexdigest()], timeout=120, message="the guest run")
    execution_id = r.json()["$id"]
    assert _call(keyed, "GET", f"/functions/open-any/executions/{execution_id}").json()["trigger"] == "http"

    # A body past the 64 KiB a keyless request may send elsewhere: the function takes it from anyone.
    big = bytes(range(256)) * 400
    r = _call(keyed, "POST", "/functions/open-any/executions", key=None,
              data={"async": "false"}, files={"body": ("body.bin", big, "application/octet-stream")})
    assert r.status_code == 201, r.text
    assert json.loads(r.json()["responseBody"]) == {"md5": hashlib.md5(big).hexdigest(), "size": len(big),
                                                    "trigger": "http"}

    # Guests hold no read scope: not the execution they created, not the list, not the function.
    for path in (f"/functions/open-any/executions/{execution_id}", "/functions/open-any/executions",
                 "/functions/open-any", "/functions"):
        r = _call(keyed, "GET", path, key=None)
        assert (r.status_code, r.json()["type"]) == (401, "general_unauthorized_scope"), path
    # A wrong key is no guest: refused before anything runs.
    r = _call(keyed, "POST", "/functions/open-any/executions", key="wrong", json={"body": "wrong-key"})
    assert r.status_code == 401
    # A disabled function is not found for a guest (a key still runs it).
    assert _call(keyed, "PUT", "/functions/open-any", json={"name": "open-any", "execute": ["any"],
                                                            "enabled": False}).status_code == 200
    r = _call(keyed, "POST", "/functions/open-any/executions", key=None, json={"body": "disabled"})
    assert (r.status_code, r.json()["type"]) == (404, "function_not_found")
    assert len(_runs(marks)) == 2


def test_python_sdk_guest(keyed, tmp_path):
    """The official Python SDK without a key: it runs a function open to guests, and nothing else."""
    from appwrite.client import Client
    from appwrite.exception import AppwriteException
    from appwrite.services.functions import Functions

    marks = tmp_path / "sdk.txt"
    _deploy(keyed, "sdk-guests", ["guests"], marks)
    _deploy(keyed, "sdk-users", ["users"], tmp_path / "users.txt")
    functions = Functions(Client().set_endpoint(keyed.endpoint).set_project(PROJECT))
    execution = functions.create_execution("sdk-guests", body="from-python-sdk")
    assert execution.status.value == "completed"
    assert json.loads(execution.responsebody)["md5"] == hashlib.md5(b"from-python-sdk").hexdigest()
    assert _runs(marks) == [hashlib.md5(b"from-python-sdk").hexdigest()]
    with pytest.raises(AppwriteException) as refused:
        functions.create_execution("sdk-users", body="x")
    assert refused.value.code == 401 and refused.value.type == "user_unauthorized"
    with pytest.raises(AppwriteException) as unread:
        functions.get_execution("sdk-guests", execution.id)
    assert unread.value.code == 401
    assert _runs(tmp_path / "users.txt") == []


NODE_GUEST = """
import { Client, Functions } from 'node-appwrite';
const [endpoint, project, open, closed] = process.argv.slice(1);
const functions = new Functions(new Client().setEndpoint(endpoint).setProject(project));
const seen = {};
const execution = await functions.createExecution({ functionId: open, body: 'from-node-sdk' });
seen.open = { status: execution.status, body: execution.responseBody };
try {
  await functions.createExecution({ functionId: closed, body: 'must-not-run' });
  seen.closed = 'ran';
} catch (e) {
  seen.closed = { code: e.code, type: e.type };
}
console.log(JSON.stringify(seen));
"""


def test_node_sdk_guest(keyed, tmp_path):
    """The official node-appwrite SDK without a key, as the Python one."""
    if shutil.which("node") is None:
        require_toolchain("node", "node not found. Install: apt-get install -y nodejs npm")
    if not (NODE_MODULES / "node-appwrite").is_dir():
        require_toolchain("node-appwrite", "node-appwrite not installed. Run: cd tests/node && npm install")
    marks = tmp_path / "node.txt"
    _deploy(keyed, "node-any", ["any"], marks)
    _deploy(keyed, "node-closed", ["label:staff"], tmp_path / "node-closed.txt")
    out = subprocess.run(["node", "--input-type=module", "-e", NODE_GUEST, keyed.endpoint, PROJECT, "node-any",
                          "node-closed"], cwd=NODE_MODULES.parent, capture_output=True, text=True, timeout=120,
                         stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out.stdout + out.stderr
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["open"]["status"] == "completed"
    assert json.loads(seen["open"]["body"])["md5"] == hashlib.md5(b"from-node-sdk").hexdigest()
    assert seen["closed"] == {"code": 401, "type": "user_unauthorized"}
    assert _runs(marks) == [hashlib.md5(b"from-node-sdk").hexdigest()]
    assert _runs(tmp_path / "node-closed.txt") == []


@pytest.fixture
def page_server(tmp_path):
    """A page on its own loopback port (an allowed origin) with the web SDK bundle."""
    page = '<!doctype html><script src="/sdk.js"></script><p>guest</p>'
    with sdk_site(tmp_path / "site", {"guest.html": page}) as port:
        yield f"http://127.0.0.1:{port}/guest.html"


def test_web_sdk_guest_in_browser(keyed, tmp_path, page_server):
    """The real `appwrite` web SDK in Chromium, no key: createExecution runs a function open to `any`
    and is refused (401) for one that is not."""
    marks = tmp_path / "browser.txt"
    _deploy(keyed, "web-any", ["any"], marks)
    _deploy(keyed, "web-closed", ["team:staff"], tmp_path / "closed.txt")
    seen = drive(DRIVER, {"page": page_server, "endpoint": keyed.endpoint, "project": PROJECT,
                          "open": "web-any", "closed": "web-closed"})
    assert seen["open"]["status"] == "completed", seen
    assert json.loads(seen["open"]["body"])["md5"] == hashlib.md5(b"from-browser").hexdigest()
    assert seen["closed"] == {"code": 401, "type": "user_unauthorized"}, seen
    assert _runs(marks) == [hashlib.md5(b"from-browser").hexdigest()]
    assert _runs(tmp_path / "closed.txt") == [] and _executions(keyed, "web-closed") == 0
