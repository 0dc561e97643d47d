"""Ids name rows and folders: every id is checked before it reaches the store or the file system,
every path stays inside the data dir, and distinct projects never share a folder.

Each test sends hostile ids (absolute paths, `..` chains, `/` in ids, ids Appwrite refuses) to a
real server and then checks the file system itself: a victim folder next to the data dir keeps
its file, and nothing appears outside the data dir.
"""
from __future__ import annotations

import io
import os
import tarfile
import urllib.parse
from pathlib import Path

import pytest
import requests


KEY = "k"
UID_TEXT = ("UID must contain at most 36 chars. Valid chars are a-z, A-Z, 0-9, and underscore. "
            "Can't start with a leading underscore")
# Ids Appwrite's UID rule refuses, including every shape that would leave a folder.
BAD_IDS = ["..", ".", "../victim", "a/b", "bad id!", "_lead", "-lead", ".lead", "x" * 37, "a\\b", "é"]


def headers(project: str, **extra) -> dict:
    return {"x-appwrite-project": project, "x-appwrite-key": KEY, **extra}


def snapshot(root: Path, skip: Path) -> dict[str, bytes | None]:
    """Every path under `root` except `skip` (the data dir) and server logs, with file contents."""
    seen = {}
    for dirpath, dirnames, filenames in os.walk(root):
        if Path(dirpath) == skip or skip in Path(dirpath).parents:
            dirnames[:] = []
            continue
        dirnames[:] = [d for d in dirnames if Path(dirpath, d) != skip]
        seen[dirpath] = None
        for name in filenames:
            if name.endswith("-server.log"):
                continue
            seen[os.path.join(dirpath, name)] = Path(dirpath, name).read_bytes()
    return seen


def archive_bytes(text: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        data = text.encode()
        info = tarfile.TarInfo("main.py")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def upload(endpoint: str, project: str, function_id: str, code: bytes, **extra_headers) -> requests.Response:
    return requests.post(f"{endpoint}/functions/{function_id}/deployments", headers=headers(project, **extra_headers),
                         data={"activate": "false", "entrypoint": "main.py"},
                         files={"code": ("code.tar.gz", code, "application/gzip")})


def quoted(value: str) -> str:
    return urllib.parse.quote(value, safe="")


@pytest.fixture
def world(server_factory, tmp_path):
    """A server whose data dir sits next to a victim folder holding a file."""
    data = tmp_path / "data"
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("precious")
    srv = server_factory(data_dir=data)
    created = requests.post(srv.endpoint + "/functions", headers=headers("proj"),
                            json={"functionId": "fn1", "name": "Fn", "runtime": "python-3.11", "entrypoint": "main.py"})
    assert created.status_code == 201, created.text
    return srv, data, victim


def assert_untouched(before: dict, tmp_path: Path, data: Path, victim: Path) -> None:
    assert (victim / "keep.txt").read_text() == "precious"
    after = snapshot(tmp_path, data)
    assert after == before, f"outside the data dir: added {set(after) - set(before)}, removed {set(before) - set(after)}"


def assert_invalid_id(response: requests.Response, param: str) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["type"] == "general_argument_invalid"
    assert body["message"] == f"Invalid `{param}` param: {UID_TEXT}"


def test_upload_ids_from_the_header_never_leave_the_data_dir(world, tmp_path):
    srv, data, victim = world
    before = snapshot(tmp_path, data)
    code = archive_bytes("def main(context):\n    return context.res.text('x')\n")
    relative = os.path.relpath(victim, data / "projects" / "proj" / "functions" / "fn1" / "deployments")
    for bad in [str(victim), relative, "../../../../victim", *BAD_IDS]:
        try:
            bad.encode("latin-1")
        except UnicodeEncodeError:
            continue  # not sendable as a header value
        single = upload(srv.endpoint, "proj", "fn1", code, **{"x-appwrite-id": bad})
        assert_invalid_id(single, "deploymentId")
        chunked = upload(srv.endpoint, "proj", "fn1", code, **{
            "x-appwrite-id": bad, "content-range": f"bytes 0-{len(code) - 1}/{len(code)}"})
        assert_invalid_id(chunked, "deploymentId")
    listed = requests.get(srv.endpoint + "/functions/fn1/deployments", headers=headers("proj")).json()
    assert listed["total"] == 0, "a refused upload must not leave a deployment row"
    assert not (data / "projects" / "proj" / "functions" / "fn1" / "deployments").exists()
    assert_untouched(before, tmp_path, data, victim)


def test_path_ids_are_checked_before_any_lookup_or_file_operation(world, tmp_path):
    srv, data, victim = world
    # A real deployment, so a traversal would have something to delete or serve next to it.
    good = upload(srv.endpoint, "proj", "fn1", archive_bytes("def main(context):\n    return context.res.text('ok')\n"),
                  **{"x-appwrite-id": "good-dep"})
    assert good.status_code == 202, good.text
    assert (data / "projects" / "proj" / "functions" / "fn1" / "deployments" / "good-dep" / "source.tar.gz").is_file()
    before = snapshot(tmp_path, data)
    relative = os.path.relpath(victim, data / "projects" / "proj" / "functions" / "fn1" / "deployments")
    fn = srv.endpoint + "/functions/fn1"
    for bad in [str(victim), relative, *BAD_IDS]:
        enc = quoted(bad)
        for method, url in [("DELETE", f"{fn}/deployments/{enc}"), ("GET", f"{fn}/deployments/{enc}"),
                            ("GET", f"{fn}/deployments/{enc}/download"), ("PATCH", f"{fn}/deployments/{enc}/status"),
                            ("GET", f"{fn}/executions/{enc}"), ("DELETE", f"{fn}/executions/{enc}"),
                            ("GET", f"{fn}/variables/{enc}"), ("DELETE", f"{fn}/variables/{enc}")]:
            r = requests.request(method, url, headers=headers("proj"))
            # `.`/`..` segments may be normalised away by the router (404 route): never a 2xx.
            assert r.status_code in (400, 404), (method, url, r.status_code, r.text)
            if r.status_code == 400:
                assert r.json()["type"] == "general_argument_invalid"
        for method, url in [("DELETE", f"{srv.endpoint}/functions/{enc}"), ("GET", f"{srv.endpoint}/functions/{enc}")]:
            r = requests.request(method, url, headers=headers("proj"))
            assert r.status_code in (400, 404), (method, url, r.status_code, r.text)
    assert_invalid_id(requests.delete(f"{fn}/deployments/{quoted(str(victim))}", headers=headers("proj")),
                      "deploymentId")
    assert_invalid_id(requests.get(f"{srv.endpoint}/functions/{quoted('a/b')}", headers=headers("proj")), "functionId")
    # Valid ids that name nothing: Appwrite's 404s.
    assert requests.delete(f"{fn}/deployments/nothing", headers=headers("proj")).json()["type"] == "deployment_not_found"
    assert requests.get(f"{srv.endpoint}/functions/nothing", headers=headers("proj")).json()["type"] == "function_not_found"
    assert (data / "projects" / "proj" / "functions" / "fn1" / "deployments" / "good-dep" / "source.tar.gz").is_file()
    assert_untouched(before, tmp_path, data, victim)


def test_body_ids_are_checked(world, tmp_path):
    srv, data, victim = world
    before = snapshot(tmp_path, data)
    fn = srv.endpoint + "/functions/fn1"
    for bad in [str(victim), "../victim", *BAD_IDS, "ok\n"]:
        r = requests.post(srv.endpoint + "/functions", headers=headers("proj"),
                          json={"functionId": bad, "name": "x", "runtime": "python-3.11"})
        assert r.status_code == 400 and r.json()["message"].startswith("Invalid `functionId` param:"), (bad, r.text)
        r = requests.post(fn + "/variables", headers=headers("proj"), json={"variableId": bad, "key": "K", "value": "v"})
        assert r.status_code == 400 and r.json()["message"].startswith("Invalid `variableId` param:"), (bad, r.text)
        assert_invalid_id(requests.patch(fn + "/deployment", headers=headers("proj"), json={"deploymentId": bad}),
                          "deploymentId")
        assert_invalid_id(requests.post(fn + "/deployments/duplicate", headers=headers("proj"),
                                        json={"deploymentId": bad}), "deploymentId")
    listed = requests.get(srv.endpoint + "/functions", headers=headers("proj")).json()
    assert [f["$id"] for f in listed["functions"]] == ["fn1"]
    assert requests.get(fn + "/variables", headers=headers("proj")).json()["total"] == 0
    assert_untouched(before, tmp_path, data, victim)


def test_project_ids_are_checked_and_never_name_a_shared_folder(world, tmp_path):
    srv, data, victim = world
    before = snapshot(tmp_path, data)
    code = archive_bytes("def main(context):\n    return context.res.text('x')\n")
    for bad in [str(victim), "../victim", "../../victim", "team/a", "..", "x" * 37, "_lead", "a b"]:
        created = requests.post(srv.endpoint + "/functions", headers=headers(bad),
                                json={"functionId": "fn1", "name": "x", "runtime": "python-3.11", "entrypoint": "main.py"})
        assert created.status_code == 404 and created.json()["type"] == "project_not_found", (bad, created.text)
        uploaded = upload(srv.endpoint, bad, "fn1", code)
        assert uploaded.status_code == 404, (bad, uploaded.text)
        listed = requests.get(srv.endpoint + "/functions", headers=headers(bad))
        assert listed.status_code == 404, (bad, listed.text)
    # Bytes that are not UTF-8 are a malformed header, not a project.
    raw = requests.get(srv.endpoint + "/functions", headers={"x-appwrite-project": b"\xff\xfe", "x-appwrite-key": KEY})
    assert raw.status_code == 400 and raw.json()["type"] == "general_argument_invalid"
    assert set(os.listdir(data / "projects")) <= {"proj"} if (data / "projects").exists() else True
    assert_untouched(before, tmp_path, data, victim)


def test_distinct_projects_keep_their_own_code(world, tmp_path):
    srv, data, _ = world
    projects = ["team-a", "team_a", "Team_a", "t" * 36, "t" * 35 + "u"]
    for i, project in enumerate(projects):
        created = requests.post(srv.endpoint + "/functions", headers=headers(project),
                                json={"functionId": "fn", "name": "Fn", "runtime": "python-3.11",
                                      "entrypoint": "main.py"})
        assert created.status_code == 201, created.text
        r = upload(srv.endpoint, project, "fn", archive_bytes(f"# project {project}\n"),
                   **{"x-appwrite-id": "dep"})  # the same deployment id in every project
        assert r.status_code == 202, r.text
    for project in projects:
        folder = data / "projects" / project / "functions" / "fn" / "deployments" / "dep"
        with tarfile.open(folder / "source.tar.gz") as tar:
            assert tar.extractfile("main.py").read().decode() == f"# project {project}\n"
        download = requests.get(f"{srv.endpoint}/functions/fn/deployments/dep/download", headers=headers(project))
        with tarfile.open(fileobj=io.BytesIO(download.content)) as tar:
            assert tar.extractfile("main.py").read().decode() == f"# project {project}\n"
    # Deleting one project's function leaves every other project's files alone.
    assert requests.delete(srv.endpoint + "/functions/fn", headers=headers("team_a")).status_code == 204
    assert not (data / "projects" / "team_a" / "functions" / "fn").exists()
    for project in projects:
        if project != "team_a":
            assert (data / "projects" / project / "functions" / "fn" / "deployments" / "dep" / "source.tar.gz").is_file()
            assert requests.get(srv.endpoint + "/functions/fn", headers=headers(project)).status_code == 200


def test_a_symlink_out_of_the_data_dir_is_not_followed(world, tmp_path):
    """A folder that leads out of the data dir (here a symlink planted where a function's files
    go) is refused before any file operation, so a delete cannot reach the victim."""
    srv, data, victim = world
    functions_dir = data / "projects" / "proj" / "functions"
    functions_dir.mkdir(parents=True, exist_ok=True)
    created = requests.post(srv.endpoint + "/functions", headers=headers("proj"),
                            json={"functionId": "linked", "name": "L", "runtime": "python-3.11", "entrypoint": "main.py"})
    assert created.status_code == 201
    (functions_dir / "linked").symlink_to(victim, target_is_directory=True)
    before = snapshot(tmp_path, data)
    deleted = requests.delete(srv.endpoint + "/functions/linked", headers=headers("proj"))
    assert deleted.status_code == 400 and deleted.json()["type"] == "general_argument_invalid", deleted.text
    r = upload(srv.endpoint, "proj", "linked", archive_bytes("x = 1\n"))
    assert r.status_code == 400, r.text
    assert_untouched(before, tmp_path, data, victim)
    assert sorted(os.listdir(victim)) == ["keep.txt"]
