"""A real `python -m emulator dev` process for tests and the reload benchmark.

Its terminal output is read line by line on a thread, so a test can wait for "deployed ..." or
"failed ..." lines, and executions go through the HTTP API like any client's.
"""
from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


class DevProcess:
    def __init__(self, project_dir: Path, data_dir: Path, *args: str, env: dict[str, str] | None = None):
        self.project_dir = project_dir
        self.data_dir = data_dir
        self.args = args
        self.env = env or {}  # on top of this process's environment
        self.lines: list[str] = []
        self.cond = threading.Condition()
        self.endpoint = ""
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 120, until: str | None = r"Watching for changes") -> "DevProcess":
        """Launch dev and wait until it listens, then until a line matches `until` (by default: the
        first deployments are done); None: return once it listens."""
        env = dict(os.environ, PYTHONUNBUFFERED="1", NO_COLOR="1", **self.env)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "emulator", "dev", str(self.project_dir), "--port", "0",
             "--data-dir", str(self.data_dir), *self.args],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        threading.Thread(target=self._read, daemon=True).start()
        match, _ = self.wait_for(r"listening on (\S+)", timeout=30)
        self.endpoint = match.group(1)
        if until is not None:
            self.wait_for(until, timeout=timeout)
        return self

    def _read(self) -> None:
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self.cond:
                self.lines.append(line)
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def mark(self) -> int:
        with self.cond:
            return len(self.lines)

    def wait_for(self, pattern: str, since: int = 0, timeout: float = 60) -> tuple[re.Match, int]:
        """First line at or after `since` matching `pattern`: (match, index of the next line)."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self.cond:
            index = since
            while True:
                while index < len(self.lines):
                    found = regex.search(self.lines[index])
                    index += 1
                    if found:
                        return found, index
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (self.proc.poll() is not None and index >= len(self.lines)):
                    raise AssertionError(f"no line matching {pattern!r} within {timeout}s; output:\n" + self.output())
                self.cond.wait(min(remaining, 0.5))

    def output(self, since: int = 0) -> str:
        with self.cond:
            return "\n".join(self.lines[since:])

    def call(self, method: str, path: str, project: str, body: dict | None = None) -> dict:
        request = urllib.request.Request(
            self.endpoint + path, method=method, data=None if body is None else json.dumps(body).encode(),
            headers={"x-appwrite-project": project, "content-type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())

    def execute(self, function_id: str, project: str, body: str = "", path: str = "/") -> dict:
        return self.call("POST", f"/functions/{function_id}/executions", project,
                         {"body": body, "path": path, "async": False})

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # dev stops its function processes on SIGTERM
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def make_wheel(folder: Path, name: str, version: str, module_source: str) -> Path:
    """A pure-Python wheel, so a dependency installs without a network."""
    files = {f"{name}/__init__.py": module_source.encode(),
             f"{name}-{version}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
             f"{name}-{version}.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    record = []
    for arc, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{arc},sha256={digest},{len(data)}")
    record.append(f"{name}-{version}.dist-info/RECORD,,")
    files[f"{name}-{version}.dist-info/RECORD"] = ("\n".join(record) + "\n").encode()
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for arc, data in files.items():
            zf.writestr(arc, data)
    wheel.write_bytes(buf.getvalue())
    return wheel


PY_MAIN = "def main(context):\n    context.log('{tag} called')\n    return context.res.text('{tag}')\n"
NODE_MAIN = "module.exports = async (context) => {{\n  context.log('{tag} called');\n  return context.res.text('{tag}');\n}};\n"
SOURCES = {"python": ("main.py", PY_MAIN), "node": ("index.js", NODE_MAIN)}
RUNTIMES = {"python": "python-3.11", "node": "node-20.0"}
COMMANDS = {"python": "", "node": "npm install --no-audit --no-fund --offline"}


def write_function(root: Path, fid: str, lang: str, tag: str, **config) -> dict:
    """A function folder with a handler that answers `tag`; returns its config entry."""
    entry, template = SOURCES[lang]
    folder = root / "functions" / fid
    write(folder / entry, template.format(tag=tag))
    if lang == "node":
        write(folder / "package.json", json.dumps({"name": fid, "version": "1.0.0", "private": True}))
    else:
        write(folder / "requirements.txt", "")
    return {"$id": fid, "name": fid, "runtime": RUNTIMES[lang], "path": f"functions/{fid}", "entrypoint": entry,
            "commands": COMMANDS[lang], "execute": ["any"], "timeout": 15, **config}


def write_config(root: Path, project: str, functions: list[dict]) -> None:
    write(root / "appwrite.config.json", json.dumps({"projectId": project, "functions": functions}, indent=2))


def edit(path: Path, text: str) -> None:
    """Write like an editor does (new content at once), and make sure the mtime moves."""
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text)
    if path.stat().st_mtime_ns == before:
        os.utime(path, ns=(before + 1_000_000, before + 1_000_000))
