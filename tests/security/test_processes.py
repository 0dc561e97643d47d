"""No process outlives what owns it: a function's instance, the function, the server, or a server
that was killed with SIGKILL (then the next start on the same data dir ends the leftovers).

The function starts a child with start_new_session=True (it leaves the instance's process group
and session), which writes its pid to a file and sleeps. The test only ever signals the server
it started itself; everything else must be ended by the emulator.
"""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from support import JsonApi, archive_bytes, runtimes_of

pytestmark = pytest.mark.timeout(300)

DEADLINE = 60  # generous: the machine may be loaded

SPAWNER = r'''
import subprocess, sys

SLEEPER = "import os, sys, time; open(sys.argv[1] + '.tmp', 'w').write(str(os.getpid())); os.rename(sys.argv[1] + '.tmp', sys.argv[1]); time.sleep(600)"

def main(context):
    subprocess.Popen([sys.executable, "-c", SLEEPER, context.req.body_text], start_new_session=True,
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # And an orphan that exits by itself: its parent (sh) exits at once, it ends a moment later.
    subprocess.Popen(["sh", "-c", 'sleep 0.2 & echo $! > "$0.orphan"', context.req.body_text],
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return context.res.text("started")
'''

# A build step that starts a detached sleeper, says its pid, and keeps building.
BUILD_SPAWNER = r'''
import os, subprocess, sys, time
child = subprocess.Popen(["sleep", "600"], start_new_session=True, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(f"SLEEPER {child.pid} BUILD {os.getpid()}", flush=True)
time.sleep(600)
'''


class Api(JsonApi):
    def __init__(self, endpoint: str):
        super().__init__(endpoint, "procs", timeout=120)

    def deploy(self, function_id: str, files: dict[str, str], commands: str = "") -> dict:
        self.ok("POST", "/functions", {"functionId": function_id, "name": function_id, "runtime": "python-3.11",
                                       "entrypoint": "main.py", "timeout": 60, "commands": commands})
        return self.upload_ok(function_id, archive_bytes(files))

    def deployment(self, function_id: str, deployment_id: str) -> dict:
        return self.ok("GET", f"/functions/{function_id}/deployments/{deployment_id}")


def start_time(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return int(fh.read().rsplit(")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def state_of(pid: int, started: int) -> str:
    """'alive', 'zombie' (dead, not yet reaped) or 'gone' (also when the pid was reused)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return "gone"
    if int(fields[19]) != started:
        return "gone"
    return "zombie" if fields[0] in ("Z", "X") else "alive"


def parent_and_state(pid: int) -> tuple[int, str] | None:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[1]), fields[0]


def wait_until(condition, what: str, timeout: float = DEADLINE):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def start_detached_child(api: Api, tmp_path: Path, orphan: list | None = None) -> tuple[int, int]:
    """Deploy the spawner, run it; returns (pid, start time) of the detached child it started
    (and appends the pid of the short-lived orphan to `orphan`)."""
    dep = api.deploy("spawner", {"main.py": SPAWNER})
    wait_until(lambda: api.deployment("spawner", dep["$id"])["status"] in ("ready", "failed"), "the build")
    assert api.deployment("spawner", dep["$id"])["status"] == "ready"
    wait_until(lambda: api.ok("GET", "/functions/spawner")["deploymentId"] == dep["$id"], "activation")
    pidfile = tmp_path / f"child-{time.monotonic_ns()}.pid"
    execution = api.ok("POST", "/functions/spawner/executions", {"body": str(pidfile)})
    assert execution["status"] == "completed" and execution["responseBody"] == "started", execution
    pid = int(wait_until(lambda: pidfile.is_file() and pidfile.read_text(), "the child's pid file"))
    orphan_file = Path(f"{pidfile}.orphan")
    if orphan is not None:
        orphan.append(int(wait_until(lambda: orphan_file.is_file() and orphan_file.read_text().strip(),
                                     "the orphan's pid file")))
    started = start_time(pid)
    assert started is not None and state_of(pid, started) == "alive"
    # It really did leave the instance's session: a process-group kill would not reach it.
    assert os.getsid(pid) == pid
    return pid, started


def test_deleting_the_function_ends_its_detached_children(server_factory, tmp_path):
    server = server_factory(data_dir=tmp_path / "data")
    api = Api(server.endpoint)
    orphan: list[int] = []
    pid, started = start_detached_child(api, tmp_path, orphan)
    assert runtimes_of(server.data_dir)
    # The orphan was adopted by the server (a child subreaper) and has exited: a zombie of the server.
    wait_until(lambda: parent_and_state(orphan[0]) == (server.proc.pid, "Z"), "the orphan to be the server's zombie")
    assert api.call("DELETE", "/functions/spawner")[0] == 204
    # Ended and reaped by the server (it adopted the child when its parent, the runtime, died).
    wait_until(lambda: state_of(pid, started) == "gone", f"child {pid} to be gone")
    wait_until(lambda: not runtimes_of(server.data_dir), "the runtime to be gone")
    wait_until(lambda: parent_and_state(orphan[0]) != (server.proc.pid, "Z"), "the orphan to be reaped")


def test_stopping_the_server_ends_detached_children(server_factory, tmp_path):
    server = server_factory(data_dir=tmp_path / "data")
    api = Api(server.endpoint)
    pid, started = start_detached_child(api, tmp_path)
    server.stop()  # SIGTERM: a normal stop
    assert server.proc.returncode is not None
    wait_until(lambda: state_of(pid, started) != "alive", f"child {pid} to end")


def test_a_killed_server_leaves_nothing_running_after_restart(server_factory, tmp_path):
    data_dir = tmp_path / "data"
    server = server_factory(data_dir=data_dir)
    api = Api(server.endpoint)
    pid, started = start_detached_child(api, tmp_path)
    dep = api.deploy("builder", {"main.py": SPAWNER, "spawn.py": BUILD_SPAWNER}, commands="python3 spawn.py")
    # The build's output is visible while it runs: that is where its pids come from.
    logs = wait_until(lambda: "SLEEPER" in (d := api.deployment("builder", dep["$id"]))["buildLogs"]
                      and d["status"] == "building" and d["buildLogs"], "the build to print its pids")
    words = logs[logs.index("SLEEPER"):].split()
    sleeper, build_step = int(words[1]), int(words[3])
    sleeper_started, step_started = start_time(sleeper), start_time(build_step)
    assert os.getsid(sleeper) == sleeper

    os.kill(server.proc.pid, signal.SIGKILL)  # only the server itself
    server.proc.wait(30)
    # The crash alone ends none of them: that is what the restart has to do.
    for p, s in ((pid, started), (sleeper, sleeper_started), (build_step, step_started)):
        assert state_of(p, s) == "alive", p

    restarted = server_factory(data_dir=data_dir)
    for p, s in ((pid, started), (sleeper, sleeper_started), (build_step, step_started)):
        wait_until(lambda: state_of(p, s) != "alive", f"leftover {p} to end after the restart")
    assert not runtimes_of(data_dir)
    api = Api(restarted.endpoint)
    doc = api.deployment("builder", dep["$id"])
    assert doc["status"] == "failed" and "Build interrupted" in doc["buildLogs"], doc
    assert "SLEEPER" in doc["buildLogs"]  # what the build printed before the crash is kept


def test_canceling_or_deleting_a_build_ends_its_processes(server_factory, tmp_path):
    server = server_factory(data_dir=tmp_path / "data")
    api = Api(server.endpoint)
    for function_id, end in (("canceled", "cancel"), ("deleted", "delete")):
        dep = api.deploy(function_id, {"main.py": SPAWNER, "spawn.py": BUILD_SPAWNER}, commands="python3 spawn.py")
        logs = wait_until(lambda: "SLEEPER" in (d := api.deployment(function_id, dep["$id"]))["buildLogs"]
                          and d["buildLogs"], "the build to print its pids")
        words = logs[logs.index("SLEEPER"):].split()
        pids = [(int(words[1]), start_time(int(words[1]))), (int(words[3]), start_time(int(words[3])))]
        assert all(state_of(p, s) == "alive" for p, s in pids)
        if end == "cancel":
            doc = api.ok("PATCH", f"/functions/{function_id}/deployments/{dep['$id']}/status")
            assert doc["status"] == "canceled"
        else:
            assert api.call("DELETE", f"/functions/{function_id}")[0] == 204
        for p, s in pids:
            wait_until(lambda: state_of(p, s) == "gone", f"build process {p} to be gone after {end}")
    assert server.proc.poll() is None


def test_what_a_build_leaves_running_ends_with_the_build(server_factory, tmp_path):
    """A build command that backgrounds a process (holding the output pipe open) still finishes,
    and the process does not outlive the build."""
    server = server_factory(data_dir=tmp_path / "data")
    api = Api(server.endpoint)
    dep = api.deploy("background", {"main.py": SPAWNER}, commands='sleep 600 & echo "BACKGROUND $!"')
    doc = wait_until(lambda: (d := api.deployment("background", dep["$id"]))["status"] in ("ready", "failed") and d,
                     "the build to finish")
    assert doc["status"] == "ready", doc["buildLogs"]
    pid = int(doc["buildLogs"].rsplit("BACKGROUND ", 1)[1].split()[0])  # not the echoed command

    def ended() -> bool:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                return not fh.read().startswith(b"sleep\0600")  # gone, a zombie, or the pid reused
        except OSError:
            return True
    wait_until(ended, f"background process {pid} to end")
