"""Build output goes to disk as it is printed, never whole into the server's memory.

A Python function whose build prints a marker line, waits for the test's go-ahead, then prints
300 MB. While it waits, the marker is already visible through GET .../deployments/{id}. During the
flood the server's resident memory (VmRSS, sampled from /proc) stays within 150 MB of what it was
before; the build ends ready with the last 1,000,000 characters kept, in the deployment document
and in the deployment's build.log.
"""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from support import JsonApi, archive_bytes

pytestmark = pytest.mark.timeout(600)

MAIN = "def main(context):\n    return context.res.text('built')\n"


def build_script(fill: str, megabytes: int) -> str:
    """A build step that prints a marker, waits until the file argv[1] exists, then prints
    `megabytes` MB of `fill` lines and a last marker."""
    return f'''
import os, sys, time
print("EARLY-LINE-MARKER", flush=True)
while not os.path.exists(sys.argv[1]):
    time.sleep(0.05)
block = ("{fill}" * 99 + "\\n") * 10_000  # 1 MB
for _ in range({megabytes}):
    sys.stdout.write(block)
print("LATE-LINE-MARKER", flush=True)
'''


BUILD = build_script("y", 300)
MAX_CHARS = 1_000_000


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def build_sampling_memory(server, api: JsonApi, function: dict, files: dict[str, str], release,
                          early_timeout: float, finish_timeout: float) -> tuple[dict, dict, int, int]:
    """Create function "loud" and deploy `files`; once its build has printed EARLY-LINE-MARKER (and is
    still building), take the server's RSS as baseline, call `release(deployment)` to let the build
    go on, and sample the RSS until the build ends. Returns (deployment, final doc, baseline, peak)."""
    status, _ = api.call("POST", "/functions", function)
    assert status == 201
    status, dep = api.upload("loud", archive_bytes(files))
    assert status == 202, dep
    path = f"/functions/loud/deployments/{dep['$id']}"

    # Early output is visible while the build is still running (it cannot end before it is released).
    deadline = time.monotonic() + early_timeout
    while True:
        doc = api.call("GET", path)[1]
        if "EARLY-LINE-MARKER" in doc.get("buildLogs", ""):
            break
        assert doc["status"] in ("waiting", "processing", "building"), doc
        assert time.monotonic() < deadline, doc
        time.sleep(0.05)
    assert doc["status"] == "building"

    baseline = rss_bytes(server.proc.pid)
    peak = baseline
    release(dep)
    deadline = time.monotonic() + finish_timeout
    polls = 0
    while True:
        peak = max(peak, rss_bytes(server.proc.pid))
        polls += 1
        if polls % 10 == 0:
            doc = api.call("GET", path)[1]
            if doc["status"] not in ("waiting", "processing", "building"):
                break
        assert time.monotonic() < deadline, "the build did not finish"
        time.sleep(0.02)
    return dep, doc, baseline, peak


def test_huge_build_output_streams_to_disk_with_bounded_memory(server_factory, tmp_path):
    data_dir = tmp_path / "data"
    server = server_factory(data_dir=data_dir)
    go = tmp_path / "go"
    dep, doc, baseline, peak = build_sampling_memory(
        server, JsonApi(server.endpoint, "output", timeout=120),
        {"functionId": "loud", "name": "loud", "runtime": "python-3.11", "entrypoint": "main.py",
         "commands": f"python3 build.py {go}"},
        {"main.py": MAIN, "build.py": BUILD}, lambda _dep: go.write_text("go"), early_timeout=120, finish_timeout=480)
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


DOCKER_BUILD = build_script("z", 50)


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

    def deployment_dir(dep: dict) -> Path:
        return Path(data_dir, "projects", "output", "functions", "loud", "deployments", dep["$id"])

    # The image may have to be pulled from the local cache first: generous.
    dep, doc, baseline, peak = build_sampling_memory(
        server, JsonApi(server.endpoint, "output", timeout=120),
        {"functionId": "loud", "name": "loud", "runtime": "python-3.11", "entrypoint": "main.py",
         "executor": "docker", "commands": "python3 build.py /mnt/code/go"},
        {"main.py": MAIN, "build.py": DOCKER_BUILD},
        lambda dep: (deployment_dir(dep) / "build" / "code" / "go").write_text("go"),  # /mnt/code/go in the build container
        early_timeout=300, finish_timeout=300)
    assert doc["status"] == "ready", doc["buildLogs"][-2000:]
    assert peak - baseline < 150 * 1024 * 1024, f"server RSS grew by {(peak - baseline) / 2**20:.0f} MB"
    logs = doc["buildLogs"]
    assert len(logs) == MAX_CHARS and "LATE-LINE-MARKER" in logs and "EARLY-LINE-MARKER" not in logs
    assert (deployment_dir(dep) / "build.log").read_text() == logs
