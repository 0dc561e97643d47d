"""Wire-level behaviour the SDKs rely on, checked with plain HTTP requests."""
from __future__ import annotations

import json
import os
import sqlite3
import threading
from urllib.parse import urlencode

import requests

from support import JsonApi, make_archive, wait_for
from test_python_sdk import client, wait_build

H = {"x-appwrite-project": "http", "x-appwrite-key": "k"}


def test_envelope_route_not_found_and_204(server):
    r = requests.get(server.endpoint + "/nothing/here", headers=H)
    assert r.status_code == 404
    assert r.json() == {"message": r.json()["message"], "code": 404, "type": "general_route_not_found", "version": "1.9.6"}
    assert r.headers["Content-Type"].startswith("application/json")
    created = requests.post(server.endpoint + "/functions", headers=H,
                            json={"functionId": "raw", "name": "Raw", "runtime": "python-3.11"})
    assert created.status_code == 201 and created.json()["$id"] == "raw"
    deleted = requests.delete(server.endpoint + "/functions/raw", headers={**H, "content-type": "application/json"},
                              data="{}")
    assert deleted.status_code == 204 and deleted.content == b""
    assert not deleted.headers["Content-Type"].startswith("application/json")


def test_param_errors_and_bad_bodies(server):
    missing = requests.post(server.endpoint + "/functions", headers=H, json={"functionId": "x", "runtime": "python-3.11"})
    assert missing.status_code == 400 and missing.json()["message"] == 'Param "name" is not optional.'
    bad_id = requests.post(server.endpoint + "/functions", headers=H, json={"functionId": ".x", "name": "n", "runtime": "python-3.11"})
    assert bad_id.json()["message"].startswith("Invalid `functionId` param: Parameter must contain at most 36 chars.")
    garbage = requests.post(server.endpoint + "/functions", headers={**H, "content-type": "application/json"}, data=b"{oops")
    assert garbage.status_code == 400 and garbage.json()["type"] == "general_argument_invalid"
    utf = requests.post(server.endpoint + "/functions", headers={**H, "content-type": "application/json"}, data=b"\xff\xfe{}")
    assert utf.status_code == 400 and utf.json()["type"] == "general_argument_invalid"
    huge = requests.post(server.endpoint + "/functions", headers={**H, "content-type": "application/json"},
                         data=b"{" + b" " * (33 * 1024 * 1024) + b"}")
    assert huge.status_code == 413 and huge.json()["code"] == 413
    deep = requests.post(server.endpoint + "/functions", headers={**H, "content-type": "application/json"},
                         data=b'{"functionId":' + b"[" * 100000 + b"]" * 100000 + b"}")
    assert deep.status_code == 400
    assert requests.get(server.endpoint + "/health/version").json() == {"version": "1.9.6"}


def test_query_string_array_forms(server):
    fx = client(server.endpoint, "http")
    for i in range(3):
        fx.create(f"arr{i}", f"Arr {i}", "python-3.11")
    q = json.dumps({"method": "limit", "values": [1]})
    indexed = requests.get(server.endpoint + "/functions", headers={**H, "content-type": ""}, params={"queries[0]": q})
    bracket = requests.get(server.endpoint + "/functions", headers=H, params={"queries[]": q})
    legacy = requests.get(server.endpoint + "/functions", headers=H, params={"queries[]": "limit(2)"})
    assert len(indexed.json()["functions"]) == 1 and len(bracket.json()["functions"]) == 1
    assert len(legacy.json()["functions"]) == 2 and legacy.json()["total"] >= 3
    old_style = requests.get(server.endpoint + "/functions", headers=H, params={"limit": "1", "orderType": "DESC"})
    assert [f["$id"] for f in old_style.json()["functions"]] == ["arr2"]


def test_response_format_shapes(server):
    headers = {"x-appwrite-project": "http-format", "x-appwrite-key": "k"}
    for i in range(2):  # a list to check: all() over no functions would prove nothing
        created = requests.post(server.endpoint + "/functions", headers=headers,
                                json={"functionId": f"fmt{i}", "name": f"Fmt {i}", "runtime": "python-3.11"})
        assert created.status_code == 201
    old = requests.get(server.endpoint + "/functions", headers={**headers, "x-appwrite-response-format": "1.8.0"})
    assert [f["$id"] for f in old.json()["functions"]] == ["fmt0", "fmt1"]
    assert [f["specification"] for f in old.json()["functions"]] == ["s-1vcpu-512mb"] * 2
    new = requests.get(server.endpoint + "/functions", headers={**headers, "x-appwrite-response-format": "2.5.0"})
    assert [f["$id"] for f in new.json()["functions"]] == ["fmt0", "fmt1"]
    assert not [f for f in new.json()["functions"] if "specification" in f]


def test_legacy_routes_and_params(server, tmp_path):
    fx = client(server.endpoint, "http")
    fx.create("old", "Old", "python-3.11", entrypoint="main.py")
    archive = make_archive({"main.py": "def main(context):\n    return context.res.text(context.req.body_text)\n"},
                           tmp_path / "c.tar.gz")
    with open(archive, "rb") as fh:
        up = requests.post(server.endpoint + "/functions/old/deployments", headers=H,
                           files={"code": ("c.tar.gz", fh)}, data={"activate": "false", "entrypoint": "main.py"})
    assert up.status_code == 202
    dep = wait_build(fx, "old", up.json()["$id"])
    assert fx.get("old").deploymentid == ""  # activate=false
    patched = requests.patch(server.endpoint + f"/functions/old/deployments/{dep.id}", headers=H, json={})
    assert patched.status_code == 200 and patched.json()["deploymentId"] == dep.id
    run = requests.post(server.endpoint + "/functions/old/executions", headers=H, json={"data": "from 1.3"})
    assert run.status_code == 201 and run.json()["responseBody"] == "from 1.3"
    rebuilt = requests.post(server.endpoint + f"/functions/old/deployments/{dep.id}/builds/{dep.id}", headers=H, json={})
    assert rebuilt.status_code == 204 and rebuilt.content == b""
    # The rebuild is a new deployment from the same source: it builds, goes live and serves.
    others = [d.id for d in fx.list_deployments("old").deployments if d.id != dep.id]
    assert len(others) == 1, others
    again = wait_build(fx, "old", others[0])
    assert again.status.value == "ready" and again.sourcesize == dep.sourcesize, again.buildlogs
    assert fx.get("old").deploymentid == again.id
    run = requests.post(server.endpoint + "/functions/old/executions", headers=H, json={"data": "rebuilt"})
    assert run.status_code == 201 and run.json()["responseBody"] == "rebuilt" and run.json()["deploymentId"] == again.id


def test_api_key_is_enforced(server_factory):
    srv = server_factory("--api-key", "secret-key")
    no_key = requests.get(srv.endpoint + "/functions", headers={"x-appwrite-project": "p"})
    assert no_key.status_code == 401 and no_key.json()["type"] == "general_unauthorized_scope"
    wrong = requests.get(srv.endpoint + "/functions", headers={"x-appwrite-project": "p", "x-appwrite-key": "nope"})
    assert wrong.status_code == 401
    ok = requests.get(srv.endpoint + "/functions", headers={"x-appwrite-project": "p", "x-appwrite-key": "secret-key"})
    assert ok.status_code == 200 and ok.json() == {"total": 0, "functions": []}
    assert requests.get(srv.endpoint + "/health/version").status_code == 200


def test_projects_are_isolated(server):
    a = client(server.endpoint, "project-a")
    b = client(server.endpoint, "project-b")
    a.create("same", "In A", "python-3.11")
    b.create("same", "In B", "python-3.11")
    assert a.get("same").name == "In A" and b.get("same").name == "In B"


def test_a_sync_execution_is_listed_by_the_next_request_and_committed(server):
    """A synchronous execution's answer leaves before its record's commit, which follows in the
    same loop step: the next request (a list, read on a worker thread with its own connection)
    finds it, and so does another process reading the database."""
    api = JsonApi(server.endpoint, "commit-follows")
    api.deploy("quick", {"main.py": "def main(context):\n    return context.res.text('done')\n"})
    for _ in range(20):
        execution = api.ok("POST", "/functions/quick/executions", {"body": "x"})
        assert execution["responseBody"] == "done"
        query = json.dumps({"method": "equal", "attribute": "$id", "values": [execution["$id"]]})
        listed = api.ok("GET", "/functions/quick/executions?" + urlencode({"queries[]": query}))
        assert [doc["$id"] for doc in listed["executions"]] == [execution["$id"]]
    # The runtime's log files of each call are removed once its answer has left, not left behind.
    logs_dirs = list(server.data_dir.glob("run/*/logs"))
    assert logs_dirs, "the instance's logs directory"
    log_files = [name for logs in logs_dirs for name in os.listdir(logs)]
    assert not [name for name in log_files if name.endswith(".log")], log_files
    conn = sqlite3.connect(f"file:{server.data_dir / 'emulator.db'}?mode=ro", uri=True)
    try:
        assert wait_for(lambda: conn.execute("SELECT 1 FROM executions WHERE id=?", (execution["$id"],)).fetchone(),
                        10, message="the record committed")
    finally:
        conn.close()


def test_a_running_sync_execution_is_listed_as_processing(server, tmp_path):
    """Appwrite gives a synchronous execution the status `processing` while it runs. The emulator
    stores one still running after a moment (so a crash leaves a record), and stores it with that
    status, never `waiting`, which is an async execution's status in the queue."""
    api = JsonApi(server.endpoint, "sync-running")
    api.deploy("held", {"main.py": (
        "import os, time\n"
        "def main(context):\n"
        "    while not os.path.exists(context.req.body_text):\n"
        "        time.sleep(0.01)\n"
        "    return context.res.text('released')\n")})
    gate = tmp_path / "release"
    answer: dict = {}
    caller = threading.Thread(target=lambda: answer.update(
        api.ok("POST", "/functions/held/executions", {"body": str(gate)})))
    caller.start()
    try:
        running = wait_for(lambda: api.ok("GET", "/functions/held/executions")["executions"], 30,
                           message="the running execution's record")
        assert [doc["status"] for doc in running] == ["processing"]
    finally:
        gate.touch()
        caller.join(60)
    assert answer["responseBody"] == "released" and answer["status"] == "completed"
    stored = api.ok("GET", f"/functions/held/executions/{answer['$id']}")
    assert stored["$id"] == running[0]["$id"] and stored["status"] == "completed"
