"""Test helpers shared by every test package: a real emulator server process, code archives, a JSON API client.

Imported as `from support import ...` (tests/ is on sys.path through tests/conftest.py).
"""
from __future__ import annotations

import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tarfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


class Server:
    """`python -m emulator serve` in a subprocess, in its own data dir, on a free port."""

    running: "set[Server]" = set()  # for conftest's failure report: the servers a failed test talked to

    def __init__(self, data_dir: Path, *args: str):
        self.data_dir = data_dir
        self.args = args
        self.proc = None
        self.endpoint = ""
        self.log_path = data_dir.parent / f"{data_dir.name}-server.log"

    def start(self, timeout: float = 30) -> "Server":
        self.log = open(self.log_path, "ab")
        offset = self.log.tell()
        # stdout goes to the log file too, never to a pipe nobody reads: a server that prints a line
        # per request would otherwise block on a full pipe once 64 KiB were written.
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "emulator", "serve", "--port", "0", "--data-dir", str(self.data_dir), *self.args],
            cwd=ROOT, stdout=self.log, stderr=self.log, start_new_session=True)
        try:
            self.endpoint = wait_for_output(self.proc, self.log_path, r"listening on (\S+)", offset, timeout).group(1)
        except BaseException:
            self.stop()  # a server that never got ready does not outlive the test
            raise
        Server.running.add(self)
        return self

    def stop(self, sig=signal.SIGTERM) -> None:
        Server.running.discard(self)
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")

    def thread_stacks(self, timeout: float = 5) -> str:
        """Every thread's stack, as the server prints them on SIGUSR1 (emulator/server.py): where a
        server that stopped answering waits."""
        if self.proc is None or self.proc.poll() is not None:
            return ""
        self.log.flush()
        before = self.log_path.stat().st_size
        os.kill(self.proc.pid, signal.SIGUSR1)
        deadline = time.monotonic() + timeout
        size = before
        while time.monotonic() < deadline:  # faulthandler writes in one go; wait until it stops growing
            time.sleep(0.1)
            now = self.log_path.stat().st_size
            if now > before and now == size:
                break
            size = now
        with open(self.log_path, "rb") as fh:
            fh.seek(before)
            return fh.read(200_000).decode(errors="replace")


# Toolchains .ci/install-toolchains.sh cannot install on the CI machine: their tests may skip there too.
CI_OPTIONAL_TOOLCHAINS = frozenset({"dart", "dotnet"})


def in_ci() -> bool:
    """True when the suite runs as CI (CI=true, as GitHub Actions and most CI services set it)."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def require_toolchain(name: str, hint: str) -> None:
    """Call when toolchain (or engine) `name` is missing: skips with `hint` locally; under CI=true it
    fails instead, because CI is meant to have installed it and a skip there would hide a broken setup
    (except the CI_OPTIONAL_TOOLCHAINS, which still skip with their hint)."""
    if in_ci() and name not in CI_OPTIONAL_TOOLCHAINS:
        pytest.fail(f"CI=true and {name} is missing (CI is meant to install it): {hint}", pytrace=False)
    pytest.skip(hint)


def wait_for(condition, timeout: float = 30, interval: float = 0.05, message: str = "condition"):
    """Polls `condition()` until it returns something truthy (returned) or `timeout` seconds pass (fails)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


def wait_for_output(proc: subprocess.Popen, log_path: Path, pattern: str, offset: int = 0,
                    timeout: float = 30) -> re.Match:
    """The first match of `pattern` in what `proc` wrote to `log_path` after byte `offset`, waiting
    until it is written; fails at once, with the output's tail, when `proc` exits first."""
    regex = re.compile(pattern)

    def found():
        with open(log_path, "rb") as fh:
            fh.seek(offset)
            output = fh.read().decode(errors="replace")
        match = regex.search(output)
        if match is None and proc.poll() is not None:
            raise AssertionError(f"{proc.args} exited {proc.returncode} before printing {pattern!r}:\n"
                                 f"{output[-3000:]}")
        return match

    return wait_for(found, timeout=timeout, interval=0.02, message=f"{pattern!r} in {log_path}")


def wait_deployment_ready(fetch, deployment_id: str, timeout: float = 180, interval: float = 0.05) -> dict:
    """Polls `fetch()` (deployment `deployment_id`'s document) until its build is ready and returns it;
    fails at once, with the build log, when the build failed or was canceled."""
    def ready():
        doc = fetch()
        assert doc["status"] not in ("failed", "canceled"), doc.get("buildLogs")
        return doc if doc["status"] == "ready" else None
    return wait_for(ready, timeout=timeout, interval=interval, message=f"deployment {deployment_id} to be ready")


def process_running(pid: int) -> bool:
    """True while `pid` exists and is not a zombie (a killed child its parent has not reaped yet)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


def processes_with(token: str, where: str = "cmdline") -> list[int]:
    """Pids of live processes whose /proc/<pid>/<where> (`cmdline` or `environ`) contains `token`."""
    needle, pids = token.encode(), []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and process_running(int(entry)):
            try:
                with open(f"/proc/{entry}/{where}", "rb") as fh:
                    if needle in fh.read():
                        pids.append(int(entry))
            except OSError:
                pass
    return pids


def runtimes_of(data_dir) -> list[int]:
    """Pids of runtime processes started for this data dir (their env names its run dir)."""
    return processes_with(f"OPEN_RUNTIMES_LOGS_DIR={data_dir}/run", "environ")


TAR_TYPES = {"dir": tarfile.DIRTYPE, "sym": tarfile.SYMTYPE, "hard": tarfile.LNKTYPE,
             "chr": tarfile.CHRTYPE, "fifo": tarfile.FIFOTYPE}


def tar_members(members: list[tuple]) -> bytes:
    """A tar.gz, in memory, with exactly these members, in this order: ("file", name, bytes) |
    ("dir", name) | ("sym", name, target) | ("hard", name, target) | ("chr", name) | ("fifo", name)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for kind, name, *rest in members:
            info = tarfile.TarInfo(name)
            if kind == "file":
                info.size, info.mode = len(rest[0]), 0o644
                tar.addfile(info, io.BytesIO(rest[0]))
                continue
            info.type = TAR_TYPES[kind]
            if rest:
                info.linkname = rest[0]
            tar.addfile(info)
    return buf.getvalue()


def archive_bytes(files: dict[str, str | bytes]) -> bytes:
    """A tar.gz, in memory, with the given files (name -> content, mode 0644)."""
    return tar_members([("file", name, content.encode() if isinstance(content, str) else content)
                        for name, content in files.items()])


def make_archive(files: dict[str, str | bytes], path: Path) -> Path:
    """A tar.gz file at `path` with the given files (name -> content)."""
    path.write_bytes(archive_bytes(files))
    return path


class JsonApi:
    """The emulator's JSON API over plain urllib, for one project (its X-Appwrite-Project header) and,
    for a server run with --api-key, with that key."""

    BOUNDARY = "jsonapiboundary"

    def __init__(self, endpoint: str, project: str, timeout: float = 60, key: str | None = None):
        self.endpoint, self.project, self.timeout, self.key = endpoint, project, timeout, key

    def call(self, method: str, path: str, payload=None, raw: bytes | None = None, ctype="application/json",
             timeout: float | None = None) -> tuple[int, dict]:
        """(status, JSON body) of a request with `payload` as JSON (or `raw` bytes of type `ctype`)."""
        data = raw if raw is not None else (json.dumps(payload).encode() if payload is not None else None)
        req = urllib.request.Request(self.endpoint + path, data=data, method=method,
                                     headers={"X-Appwrite-Project": self.project, "Content-Type": ctype})
        if self.key:
            req.add_header("X-Appwrite-Key", self.key)
        try:
            with urllib.request.urlopen(req, timeout=timeout or self.timeout) as resp:
                return resp.status, json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")

    def ok(self, method: str, path: str, payload=None, **kw) -> dict:
        """The body of a call that must succeed (status below 400)."""
        status, doc = self.call(method, path, payload, **kw)
        assert status < 400, (status, doc)
        return doc

    def upload(self, function_id: str, code: bytes, activate: bool = True) -> tuple[int, dict]:
        """(status, body) of POST /functions/{id}/deployments with `code` (tar.gz bytes) as multipart."""
        b = self.BOUNDARY
        body = (f"--{b}\r\nContent-Disposition: form-data; name=\"activate\"\r\n\r\n{str(activate).lower()}\r\n"
                f"--{b}\r\nContent-Disposition: form-data; name=\"code\"; filename=\"code.tar.gz\"\r\n"
                "Content-Type: application/gzip\r\n\r\n").encode() + code + f"\r\n--{b}--\r\n".encode()
        return self.call("POST", f"/functions/{function_id}/deployments", raw=body,
                         ctype=f"multipart/form-data; boundary={b}")

    def upload_ok(self, function_id: str, code: bytes, activate: bool = True) -> dict:
        """The new deployment of an upload that must be accepted."""
        status, doc = self.upload(function_id, code, activate)
        assert status < 400, (status, doc)
        return doc

    def deploy(self, function_id: str, files: dict[str, str | bytes], entrypoint: str = "main.py",
               runtime: str = "python-3.11", wait: float = 180, **fields) -> dict:
        """Create `function_id` (with any other create `fields`), upload `files` as its code and wait
        until that deployment is ready and active; the deployment as then stored."""
        self.ok("POST", "/functions", {"functionId": function_id, "name": function_id, "runtime": runtime,
                                       "entrypoint": entrypoint, **fields})
        dep_id = self.upload_ok(function_id, archive_bytes(files))["$id"]
        self.wait_ready(function_id, dep_id, timeout=wait)
        wait_for(lambda: self.ok("GET", f"/functions/{function_id}")["deploymentId"] == dep_id, timeout=wait,
                 message=f"{dep_id} to be {function_id}'s active deployment")
        return self.ok("GET", f"/functions/{function_id}/deployments/{dep_id}")

    def wait_ready(self, function_id: str, deployment_id: str, timeout: float = 180) -> dict:
        """The deployment once its build is ready (fails at once when the build failed or was canceled)."""
        path = f"/functions/{function_id}/deployments/{deployment_id}"
        return wait_deployment_ready(lambda: self.ok("GET", path), deployment_id, timeout=timeout)


# -- raw HTTP/1.1 over a socket ---------------------------------------------------------------------
def read_response(sock: socket.socket, buffered: bytes = b"") -> tuple[int, dict[str, str], bytes, bytes]:
    """One response from `sock`: (status, headers, body, bytes read past it)."""
    data = buffered
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before a response: {data!r}"
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed mid-body"
        rest += chunk
    return int(lines[0].split()[1]), headers, rest[:length], rest[length:]


def closed_by_server(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
