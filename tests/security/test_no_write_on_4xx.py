"""A request answered with a 4xx changes nothing, and what is stored never makes a read fail.

Checked on a real server by reading back what it holds (lists, gets, counts, folders), also after
a restart, since what a bad request left behind used to break every later list of the project.
"""
from __future__ import annotations

import io
import json
import tarfile

import pytest
import requests

from emulator.store import Store
from support import wait_for

KEY = "k"
H = {"x-appwrite-project": "proj", "x-appwrite-key": KEY}
LONE = "\ud800"  # sent as the JSON escape `\ud800`: valid JSON, but no UTF-8 string


def archive_bytes(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def total(endpoint: str, path: str) -> int:
    r = requests.get(endpoint + path, headers=H)
    assert r.status_code == 200, (path, r.status_code, r.text)
    return r.json()["total"]


def snapshot(endpoint: str) -> dict:
    """What the project holds, as the API reports it."""
    functions = requests.get(endpoint + "/functions", headers=H)
    assert functions.status_code == 200, functions.text
    out = {"functions": functions.json()}
    for fn in functions.json()["functions"]:
        for sub in ("variables", "executions", "deployments"):
            r = requests.get(f"{endpoint}/functions/{fn['$id']}/{sub}", headers=H)
            assert r.status_code == 200, r.text
            out[f"{fn['$id']}/{sub}"] = r.json()
    return out


def comparable(snap: dict) -> dict:
    # $updatedAt of nothing changes on a refused request; the list is compared whole.
    return json.loads(json.dumps(snap))


def assert_400(response: requests.Response, type_: str = "general_argument_invalid") -> None:
    assert response.status_code == 400, (response.status_code, response.text)
    assert response.json()["type"] == type_, response.text


def test_lone_surrogates_are_refused_before_anything_is_stored(server_factory, tmp_path):
    data = tmp_path / "data"
    srv = server_factory(data_dir=data)
    e = srv.endpoint
    assert requests.post(e + "/functions", headers=H, json={"functionId": "base", "name": "Base",
                                                            "runtime": "python-3.11"}).status_code == 201
    var = requests.post(e + "/functions/base/variables", headers=H, json={"key": "K", "value": "v"})
    assert var.status_code == 201
    var_id = var.json()["$id"]
    before = comparable(snapshot(e))

    bad_functions = [{"name": LONE}, {"name": "ok", "description": LONE}, {"name": "ok", "execute": [LONE]},
                     {"name": "ok", "vars": {"K": LONE}}, {"name": "ok", "vars": {LONE: "v"}},
                     {"name": "ok", "commands": "echo " + LONE}]
    for extra in bad_functions:
        assert_400(requests.post(e + "/functions", headers=H,
                                 json={"functionId": "s1", "runtime": "python-3.11", **extra}))
    assert_400(requests.put(e + "/functions/base", headers=H, json={"name": LONE}))
    assert_400(requests.post(e + "/functions/base/variables", headers=H, json={"key": "K2", "value": LONE}))
    assert_400(requests.post(e + "/functions/base/variables", headers=H, json={"key": LONE, "value": "v"}))
    assert_400(requests.put(f"{e}/functions/base/variables/{var_id}", headers=H, json={"value": LONE}))
    for extra in [{"path": "/" + LONE}, {"body": LONE}, {"headers": {"a": LONE}},
                  {"headers": json.dumps({"a": LONE})}, {"method": LONE}]:
        assert_400(requests.post(e + "/functions/base/executions", headers=H, json=extra))
        assert_400(requests.post(e + "/functions/base/executions", headers=H, json={"async": True, **extra}))

    assert comparable(snapshot(e)) == before
    assert requests.get(e + "/functions/s1", headers=H).status_code == 404
    assert requests.get(e + "/functions/base", headers=H).json()["name"] == "Base"

    srv.stop()
    again = server_factory(data_dir=data)
    assert comparable(snapshot(again.endpoint)) == before


def test_rows_stored_before_stay_readable(server_factory, tmp_path):
    """Rows that already hold a lone surrogate (stored by an older version) are answered with
    U+FFFD in its place: lists and gets keep working."""
    data = tmp_path / "data"
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("precious")
    srv = server_factory(data_dir=data)
    assert requests.post(srv.endpoint + "/functions", headers=H,
                         json={"functionId": "old", "name": "Old", "runtime": "python-3.11"}).status_code == 201
    srv.stop()
    store = Store(data / "emulator.db")
    try:
        fn = store.get("functions", "proj", "", "old")
        fn["name"] = "bad" + LONE
        store.update("functions", "proj", "", fn)
        store.insert("variables", "proj", "old", {"$id": "v1", "key": "K", "value": LONE, "secret": False,
                                                  "resourceType": "function", "resourceId": "old"})
        store.insert("executions", "proj", "old", {"$id": "x1", "resourceId": "old", "status": "completed",
                                                   "requestPath": "/" + LONE, "logs": LONE})
        # A deployment row stored under an id that names a folder outside the data dir.
        store.insert("deployments", "proj", "old", {"$id": str(victim), "resourceId": "old", "status": "ready"})
    finally:
        store.close()

    again = server_factory(data_dir=data)
    e = again.endpoint
    listed = requests.get(e + "/functions", headers=H)
    assert listed.status_code == 200 and listed.json()["functions"][0]["name"] == "bad\ufffd"
    assert listed.json()["functions"][0]["vars"][0]["value"] == "\ufffd"
    assert requests.get(e + "/functions/old", headers=H).json()["name"] == "bad\ufffd"
    assert requests.get(e + "/functions/old/variables/v1", headers=H).json()["value"] == "\ufffd"
    executions = requests.get(e + "/functions/old/executions", headers=H)
    assert executions.status_code == 200 and executions.json()["executions"][0]["requestPath"] == "/\ufffd"
    multipart = requests.get(e + "/functions/old/executions/x1", headers={**H, "accept": "multipart/form-data"})
    assert multipart.status_code == 200
    deployments = requests.get(e + "/functions/old/deployments", headers=H)
    assert deployments.status_code == 200 and deployments.json()["deployments"][0]["$id"] == str(victim)
    # The function can still be deleted, and only its own folder goes.
    assert requests.delete(e + "/functions/old", headers=H).status_code == 204
    assert requests.get(e + "/functions", headers=H).json()["total"] == 0
    assert (victim / "keep.txt").read_text() == "precious"


def test_function_create_with_bad_vars_creates_nothing(server_factory, tmp_path):
    data = tmp_path / "data"
    srv = server_factory(data_dir=data)
    e = srv.endpoint
    before = comparable(snapshot(e))
    for bad_vars in [{"bad key": "v"}, {"GOOD": "1", "bad key": "v"}, {"1digit": "v"}, {"": "v"},
                     {"K": "x" * 8193}, {"k" * 256: "v"}]:
        r = requests.post(e + "/functions", headers=H,
                          json={"functionId": "withvars", "name": "V", "runtime": "python-3.11", "vars": bad_vars})
        assert_400(r)
        assert requests.get(e + "/functions/withvars", headers=H).status_code == 404
    assert comparable(snapshot(e)) == before
    assert not (data / "projects" / "proj" / "functions" / "withvars").exists()
    ok = requests.post(e + "/functions", headers=H, json={"functionId": "withvars", "name": "V",
                                                          "runtime": "python-3.11", "vars": {"A": "1", "B_2": 2}})
    assert ok.status_code == 201, ok.text
    assert sorted((v["key"], v["value"]) for v in ok.json()["vars"]) == [("A", "1"), ("B_2", "2")]


@pytest.fixture
def deployed(server_factory, tmp_path):
    """A server with a Python function that answers with the path and query it was asked for."""
    srv = server_factory(data_dir=tmp_path / "data")
    e = srv.endpoint
    created = requests.post(e + "/functions", headers=H, json={"functionId": "echo", "name": "Echo",
                                                               "runtime": "python-3.11", "entrypoint": "main.py"})
    assert created.status_code == 201, created.text
    code = archive_bytes({"main.py": "def main(context):\n"
                                     "    return context.res.json({'path': context.req.path,"
                                     " 'query': context.req.query_string})\n"})
    dep = requests.post(e + "/functions/echo/deployments", headers=H, data={"activate": "true"},
                        files={"code": ("code.tar.gz", code, "application/gzip")})
    assert dep.status_code == 202, dep.text

    def active():
        fn = requests.get(e + "/functions/echo", headers=H).json()
        status = requests.get(f"{e}/functions/echo/deployments/{dep.json()['$id']}", headers=H).json()["status"]
        assert status not in ("failed", "canceled"), status
        return fn["deploymentId"] == dep.json()["$id"]

    wait_for(active, timeout=180, message="the deployment to build and activate")
    return srv


def test_scheduled_at_beyond_the_datetime_range_is_a_400(deployed):
    e = deployed.endpoint
    before = total(e, "/functions/echo/executions")
    for when in ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "not a date", "2020-01-01T00:00:00Z"]:
        r = requests.post(e + "/functions/echo/executions", headers=H, json={"async": True, "scheduledAt": when})
        assert_400(r, "general_bad_request")
        assert r.json()["message"] == "Execution schedule must be a valid date, and at least 1 minute from now"
    assert total(e, "/functions/echo/executions") == before
    assert "Traceback" not in deployed.logs()


def test_a_path_with_a_space_reaches_the_runtime_as_a_valid_request(deployed):
    e = deployed.endpoint
    r = requests.post(e + "/functions/echo/executions", headers=H, json={"path": "/a b/100%?x=1 2&y=é"})
    assert r.status_code == 201, r.text
    execution = r.json()
    assert execution["status"] == "completed" and execution["responseStatusCode"] == 200, execution
    answer = json.loads(execution["responseBody"])
    assert answer == {"path": "/a%20b/100%25", "query": "x=1%202&y=%C3%A9"}
    # Stored as the client sent it, as Appwrite does.
    stored = requests.get(f"{e}/functions/echo/executions/{execution['$id']}", headers=H).json()
    assert stored["requestPath"] == "/a b/100%?x=1 2&y=é" and stored["status"] == "completed"
    # An asynchronous run goes through the same request line.
    queued = requests.post(e + "/functions/echo/executions", headers=H, json={"path": "/c d", "async": True}).json()

    def finished():
        doc = requests.get(f"{e}/functions/echo/executions/{queued['$id']}", headers=H).json()
        return doc if doc["status"] in ("completed", "failed") else None

    done = wait_for(finished, timeout=60, message="the async execution to finish")
    assert done["status"] == "completed" and done["responseStatusCode"] == 200, done


def test_upload_locks_live_on_the_state_and_are_released_on_every_path(tmp_path):
    """The per-upload locks belong to one app's state (two apps in a process share nothing) and
    no entry outlives the requests using it: refused, partial and concurrent uploads alike."""
    import asyncio

    from emulator.errors import AppwriteError
    from emulator.params import UploadedFile
    from emulator.services import deployments, functions
    from emulator.services.state import Settings, State

    def fresh_state(name: str) -> State:
        data = tmp_path / name
        data.mkdir()
        return State(settings=Settings(data_dir=data), store=Store(data / "emulator.db"))

    chunk = deployments.CHUNK_SIZE
    size = 3 * chunk  # three chunks: two sent below, so the upload never completes (no build needed)

    async def scenario(state: State, other: State) -> None:
        for fid in ("fn", "other"):
            functions.create_function(state, "proj", {"functionId": fid, "name": fid, "runtime": "python-3.11",
                                                      "entrypoint": "main.py"})

        async def send(function_id: str, data: bytes, content_range: str | None, upload_id: str | None):
            return await deployments.upload_deployment(state, "proj", function_id, {"activate": False},
                                                       UploadedFile("code.tar.gz", data), content_range, upload_id, "")

        with pytest.raises(AppwriteError) as refused:  # not an archive: 400, nothing kept
            await send("fn", b"not a gzip archive", None, "broken")
        assert refused.value.code == 400 and state.upload_locks == {}
        assert state.store.get("deployments", "proj", "fn", "broken") is None
        assert not state.deployment_dir("proj", "fn", "broken").exists()
        # Two chunks of one upload at once: both land, then the entry is gone.
        await asyncio.gather(send("fn", b"a" * chunk, f"bytes 0-{chunk - 1}/{size}", "up1"),
                             send("fn", b"b" * chunk, f"bytes {chunk}-{2 * chunk - 1}/{size}", "up1"))
        assert state.upload_locks == {} and other.upload_locks == {}
        assert state.store.get("deployments", "proj", "fn", "up1")["chunksUploaded"] == 2
        with pytest.raises(AppwriteError) as taken:  # the id belongs to another function: 404
            await send("other", b"c" * chunk, f"bytes 0-{chunk - 1}/{size}", "up1")
        assert taken.value.code == 404 and state.upload_locks == {}
        with pytest.raises(AppwriteError):  # an id that would leave the data dir: refused before any lock
            await send("fn", b"d", None, "../up1")
        assert state.upload_locks == {}

    state, other = fresh_state("one"), fresh_state("two")
    try:
        asyncio.run(scenario(state, other))
    finally:
        state.store.close()
        other.store.close()
