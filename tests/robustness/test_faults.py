"""Faulty functions and a killed emulator, through the API with a Python function.

A runtime that crashes, hangs, freezes, never binds its port, floods stdout or answers with a
malformed response: each execution fails (or, for the flood, completes with truncated logs) with an
error that says what happened, within its timeout, and the next execution works. Killing the
emulator mid-build and mid-execution and starting it again leaves consistent state: the build is
failed with a note, the execution is failed, nothing stays `building`, and both can be retried.
"""
from __future__ import annotations

import signal
import time

import pytest

from support import JsonApi, archive_bytes, runtimes_of

pytestmark = pytest.mark.timeout(240)

FAULTY = r'''
import gc, os, signal, socket, sys, time

def _connection():
    """The socket this request arrived on: the one connected to the emulator."""
    for obj in gc.get_objects():
        if isinstance(obj, socket.socket) and obj.fileno() != -1:
            try:
                obj.getpeername()
                return obj
            except OSError:
                pass

def _hang_up(conn):
    try:
        conn.shutdown(socket.SHUT_RDWR)
    except OSError:  # the emulator already dropped the connection on reading the bad bytes
        pass

def main(context):
    path = context.req.path
    if path == "/crash":
        os._exit(3)
    if path == "/hang":
        time.sleep(60)
    if path == "/freeze":
        while True:  # stopped, and stopped again if anything continues it: frozen for good
            os.kill(os.getpid(), signal.SIGSTOP)
    if path == "/flood":
        for _ in range(300):
            print("x" * 100_000)
        return context.res.text("flooded")
    if path == "/not-a-response":
        return 42
    if path == "/garbage":
        conn = _connection()
        conn.sendall(b"THIS IS NOT HTTP\r\n\r\n")
        _hang_up(conn)
        return context.res.text("unreachable")
    if path == "/truncated":
        conn = _connection()
        conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\nonly a part")
        _hang_up(conn)
        return context.res.text("unreachable")
    return context.res.text(f"ok {os.getpid()}")
'''


class Api(JsonApi):
    def __init__(self, endpoint: str, project: str = "faults"):
        super().__init__(endpoint, project)

    def new_deployment(self, function_id: str, files: dict) -> str:
        """Upload `files` as a new active deployment of `function_id`; returns its id."""
        return self.upload_ok(function_id, archive_bytes(files))["$id"]

    def wait_status(self, function_id: str, deployment_id: str, statuses=("ready", "failed"), timeout=120) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            dep = self.ok("GET", f"/functions/{function_id}/deployments/{deployment_id}")
            if dep["status"] in statuses:
                return dep
            assert time.monotonic() < deadline, dep
            time.sleep(0.05)

    def deploy(self, function_id: str, files: dict, timeout: int = 3, commands: str = "") -> dict:
        self.ok("POST", "/functions", {"functionId": function_id, "name": function_id, "runtime": "python-3.11",
                                       "entrypoint": "main.py", "timeout": timeout, "commands": commands})
        dep = self.wait_status(function_id, self.new_deployment(function_id, files))
        assert dep["status"] == "ready", dep["buildLogs"]
        deadline = time.monotonic() + 10
        while self.ok("GET", f"/functions/{function_id}")["deploymentId"] != dep["$id"]:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        return dep

    def execute(self, function_id: str, path: str = "/", **kw) -> dict:
        status, doc = self.call("POST", f"/functions/{function_id}/executions", {"path": path, **kw})
        assert status in (201, 202), (status, doc)
        return doc


@pytest.fixture(scope="module")
def faulty(server):
    api = Api(server.endpoint)
    api.deploy("faulty", {"main.py": FAULTY})
    assert api.execute("faulty")["responseBody"].startswith("ok ")
    return api


def pid_of(api: Api) -> str:
    doc = api.execute("faulty")
    assert doc["status"] == "completed" and doc["responseBody"].startswith("ok "), doc
    return doc["responseBody"]


def test_crash_fails_the_execution_and_the_next_one_works(faulty):
    before = pid_of(faulty)
    doc = faulty.execute("faulty", "/crash")
    assert doc["status"] == "failed" and doc["responseStatusCode"] == 500
    assert "exited with code 3" in doc["errors"], doc["errors"]
    assert pid_of(faulty) != before  # a fresh instance


def test_hang_times_out_and_the_next_one_works(faulty):
    doc = faulty.execute("faulty", "/hang")  # sleeps 60 s; the function's timeout is 3 s
    assert doc["status"] == "failed" and "timed out" in doc["errors"].lower(), doc["errors"]
    assert doc["duration"] >= 3, doc  # it ran until the timeout fired, not less
    pid_of(faulty)


def _process_ended(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except OSError:
        return True


def _ok_pid(api: Api, function_id: str) -> int:
    doc = api.execute(function_id)
    assert doc["status"] == "completed" and doc["responseBody"].startswith("ok "), doc
    return int(doc["responseBody"].split()[1])


def test_frozen_runtime_is_replaced(faulty):
    # Its own function, with a timeout a loaded machine does not reach on a plain request: the
    # only execution that may time out here is the frozen one.
    faulty.deploy("frozen", {"main.py": FAULTY}, timeout=10)
    before = _ok_pid(faulty, "frozen")
    doc = faulty.execute("frozen", "/freeze")  # the whole process stops: not even the adapter answers
    assert doc["status"] == "failed" and "did not respond within its timeout of 10s" in doc["errors"], \
        {k: doc.get(k) for k in ("status", "responseStatusCode", "responseBody", "errors", "duration")}
    # The stopped process was ended (not left behind), and a fresh instance serves the next request.
    deadline = time.monotonic() + 60
    while not _process_ended(before):
        assert time.monotonic() < deadline, f"frozen runtime {before} is still there"
        time.sleep(0.05)
    assert _ok_pid(faulty, "frozen") != before


def test_stdout_flood_is_truncated_not_fatal(faulty):
    # Its own function with a timeout a loaded machine cannot reach, run asynchronously so the
    # 30 s cap on synchronous executions does not apply either: what is tested is the flood.
    faulty.deploy("flood", {"main.py": FAULTY}, timeout=600)
    before = _ok_pid(faulty, "flood")
    queued = faulty.execute("flood", "/flood", **{"async": True})  # 30 MB of print()
    deadline = time.monotonic() + 200
    while True:
        doc = faulty.ok("GET", f"/functions/flood/executions/{queued['$id']}")
        if doc["status"] in ("completed", "failed"):
            break
        assert time.monotonic() < deadline, doc
        time.sleep(0.1)
    assert doc["status"] == "completed" and doc["responseStatusCode"] == 200, doc["errors"][:500]
    assert len(doc["logs"]) <= 1_000_000 and "truncated" in doc["logs"].lower()
    assert _ok_pid(faulty, "flood") == before  # the same instance survived it


@pytest.mark.parametrize("path,expected", [
    ("/not-a-response", "Return value must be built with context.res"),
    ("/garbage", "Runtime"),
    ("/truncated", "Runtime closed the connection mid-response"),
])
def test_malformed_responses_fail_cleanly(faulty, path, expected):
    doc = faulty.execute("faulty", path)
    assert doc["status"] == "failed" and doc["responseStatusCode"] == 500, doc
    assert expected in doc["errors"], doc["errors"]
    pid_of(faulty)


def test_runtime_that_never_binds_fails_within_the_startup_timeout(server_factory, tmp_path):
    srv = server_factory("--startup-timeout", "2", data_dir=tmp_path / "nobind")
    api = Api(srv.endpoint)
    # A dependency whose .pth file blocks interpreter start-up: the adapter never gets to listen.
    block = ('python -c "import site; open(site.getsitepackages()[0] + \'/zz_block.pth\', \'w\')'
             '.write(\'import time; time.sleep(3600)\\n\')"')
    api.deploy("nobind", {"main.py": "def main(context):\n    return context.res.text('never')\n"}, commands=block)
    doc = api.execute("nobind")  # the runtime would block for an hour: the start-up timeout ends it
    assert doc["status"] == "failed" and "did not start listening on its port within 2s" in doc["errors"], doc["errors"]
    assert not runtimes_of(tmp_path / "nobind"), "the stuck runtime must be stopped"
    # Without the blocking dependency the same function deploys and runs.
    api.ok("PUT", "/functions/nobind", {"name": "nobind", "commands": "", "timeout": 3})
    fixed = {"main.py": "def main(context):\n    return context.res.text('fixed')\n"}
    dep = api.wait_status("nobind", api.new_deployment("nobind", fixed))
    assert dep["status"] == "ready", dep["buildLogs"]
    deadline = time.monotonic() + 10
    while api.ok("GET", "/functions/nobind")["deploymentId"] != dep["$id"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert api.execute("nobind")["responseBody"] == "fixed"


def test_killed_mid_build_and_mid_execution_restarts_consistent(server_factory, tmp_path):
    data = tmp_path / "state"
    first = server_factory(data_dir=data)
    api = Api(first.endpoint)
    slow = "import time\ndef main(context):\n    time.sleep(20)\n    return context.res.text('slow')\n"
    api.deploy("slow", {"main.py": slow}, timeout=30)
    # A build that is still running when the emulator dies.
    api.ok("POST", "/functions", {"functionId": "building", "name": "building", "runtime": "python-3.11",
                                  "entrypoint": "main.py", "commands": "sleep 60"})
    built = {"main.py": "def main(context):\n    return context.res.text('built')\n"}
    building = api.new_deployment("building", built)
    api.wait_status("building", building, ("building",))
    # A synchronous execution that is running when the emulator dies.
    import threading
    outcome = {}
    caller = threading.Thread(target=lambda: outcome.update(r=_swallow(lambda: api.execute("slow"))), daemon=True)
    caller.start()
    deadline = time.monotonic() + 20
    while not api.ok("GET", "/functions/slow/executions")["total"] or not runtimes_of(data):
        assert time.monotonic() < deadline, "the execution never reached its runtime"
        time.sleep(0.05)
    first.stop(signal.SIGKILL)
    caller.join(30)

    second = server_factory(data_dir=data)
    api = Api(second.endpoint)
    dep = api.ok("GET", f"/functions/building/deployments/{building}")
    assert dep["status"] == "failed" and "interrupted" in dep["buildLogs"], dep
    assert api.ok("GET", "/functions/building")["latestDeploymentStatus"] == "failed"
    executions = api.ok("GET", "/functions/slow/executions")["executions"]
    assert len(executions) == 1 and executions[0]["status"] == "failed", executions
    assert "interrupted" in executions[0]["errors"]
    for fid in ("slow", "building"):
        for d in api.ok("GET", f"/functions/{fid}/deployments")["deployments"]:
            assert d["status"] in ("ready", "failed"), d
    # Both can be retried: the function still runs, a new build of the interrupted one works.
    api.ok("PUT", "/functions/slow", {"name": "slow", "timeout": 30})
    api.ok("PUT", "/functions/building", {"name": "building", "commands": "", "entrypoint": "main.py"})
    rebuilt = api.wait_status("building", api.new_deployment("building", built))
    assert rebuilt["status"] == "ready", rebuilt["buildLogs"]
    deadline = time.monotonic() + 10
    while api.ok("GET", "/functions/building")["deploymentId"] != rebuilt["$id"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert api.execute("building")["responseBody"] == "built"


def _swallow(fn):
    try:
        return fn()
    except Exception as exc:  # the connection dies with the emulator
        return exc


def test_one_function_starting_slowly_does_not_hold_up_another(server, faulty, tmp_path):
    """Instances start under a per-deployment lock: another function's executions go on meanwhile.

    The slow function's interpreter start-up blocks (a .pth file) while `armed` exists and `go` does
    not, and says so with `waiting`: the other function's executions must all complete while it is
    provably still starting."""
    api = Api(server.endpoint)
    armed, go, waiting = tmp_path / "armed", tmp_path / "go", tmp_path / "waiting"
    # site runs a .pth line inside a function: what the line imports is not seen from the lambda or the
    # comprehension (it was a NameError, so the gate never held and only timing made this pass), hence
    # __import__ there.
    gate = (f"import os; os.path.exists({str(armed)!r}) and open({str(waiting)!r}, 'w').close(); "
            f"[__import__('time').sleep(0.05) for _ in iter(lambda: __import__('os').path.exists({str(armed)!r}) "
            f"and not __import__('os').path.exists({str(go)!r}), False)]\n")
    install_gate = "python -c \"import shutil, site; shutil.copy('zz_slow.pth', site.getsitepackages()[0])\""
    api.deploy("slowstart", {"main.py": "def main(context):\n    return context.res.text('late')\n",
                             "zz_slow.pth": gate}, timeout=15, commands=install_gate)
    armed.touch()  # from now on, a start of the slow function waits for `go`
    import threading
    outcome = {}
    starting = threading.Thread(target=lambda: outcome.update(doc=api.execute("slowstart")), daemon=True)
    starting.start()
    try:
        deadline = time.monotonic() + 60
        while not waiting.exists():
            assert time.monotonic() < deadline and starting.is_alive(), f"the slow start never began: {outcome}"
            time.sleep(0.05)
        for _ in range(5):
            pid_of(faulty)
            assert starting.is_alive() and not outcome, f"the slow function must still be starting: {outcome}"
    finally:
        go.touch()
    starting.join(60)
    assert outcome["doc"]["responseBody"] == "late", outcome
