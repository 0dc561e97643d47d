"""Keys stay within their scope: a short-lived key (a JWT from POST /projects/{id}/jwts, or the
x-appwrite-key an execution hands its function) works for its own project only and until it
expires, and never earns a console session; sessions come from a login or the real --api-key
and die with that key."""
from __future__ import annotations

import json
import time

import pytest

from security_helpers import call, deploy_marker

KEY = "scope-test-key"
CLI = {"X-SDK-Name": "Command Line"}


@pytest.fixture
def keyed(server_factory, tmp_path):
    return server_factory("--api-key", KEY, data_dir=tmp_path / "keyed-data")


def jwt(endpoint: str, project: str, duration: int, key: str = KEY, headers: dict | None = None):
    return call(endpoint, "POST", f"/projects/{project}/jwts", "console", key, headers=headers,
                json={"duration": duration})


def new_function(endpoint, project, key, function_id, headers=None):
    return call(endpoint, "POST", "/functions", project, key, headers=headers,
                json={"functionId": function_id, "name": function_id, "runtime": "python-3.11"})


def test_jwt_works_for_its_project_until_it_expires(keyed):
    e = keyed.endpoint
    long_lived = jwt(e, "p1", 600).json()["jwt"]
    assert call(e, "GET", "/functions", "p1", long_lived).status_code == 200
    for project in ("p2", "console", "P1", "p1.x"):
        r = call(e, "GET", "/functions", project, long_lived)
        assert r.status_code == 401 and r.json()["type"] == "general_unauthorized_scope", project
    r = new_function(e, "p2", long_lived, "intruder")
    assert r.status_code == 401
    assert call(e, "GET", "/functions", "p2", KEY).json()["total"] == 0

    short = jwt(e, "p1", 1).json()["jwt"]
    issued = time.monotonic()
    first = call(e, "GET", "/functions", "p1", short).status_code
    deadline = time.monotonic() + 30
    while call(e, "GET", "/functions", "p1", short).status_code == 200:
        assert time.monotonic() < deadline, "the 1-second key is still accepted"
        time.sleep(0.1)
    # Accepted at first (unless this machine took over a second to answer), refused after expiry.
    assert first == 200 or time.monotonic() - issued > 1
    assert new_function(e, "p1", short, "late").status_code == 401
    assert "late" not in {f["$id"] for f in call(e, "GET", "/functions", "p1", KEY).json()["functions"]}


def test_short_lived_key_earns_no_session_and_mints_no_key(keyed):
    e = keyed.endpoint
    key = jwt(e, "p1", 600).json()["jwt"]
    r = new_function(e, "p1", key, "from-jwt", headers=CLI)
    assert r.status_code == 201 and "Set-Cookie" not in r.headers
    r = jwt(e, "p1", 600, key=key, headers={"x-appwrite-project": "p1"})
    assert r.status_code == 401 and "jwt" not in r.json()
    r = jwt(e, "p2", 600, key=key, headers={"x-appwrite-project": "p1"})
    assert r.status_code == 401
    r = call(e, "GET", "/account", "console", key)
    assert r.status_code == 401


def test_execution_key_is_scoped_to_its_project(keyed, tmp_path):
    e = keyed.endpoint
    mark_file = tmp_path / "marks.txt"
    deploy_marker(e, "p1", KEY, "marker", mark_file, tmp_path)
    r = call(e, "POST", "/functions/marker/executions", "p1", KEY, json={"body": "hi"})
    assert r.status_code == 201 and r.json()["status"] == "completed", r.text
    given = json.loads(r.json()["responseBody"])
    exec_key, project = given["key"], given["project"]
    assert exec_key.startswith("ephemeral_") and project == "p1"
    assert call(e, "GET", "/functions/marker", "p1", exec_key).status_code == 200
    for other in ("p2", "console"):
        assert call(e, "GET", "/functions", other, exec_key).status_code == 401
        assert new_function(e, other, exec_key, "escaped").status_code == 401
    r = new_function(e, "p1", exec_key, "cli-like", headers=CLI)
    assert r.status_code == 201 and "Set-Cookie" not in r.headers
    assert jwt(e, "p1", 60, key=exec_key, headers={"x-appwrite-project": "p1"}).status_code == 401
    assert call(e, "GET", "/functions", "p2", KEY).json()["total"] == 0


def test_sessions_come_from_the_real_key_or_a_login_and_die_with_it(server_factory, tmp_path):
    data = tmp_path / "session-data"
    srv = server_factory("--api-key", KEY, data_dir=data)
    e = srv.endpoint
    # Wrong key: 401 and no session. The real key: the CLI gets a cookie with the function.
    assert new_function(e, "p1", "wrong", "nope", headers=CLI).status_code == 401
    r = new_function(e, "p1", KEY, "first", headers=CLI)
    assert r.status_code == 201
    key_cookie = r.headers["Set-Cookie"].split(";")[0]
    assert key_cookie.startswith("a_session_console=")
    r = call(e, "POST", "/account/sessions/email", "console", json={"email": "a@b.c", "password": KEY})
    assert r.status_code == 201
    login_cookie = r.headers["Set-Cookie"].split(";")[0]
    r = call(e, "POST", "/account/sessions/email", "console", json={"email": "a@b.c", "password": "guess"})
    assert r.status_code == 401 and "Set-Cookie" not in r.headers
    for cookie in (key_cookie, login_cookie):  # admin credentials: any project
        assert call(e, "GET", "/functions", "p9", headers={"cookie": cookie}).status_code == 200
    srv.stop()

    # Same key after a restart: the sessions are still valid (they came from that key).
    srv = server_factory("--api-key", KEY, data_dir=data)
    for cookie in (key_cookie, login_cookie):
        assert call(srv.endpoint, "GET", "/functions", "p1", headers={"cookie": cookie}).status_code == 200
    srv.stop()

    # Another key: every session made under the old one is dead.
    srv = server_factory("--api-key", "another-key", data_dir=data)
    for cookie in (key_cookie, login_cookie):
        r = call(srv.endpoint, "GET", "/functions", "p1", headers={"cookie": cookie})
        assert r.status_code == 401 and "appwrite login" in r.json()["message"]
        assert new_function(srv.endpoint, "p1", None, "with-cookie", headers={"cookie": cookie}).status_code == 401
    assert call(srv.endpoint, "GET", "/functions", "p1", "another-key").json()["total"] == 1


def test_api_key_from_the_environment(server_factory, tmp_path, monkeypatch):
    monkeypatch.setenv("APPWRITE_EMULATOR_API_KEY", "k-7f3a9c")
    srv = server_factory(data_dir=tmp_path / "env-key-data")
    assert call(srv.endpoint, "GET", "/functions", "p1").status_code == 401
    assert call(srv.endpoint, "GET", "/functions", "p1", "other").status_code == 401
    assert call(srv.endpoint, "GET", "/functions", "p1", "k-7f3a9c").status_code == 200
    # Not on the command line, so not in `ps`.
    assert b"k-7f3a9c" not in open(f"/proc/{srv.proc.pid}/cmdline", "rb").read()
