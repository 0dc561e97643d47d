"""Test helpers shared by every test package: a real emulator server process, code archives.

Imported as `from support import ...` (tests/ is on sys.path through tests/conftest.py).
"""
from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


class Server:
    """`python -m emulator serve` in a subprocess, in its own data dir, on a free port."""

    def __init__(self, data_dir: Path, *args: str):
        self.data_dir = data_dir
        self.args = args
        self.proc = None
        self.endpoint = ""
        self.log_path = data_dir.parent / f"{data_dir.name}-server.log"

    def start(self) -> "Server":
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "emulator", "serve", "--port", "0", "--data-dir", str(self.data_dir), *self.args],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=self.log, start_new_session=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline().decode()
            match = re.search(r"listening on (\S+)", line)
            if match:
                self.endpoint = match.group(1)
                return self
            if self.proc.poll() is not None:
                break
        raise RuntimeError(f"server did not start: {self.log_path.read_text()[-3000:]}")

    def stop(self, sig=signal.SIGTERM) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self.proc and self.proc.stdout:
            self.proc.stdout.close()
        self.log.close()

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")


# Toolchains .ci/install-toolchains.sh cannot install on the CI machine: their tests may skip there too.
CI_OPTIONAL_TOOLCHAINS = frozenset({"dart", "dotnet", "swift"})


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


def process_running(pid: int) -> bool:
    """True while `pid` exists and is not a zombie (a killed child its parent has not reaped yet)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


def runtimes_of(data_dir) -> list[int]:
    """Pids of runtime processes started for this data dir (their env names its run dir)."""
    marker = f"OPEN_RUNTIMES_LOGS_DIR={data_dir}/run".encode()
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if marker in open(f"/proc/{entry}/environ", "rb").read():
                    pids.append(int(entry))
            except OSError:
                pass
    return pids


def make_archive(files: dict[str, str | bytes], path: Path) -> Path:
    """A tar.gz with the given files (name -> content)."""
    with tarfile.open(path, "w:gz") as tar:
        for name, content in files.items():
            data = content.encode() if isinstance(content, str) else content
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return path
