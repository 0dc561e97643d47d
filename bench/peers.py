"""The bare-runner limit for `make bench`: Google's Functions Framework serving the same hello function.

Installed on first use into a scratch folder (~/.cache/appwrite-emulator/bench-peers), never into the
project: PyPI `functions-framework` 3.10 (gunicorn + Flask) and npm `@google-cloud/functions-framework`
5.0 (Express). Both are bound to 127.0.0.1: the Python one with `--host`; the Node one listens on every
interface given only a port, so a preloaded script (`node -r`) adds the loopback address to any
port-only `listen`. Neither contacts anything beyond the loopback port while it serves.

`python bench/peers.py` installs and starts each once, as a check.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "appwrite-emulator" / "bench-peers"
PYTHON_PACKAGE = "functions-framework==3.10.*"
NODE_PACKAGE = "@google-cloud/functions-framework@5.0"

PYTHON_HELLO = "def hello(request):\n    return 'ok'\n"
NODE_HELLO = ("const functions = require('@google-cloud/functions-framework');\n"
              "functions.http('hello', (req, res) => { res.send('ok'); });\n")
# Preloaded into the Node framework: a port-only listen() binds 127.0.0.1 instead of every interface.
NODE_LOOPBACK = """const net = require('net');
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === 'number' || (typeof args[0] === 'string' && /^\\d+$/.test(args[0]))) {
    return listen.call(this, Number(args[0]), '127.0.0.1', ...args.slice(1).filter((a) => typeof a !== 'string'));
  }
  return listen.apply(this, args);
};
"""


class PeerUnavailable(RuntimeError):
    """The framework could not be installed (offline, no npm): the peers section is skipped."""


def _run(argv: list[str], cwd: Path, what: str) -> None:
    proc = subprocess.run(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600)
    if proc.returncode != 0:
        raise PeerUnavailable(f"{what} failed: {proc.stdout.decode(errors='replace')[-1500:]}")


def install(lang: str) -> Path:
    """The folder holding the installed framework and the hello function for `lang`."""
    folder = CACHE / lang
    stamp = folder / ".installed"
    wanted = PYTHON_PACKAGE if lang == "python" else NODE_PACKAGE
    if stamp.exists() and stamp.read_text() == wanted:
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    if lang == "python":
        _run([sys.executable, "-m", "venv", "venv"], folder, "python -m venv")
        _run([str(folder / "venv" / "bin" / "pip"), "install", "-q", PYTHON_PACKAGE], folder,
             f"pip install {PYTHON_PACKAGE}")
        (folder / "main.py").write_text(PYTHON_HELLO)
    else:
        if not shutil.which("npm"):
            raise PeerUnavailable("npm not found")
        (folder / "package.json").write_text('{"name": "bench-peer", "version": "1.0.0", "private": true}\n')
        _run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error", NODE_PACKAGE], folder,
             f"npm install {NODE_PACKAGE}")
        (folder / "index.js").write_text(NODE_HELLO)
        (folder / "bind-loopback.cjs").write_text(NODE_LOOPBACK)
    stamp.write_text(wanted)
    return folder


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PeerServer:
    """One running Functions Framework server for `lang`, on 127.0.0.1:port."""

    def __init__(self, lang: str, folder: Path):
        self.lang, self.folder = lang, folder
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        if lang == "python":
            argv = [str(folder / "venv" / "bin" / "functions-framework"), "--target", "hello", "--source", "main.py",
                    "--host", "127.0.0.1", "--port", str(self.port)]
        else:
            main = folder / "node_modules" / "@google-cloud" / "functions-framework" / "build" / "src" / "main.js"
            argv = ["node", "-r", "./bind-loopback.cjs", str(main), "--target=hello", f"--port={self.port}"]
        env = dict(os.environ, NODE_ENV="production")
        self.launched = time.perf_counter()
        self.proc = subprocess.Popen(argv, cwd=folder, env=env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)

    def wait_ready(self, timeout: float = 60) -> float:
        """Seconds from launch to the first 'ok' answer."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.lang} Functions Framework exited with {self.proc.returncode}")
            try:
                with urllib.request.urlopen(urllib.request.Request(self.url, data=b"x"), timeout=5) as r:
                    if r.read() == b"ok":
                        return time.perf_counter() - self.launched
            except OSError:
                time.sleep(0.005)
        raise RuntimeError(f"{self.lang} Functions Framework did not answer within {timeout}s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def start_time(lang: str, folder: Path, samples: int = 3) -> list[float]:
    """Launch-to-first-answer seconds of `samples` fresh starts."""
    out = []
    for _ in range(samples):
        server = PeerServer(lang, folder)
        try:
            out.append(server.wait_ready())
        finally:
            server.stop()
    return out


def dev_start_time(lang: str, samples: int = 3) -> list[float]:
    """Launch of `python -m emulator dev` on a one-function project to its first answer, in seconds:
    the emulator's counterpart of `start_time` (build, runtime start and the API included)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "dev"))
    import tempfile

    from devproc import DevProcess, write_config, write_function

    out = []
    for _ in range(samples):
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp) / "project"
            write_config(root, "peers", [write_function(root, "hello", lang, "ok")])
            launched = time.perf_counter()
            dev = DevProcess(root, Path(tmp) / "data").start(timeout=120)
            try:
                while dev.execute("hello", "peers").get("responseBody") != "ok":
                    if time.perf_counter() - launched > 120:
                        raise RuntimeError(f"dev did not answer within 120 s:\n{dev.output()[-2000:]}")
                out.append(time.perf_counter() - launched)
            finally:
                dev.stop()
    return out


if __name__ == "__main__":
    for language in ("python", "node"):
        where = install(language)
        print(language, where, [round(s, 3) for s in start_time(language, where, 1)])
