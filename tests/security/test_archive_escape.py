"""Archives that try to escape the deployment directory, through the API.

Each hostile archive is refused at upload with 400 storage_invalid_file, and nothing is written
anywhere: the test walks the whole tmp dir (the server's data dir and what is around it: the
report's symlink chain would land its file in tmp_path itself). An archive whose tricks stay
inside (a later member replacing a link of the same name) builds, and the build dir it produces
holds no link that points out of the deployment.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from support import JsonApi, tar_members

pytestmark = pytest.mark.timeout(240)

MAIN = b"def main(context):\n    return context.res.text(open('alias').read())\n"


def chain(levels: int) -> str:
    return "/".join(["s"] * levels + [".."] * levels + ["X"])


def hostile(data_dir: Path) -> dict[str, bytes]:
    # build dir -> deployment -> deployments -> function -> functions -> project -> projects -> data dir:
    # eight levels up from the build dir is data_dir's parent, i.e. this test's tmp_path.
    return {
        "report chain": tar_members([("sym", "s", "."), ("sym", "evil", chain(8)), ("file", "evil", b"X")]),
        "longer chain": tar_members([("sym", "s", "."), ("sym", "evil", chain(12)), ("file", "evil", b"X")]),
        "dot link then parent link": tar_members([("sym", "d", "."), ("sym", "d/e", "..")]),
        "link retargeted later": tar_members([("sym", "e", "s/.."), ("sym", "s", ".")]),
        "write through an outside link": tar_members([("sym", "link", str(data_dir.parent)),
                                                      ("file", "link/X", b"X")]),
        "same name as an outside link": tar_members([("sym", "X", "../../../../../../../../X"), ("file", "X", b"X")]),
        "hard link out": tar_members([("hard", "passwd", "/etc/passwd")]),
        "hard link through a chain": tar_members([("sym", "s", "."), ("hard", "h", chain(8))]),
        "parent path": tar_members([("file", "../../../../../../../../X", b"X")]),
        "absolute path": tar_members([("file", str(data_dir.parent / "X"), b"X")]),
        "device": tar_members([("chr", "dev")]),
    }


def test_hostile_archives_are_refused_at_upload_and_write_nothing(server_factory, tmp_path):
    data_dir = tmp_path / "data"
    server = server_factory(data_dir=data_dir)
    api = JsonApi(server.endpoint, "escape")
    status, _ = api.call("POST", "/functions", {"functionId": "target", "name": "target", "runtime": "python-3.11",
                                                "entrypoint": "main.py"})
    assert status == 201
    outside_before = {p for p in tmp_path.rglob("*") if data_dir not in p.parents and p != data_dir}
    for name, code in hostile(data_dir).items():
        status, doc = api.upload("target", code)
        assert (status, doc.get("type")) == (400, "storage_invalid_file"), (name, status, doc)
        assert "Invalid deployment archive" in doc["message"], (name, doc)
    status, listing = api.call("GET", "/functions/target/deployments")
    assert status == 200 and listing["total"] == 0, listing
    # Nothing anywhere under tmp_path named X, nothing new next to the data dir, and no link
    # inside the data dir at all (no archive was ever unpacked).
    assert not [p for p in tmp_path.rglob("X")]
    outside_after = {p for p in tmp_path.rglob("*") if data_dir not in p.parents and p != data_dir}
    assert outside_after == outside_before, sorted(map(str, outside_after - outside_before))
    assert not [p for p in data_dir.rglob("*") if p.is_symlink()]
    status, _ = api.call("GET", "/functions/target")
    assert status == 200


def test_a_later_member_never_writes_through_a_link(server_factory, tmp_path):
    data_dir = tmp_path / "data"
    server = server_factory(data_dir=data_dir)
    api = JsonApi(server.endpoint, "escape")
    api.call("POST", "/functions", {"functionId": "dup", "name": "dup", "runtime": "python-3.11",
                                    "entrypoint": "main.py"})
    status, dep = api.upload("dup", tar_members([
        ("file", "main.py", MAIN),
        ("file", "data.txt", b"original"),
        ("sym", "alias", "data.txt"),
        ("file", "alias", b"replacement"),
        ("sym", "s", "."),
        ("sym", "inside", "s/s/s/data.txt"),
    ]))
    assert status == 202, dep
    deadline = time.monotonic() + 180
    while dep["status"] not in ("ready", "failed"):
        assert time.monotonic() < deadline, dep
        time.sleep(0.1)
        dep = api.call("GET", f"/functions/dup/deployments/{dep['$id']}")[1]
    assert dep["status"] == "ready", dep["buildLogs"]
    deployment = data_dir / "projects" / "escape" / "functions" / "dup" / "deployments" / dep["$id"]
    build = deployment / "build"
    assert (build / "data.txt").read_bytes() == b"original"
    assert not (build / "alias").is_symlink() and (build / "alias").read_bytes() == b"replacement"
    assert (build / "inside").read_bytes() == b"original"
    real_deployment = os.path.realpath(deployment)
    # The Python build makes a venv (build/runtime-env) whose interpreter links to the host's
    # Python: the build's own, not the archive's.
    links = [p for p in deployment.rglob("*") if p.is_symlink() and not p.is_relative_to(build / "runtime-env")]
    assert {p.name for p in links} == {"s", "inside"}, links
    for link in links:
        resolved = os.path.realpath(link)
        assert resolved.startswith(real_deployment + os.sep), (link, os.readlink(link), resolved)
    status, execution = api.call("POST", "/functions/dup/executions", {"path": "/"})
    assert status == 201 and execution["responseBody"] == "replacement", execution
