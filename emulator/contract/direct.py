"""`DirectDriver`: builds a runtime's canonical test function on the host, starts the adapter the
way the local executor does and talks the wire contract to it, with wire-level extras (secret, log
ids, log files, server output) the checks marked `direct` need."""
from __future__ import annotations

import http.client
import json
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

from ..hostbuild import build_on_host
from ..languages import language_for_runtime
from ..runtime_env import free_port, server_env
from .results import Result, ToolchainMissing

# Values the official test harness starts its main test server with.
ENFORCED_HEADERS = '{"x-custom":"value","X-CUSTOM-UPPERCASE":"Value2","x-open-runtimes-custom":248}'
CUSTOM_ENV = {"CUSTOM_ENV_VAR": "customValue"}

_DEFAULT = object()  # "use the driver's default" for request() keyword arguments


def wait_for_port(port: int, proc: subprocess.Popen | None, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


class DirectDriver:
    level = "runtime"

    def __init__(self, runtime_id: str, api: str = "context", workdir: str | Path | None = None,
                 env: dict[str, str] | None = None, *, wire: str = "v5", source_dir: str | Path | None = None,
                 entrypoint: str | None = None, commands: str = "", start_timeout: float = 120.0,
                 build_timeout: float = 900.0):
        language = language_for_runtime(runtime_id)
        if language is None:
            raise ValueError(f"unknown runtime {runtime_id!r}")
        if api not in ("context", "legacy") or wire not in ("v5", "v2"):
            raise ValueError("api must be context|legacy and wire v5|v2")
        self.runtime = runtime_id
        self.language = language
        self.api = api
        self.wire = wire
        self.entrypoint = entrypoint or language.test_entrypoints.get(api, language.default_entrypoint)
        self.source_dir = Path(source_dir) if source_dir else language.adapter_dir / "tests" / api
        self.commands = commands
        self.extra_env = dict(env or {})
        self.start_timeout = start_timeout
        self.build_timeout = build_timeout
        self._own_workdir = workdir is None
        self.workdir = Path(workdir) if workdir else None
        self.secret = secrets.token_hex(16)
        self.port = 0
        self.proc: subprocess.Popen | None = None
        self.build_log = ""
        self.default_timeout = 15
        self._local = threading.local()

    # -- lifecycle --

    def start(self) -> "DirectDriver":
        toolchain = self.language.toolchain()
        if not toolchain.available:
            raise ToolchainMissing(toolchain.hint)
        if self.workdir is None:
            self.workdir = Path(tempfile.mkdtemp(prefix=f"contract-{self.runtime}-{self.api}-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.code_dir = self.workdir / "code"
        self.logs_dir = self.workdir / "logs"
        self.logs_dir.mkdir(exist_ok=True)
        if self.code_dir.exists():
            shutil.rmtree(self.code_dir)
        shutil.copytree(self.source_dir, self.code_dir, symlinks=True)
        chunks: list[str] = []
        env = {**CUSTOM_ENV, **self.extra_env, "OPEN_RUNTIMES_ENTRYPOINT": self.entrypoint}
        try:
            build_on_host(self.language, self.code_dir, self.entrypoint, self.commands, env, chunks.append,
                          timeout=self.build_timeout)
        finally:
            self.build_log = "".join(chunks)
        self.port = free_port()
        command = self.language.server(self.code_dir, self.entrypoint)
        # Started as the local executor starts it, with the official harness's values on top; a
        # test's own env (e.g. development mode, an empty secret) overrides even the executor's.
        variables = {**os.environ, **command.env, "OPEN_RUNTIMES_ENV": "production",
                     "OPEN_RUNTIMES_HEADERS": ENFORCED_HEADERS, **CUSTOM_ENV}
        run_env = server_env(variables, version=self.wire, entrypoint=self.entrypoint, secret=self.secret,
                             host="127.0.0.1", port=self.port, code_dir=self.code_dir, logs_dir=self.logs_dir)
        run_env.update(self.extra_env)
        self._output_path = self.workdir / "server-output.log"
        self._output = open(self._output_path, "wb")
        self.proc = subprocess.Popen(command.argv, cwd=command.cwd or str(self.code_dir), env=run_env,
                                     stdin=subprocess.DEVNULL, stdout=self._output, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        if not wait_for_port(self.port, self.proc, self.start_timeout):
            output = self.server_output()
            self.stop()
            raise RuntimeError(f"{self.runtime} adapter did not listen on port {self.port}:\n{output[-3000:]}")
        return self

    def stop(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, 15)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.proc.pid, 9)
                except ProcessLookupError:
                    pass
                self.proc.wait(5)
        if getattr(self, "_output", None) is not None:
            self._output.close()
            self._output = None
        if self._own_workdir and self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def server_output(self) -> str:
        try:
            return self._output_path.read_text("utf-8", "replace")
        except (OSError, AttributeError):
            return ""

    # -- HTTP --

    def _connection(self, fresh: bool = False, timeout: float = 30.0) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if fresh and conn is not None:
            conn.close()
            conn = None
        if conn is None:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
            self._local.conn = conn
        conn.timeout = timeout
        if conn.sock is not None:
            conn.sock.settimeout(timeout)
        return conn

    def raw_request(self, method: str, path: str, headers: list[tuple[str, str]], body: bytes,
                    read_timeout: float = 30.0) -> tuple[int, list[tuple[str, str]], bytes]:
        for attempt in (0, 1):
            conn = self._connection(fresh=attempt == 1, timeout=read_timeout)
            try:
                has_host = any(k.lower() == "host" for k, _ in headers)
                conn.putrequest(method, path, skip_host=has_host, skip_accept_encoding=True)
                for key, value in headers:
                    conn.putheader(key, value)
                has_length = any(k.lower() == "content-length" for k, _ in headers)
                if not has_length and (body or method in ("POST", "PUT", "PATCH")):
                    conn.putheader("Content-Length", str(len(body)))
                conn.endheaders(body if body else None)
                resp = conn.getresponse()
                data = resp.read()
                return resp.status, [(k.lower(), v) for k, v in resp.getheaders()], data
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                conn.close()
                self._local.conn = None
                if attempt == 1:
                    raise
            except Exception:
                conn.close()
                self._local.conn = None
                raise
        raise AssertionError("unreachable")

    def request(self, method: str = "POST", path: str = "/", headers=None, body: bytes | str = b"", *,
                timeout=_DEFAULT, secret=_DEFAULT, logging: str | None = "enabled", log_id: str | None = None,
                read_timeout: float = 30.0) -> Result:
        """Send one execution. `timeout`/`secret` None leaves that header out; `headers` is a dict or a
        list of pairs sent as given (case kept; a `host` entry replaces the Host header)."""
        if isinstance(body, str):
            body = body.encode("utf-8")
        pairs = list(headers.items() if isinstance(headers, dict) else headers or [])
        if not any(k.lower() == "content-type" for k, _ in pairs):
            pairs.append(("content-type", "text/plain"))
        secret = self.secret if secret is _DEFAULT else secret
        timeout = self.default_timeout if timeout is _DEFAULT else timeout
        if secret is not None:
            pairs.append(("x-open-runtimes-secret", secret))
        if timeout is not None:
            pairs.append(("x-open-runtimes-timeout", str(timeout)))
        if logging is not None:
            pairs.append(("x-open-runtimes-logging", logging))
        if log_id is not None:
            pairs.append(("x-open-runtimes-log-id", log_id))
        status, header_list, data = self.raw_request(method, path, pairs, body, read_timeout)
        result = Result.received(status, header_list, data)
        result.log_id = result.headers.get("x-open-runtimes-log-id", "")
        if result.log_id:
            self._collect_logs(result)
        return result

    def _collect_logs(self, result: Result) -> None:
        log_id = urllib.parse.unquote(result.log_id)
        found = False
        for kind, attr in (("logs", "logs"), ("errors", "errors")):
            path = Path(self.logs_dir) / f"{log_id}_{kind}.log"
            try:
                setattr(result, attr, path.read_bytes().decode("utf-8", "replace"))
                path.unlink()
                found = True
            except FileNotFoundError:
                pass
        result.log_files = found

    def request_v2(self, body: dict, challenge=_DEFAULT, read_timeout: float = 30.0) -> tuple[int, dict, str]:
        """v2 wire: POST JSON with x-internal-challenge; returns (status, parsed JSON or {}, raw text)."""
        challenge = self.secret if challenge is _DEFAULT else challenge
        pairs = [("content-type", "application/json"), ("host", "null")]
        if challenge is not None:
            pairs.append(("x-internal-challenge", challenge))
        status, _, data = self.raw_request("POST", "/", pairs, json.dumps(body).encode(), read_timeout)
        raw = data.decode("utf-8", "replace")
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = {}
        return status, parsed if isinstance(parsed, dict) else {}, raw

