"""Make a Docker engine available for the docker executor's tests, the bench and CI.

Uses a daemon that already answers; otherwise (root only) installs docker.io when `dockerd` is
missing and starts `dockerd` in the background, trying configurations from the most standard to
the most degraded until one starts AND serves a port published on 127.0.0.1 (what the executor
needs). The daemon is left running for the next session; its log and pid are kept under
~/.cache/appwrite-emulator/.

    python tests/docker/docker_engine.py [--images]   # what .ci/docker-setup.sh runs
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

CACHE_DIR = Path(os.environ.get("APPWRITE_EMULATOR_CACHE", Path.home() / ".cache" / "appwrite-emulator"))
DAEMON_LOG = CACHE_DIR / "dockerd.log"
DAEMON_PID = CACHE_DIR / "dockerd.pid"
INSTALL_HINT = "apt-get install -y docker.io && dockerd &   (or: sudo .ci/docker-setup.sh)"

# Tried in order. The first is stock Docker; the others cover kernels without overlayfs and
# sandboxes where dockerd may not touch iptables (the userland proxy still publishes ports).
DAEMON_CONFIGS: list[tuple[str, list[str]]] = [
    ("default (overlay2, iptables)", []),
    ("vfs storage", ["--storage-driver=vfs"]),
    ("vfs storage, no iptables", ["--storage-driver=vfs", "--iptables=false", "--ip-masq=false"]),
]


class EngineUnavailable(RuntimeError):
    """No Docker engine could be made available; the message says what to do."""


def _say(msg: str) -> None:
    print(f"[docker-engine] {msg}", file=sys.stderr, flush=True)


def client(timeout: float = 120):
    import docker
    return docker.from_env(timeout=timeout)


def ping(timeout: float = 5) -> bool:
    try:
        import docker
        c = docker.from_env(timeout=timeout)
        try:
            return bool(c.ping())
        finally:
            c.close()
    except Exception:
        return False


@contextlib.contextmanager
def cache_lock(name: str, timeout: float = 1800):
    """Serialise daemon starts and image builds across pytest workers and CI steps."""
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with open(CACHE_DIR / f"{name}.lock", "w") as fh:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise EngineUnavailable(f"timed out waiting for the lock {fh.name}")
                time.sleep(0.5)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _install_docker() -> None:
    if shutil.which("apt-get") is None:
        raise EngineUnavailable(f"dockerd is not installed and apt-get is not available. Install Docker: {INSTALL_HINT}")
    _say("dockerd not found: apt-get install -y docker.io")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "docker.io"]):
        proc = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=900)
        if proc.returncode != 0 and argv[1] == "install":
            raise EngineUnavailable(f"apt-get install docker.io failed:\n{proc.stdout.decode(errors='replace')[-2000:]}")


def _our_daemon_pid() -> int | None:
    try:
        pid = int(DAEMON_PID.read_text().strip())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def stop_our_daemon(timeout: float = 30) -> None:
    """Stop a dockerd this module started (never any other)."""
    pid = _our_daemon_pid()
    if pid is None:
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except OSError:
            break
        time.sleep(0.2)
    else:
        os.kill(pid, signal.SIGKILL)
    DAEMON_PID.unlink(missing_ok=True)


def _start_daemon(flags: list[str], timeout: float = 60) -> bool:
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with open(DAEMON_LOG, "ab") as log:
        log.write(f"\n=== {time.ctime()} dockerd {' '.join(flags)}\n".encode())
        log.flush()
        proc = subprocess.Popen(["dockerd", *flags], stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    DAEMON_PID.write_text(str(proc.pid))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            _say(f"dockerd {' '.join(flags)} exited with code {proc.returncode}; see {DAEMON_LOG}")
            DAEMON_PID.unlink(missing_ok=True)
            return False
        if ping(2):
            return True
        time.sleep(0.5)
    _say(f"dockerd {' '.join(flags)} did not answer within {timeout:.0f}s; see {DAEMON_LOG}")
    stop_our_daemon()
    return False


def probe_published_port(image: str, timeout: float = 30) -> str:
    """Run `python3 -m http.server` in `image` with port 3000 published on 127.0.0.1 and fetch a
    page through the published port. Returns "" when that works, else what went wrong."""
    c = client()
    container = None
    try:
        container = c.containers.run(image, ["python3", "-m", "http.server", "3000"], detach=True,
                                     ports={"3000/tcp": ("127.0.0.1", None)},
                                     labels={"appwrite-emulator.probe": "1"})
        container.reload()
        port = int(container.attrs["NetworkSettings"]["Ports"]["3000/tcp"][0]["HostPort"])
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as resp:
                    if resp.status == 200:
                        return ""
            except Exception as exc:  # not up yet, or the port does not lead to the container
                last = str(exc)
            time.sleep(0.3)
        return f"no answer on 127.0.0.1:{port}: {last}"
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    finally:
        if container is not None:
            with contextlib.suppress(Exception):
                container.remove(force=True)
        c.close()


def ensure_engine(probe=None) -> str:
    """Return a description of the engine in use, or raise EngineUnavailable.

    `probe()` (optional) is called once a daemon answers; it returns "" when the daemon is usable
    (e.g. `probe_published_port` on a test image) and an error otherwise. A failing probe on a
    daemon we started moves on to the next configuration; on a daemon we did not start it is fatal.
    """
    with cache_lock("dockerd"):
        if ping():
            problem = probe() if probe else ""
            if not problem:
                return "existing daemon"
            if _our_daemon_pid() is None:
                raise EngineUnavailable(f"the running Docker daemon cannot serve published ports: {problem}")
            stop_our_daemon()
        if os.geteuid() != 0:
            raise EngineUnavailable(f"no Docker daemon answers and starting one needs root. {INSTALL_HINT}")
        if shutil.which("dockerd") is None:
            _install_docker()
        if shutil.which("dockerd") is None:
            raise EngineUnavailable(f"dockerd still missing after installing docker.io. {INSTALL_HINT}")
        # The socket of a daemon that died is left behind and would make dockerd refuse to start.
        sock = Path("/var/run/docker.sock")
        if sock.exists() and not ping(1):
            with contextlib.suppress(OSError):
                s = socket.socket(socket.AF_UNIX)
                s.settimeout(1)
                try:
                    s.connect(str(sock))
                except OSError:
                    sock.unlink()
                finally:
                    s.close()
        errors = []
        for name, flags in DAEMON_CONFIGS:
            _say(f"starting dockerd: {name}")
            if not _start_daemon(flags):
                errors.append(f"{name}: did not start")
                continue
            problem = probe() if probe else ""
            if not problem:
                return f"started dockerd {' '.join(flags) or '(no flags)'}"
            errors.append(f"{name}: {problem}")
            _say(f"{name}: {problem}")
            stop_our_daemon()
        raise EngineUnavailable("could not start a usable Docker daemon:\n  " + "\n  ".join(errors)
                                + f"\nsee {DAEMON_LOG}")


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import docker_images
    try:
        how = ensure_engine(probe=docker_images.port_probe)
    except EngineUnavailable as exc:
        _say(str(exc))
        return 1
    _say(how)
    if "--images" in argv:
        try:
            images = docker_images.ensure_test_images(log=_say)
        except (EngineUnavailable, docker_images.ImageBuildFailed) as exc:
            _say(f"test images not ready: {exc}")
            return 1
        for tag in images.values():
            _say(f"image ready: {tag}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
