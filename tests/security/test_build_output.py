"""Build output goes to disk as it is printed, never whole into the server's memory.

A Python function whose build prints a marker line, waits for the test's go-ahead, then prints
300 MB. While it waits, the marker is already visible through GET .../deployments/{id}. During the
flood the server's resident memory (VmRSS, sampled from /proc) stays within 150 MB of what it was
before; the build ends ready with the last 1,000,000 characters kept, in the deployment document
and in the deployment's build.log.
"""
from __future__ import annotations

import io
import json
import tarfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(600)

MAIN = "def main(context):\n    return context.res.text('built')\n"
BUILD = r'''
import os, sys, time
print("EARLY-LINE-MARKER", flush=True)
while not os.path.exists(sys.argv[1]):
    time.sleep(0.05)
block = ("y" * 99 + "\n") * 10_000  # 1 MB
for _ in range(300):
    sys.stdout.write(block)
print("LATE-LINE-MARKER", flush=True)
'''
MAX_CHARS = 1_000_000


def archive(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def call(endpoint: str, method: str, path: str, payload=None, raw: bytes | None = None, ctype="application/json"):
    data = raw if raw is not None else (json.dumps(payload).encode() if payload is not None else None)
    req = urllib.request.Request(endpoint + path, data=data, method=method,
                                 headers={"X-Appwrite-Project": "output", "Content-Type": ctype})
    try:
        with urllib.request.urlopen(req, timeout=120) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def test_huge_build_output_streams_to_disk_with_bounded_memory(server_factory, tmp_path):
    data_dir = tmp_path / "data"
    server = server_factory(data_dir=data_dir)
    go = tmp_path / "go"
    status, _ = call(server.endpoint, "POST", "/functions", {
        "functionId": "loud", "name": "loud", "runtime": "python-3.11", "entrypoint": "main.py",
        "commands": f"python3 build.py {go}"})
    assert status == 201
    boundary = "outputboundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"activate\"\r\n\r\ntrue\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"code\"; filename=\"code.tar.gz\"\r\n"
            "Content-Type: application/gzip\r\n\r\n").encode() + archive({"main.py": MAIN, "build.py": BUILD}) \
        + f"\r\n--{boundary}--\r\n".encode()
    status, dep = call(server.endpoint, "POST", "/functions/loud/deployments", raw=body,
                       ctype=f"multipart/form-data; boundary={boundary}")
    assert status == 202, dep
    path = f"/functions/loud/deployments/{dep['$id']}"

    # Early output is visible while the build is still running (it cannot end before `go` exists).
    deadline = time.monotonic() + 120
    while True:
        doc = call(server.endpoint, "GET", path)[1]
        if "EARLY-LINE-MARKER" in doc.get("buildLogs", ""):
            break
        assert doc["status"] in ("waiting", "processing", "building"), doc
        assert time.monotonic() < deadline, doc
        time.sleep(0.05)
    assert doc["status"] == "building"

    baseline = rss_bytes(server.proc.pid)
    peak = baseline
    go.write_text("go")
    deadline = time.monotonic() + 480
    polls = 0
    while True:
        peak = max(peak, rss_bytes(server.proc.pid))
        polls += 1
        if polls % 10 == 0:
            doc = call(server.endpoint, "GET", path)[1]
            if doc["status"] not in ("waiting", "processing", "building"):
                break
        assert time.monotonic() < deadline, "the build did not finish"
        time.sleep(0.02)
    peak = max(peak, rss_bytes(server.proc.pid))
    assert doc["status"] == "ready", doc["buildLogs"][-2000:]
    assert peak - baseline < 150 * 1024 * 1024, f"server RSS grew by {(peak - baseline) / 2**20:.0f} MB"

    logs = doc["buildLogs"]
    assert len(logs) == MAX_CHARS  # the last million characters, like Appwrite
    assert "LATE-LINE-MARKER" in logs and "Build finished" in logs.splitlines()[-1]
    assert "EARLY-LINE-MARKER" not in logs  # 300 MB later, the start was cut
    on_disk = Path(data_dir, "projects", "output", "functions", "loud", "deployments", dep["$id"], "build.log")
    assert on_disk.read_text() == logs
    # Still fine after the build: the memory was not kept either.
    assert rss_bytes(server.proc.pid) - baseline < 150 * 1024 * 1024


DOCKER_BUILD = r'''
import os, sys, time
print("EARLY-LINE-MARKER", flush=True)
while not os.path.exists(sys.argv[1]):
    time.sleep(0.05)
block = ("z" * 99 + "\n") * 10_000  # 1 MB
for _ in range(50):
    sys.stdout.write(block)
print("LATE-LINE-MARKER", flush=True)
'''


@pytest.fixture(scope="module")
def docker_image_prefix():
    """The docker executor's test images (tests/docker builds them); skipped without Docker."""
    import sys
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "docker"))
    import docker_engine
    import docker_images
    try:
        docker_engine.ensure_engine(probe=docker_images.port_probe)
        docker_images.ensure_test_images()
    except docker_images.ImageBuildFailed:
        raise
    except Exception as exc:  # noqa: BLE001 - no engine on this machine
        pytest.skip(f"Docker is not available: {exc}")
    return docker_images.TEST_PREFIX


def test_docker_build_output_streams_and_keeps_the_last_million(server_factory, tmp_path, docker_image_prefix):
    data_dir = tmp_path / "data"
    server = server_factory("--docker-image-prefix", docker_image_prefix, data_dir=data_dir)
    status, _ = call(server.endpoint, "POST", "/functions", {
        "functionId": "loud", "name": "loud", "runtime": "python-3.11", "entrypoint": "main.py",
        "executor": "docker", "commands": "python3 build.py /mnt/code/go"})
    assert status == 201
    boundary = "outputboundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"activate\"\r\n\r\ntrue\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"code\"; filename=\"code.tar.gz\"\r\n"
            "Content-Type: application/gzip\r\n\r\n").encode() + archive({"main.py": MAIN, "build.py": DOCKER_BUILD}) \
        + f"\r\n--{boundary}--\r\n".encode()
    status, dep = call(server.endpoint, "POST", "/functions/loud/deployments", raw=body,
                       ctype=f"multipart/form-data; boundary={boundary}")
    assert status == 202, dep
    path = f"/functions/loud/deployments/{dep['$id']}"
    deployment_dir = Path(data_dir, "projects", "output", "functions", "loud", "deployments", dep["$id"])
    deadline = time.monotonic() + 300
    while True:  # the image may have to be pulled from the local cache first: generous
        doc = call(server.endpoint, "GET", path)[1]
        if "EARLY-LINE-MARKER" in doc.get("buildLogs", ""):
            break
        assert doc["status"] in ("waiting", "processing", "building"), doc
        assert time.monotonic() < deadline, doc
        time.sleep(0.05)
    assert doc["status"] == "building"
    baseline = rss_bytes(server.proc.pid)
    peak = baseline
    (deployment_dir / "build" / "code" / "go").write_text("go")  # /mnt/code/go in the build container
    deadline = time.monotonic() + 300
    polls = 0
    while True:
        peak = max(peak, rss_bytes(server.proc.pid))
        polls += 1
        if polls % 10 == 0:
            doc = call(server.endpoint, "GET", path)[1]
            if doc["status"] not in ("waiting", "processing", "building"):
                break
        assert time.monotonic() < deadline, "the build did not finish"
        time.sleep(0.02)
    assert doc["status"] == "ready", doc["buildLogs"][-2000:]
    assert peak - baseline < 150 * 1024 * 1024, f"server RSS grew by {(peak - baseline) / 2**20:.0f} MB"
    logs = doc["buildLogs"]
    assert len(logs) == MAX_CHARS and "LATE-LINE-MARKER" in logs and "EARLY-LINE-MARKER" not in logs
    assert (deployment_dir / "build.log").read_text() == logs
