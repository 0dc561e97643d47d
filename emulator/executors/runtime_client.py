"""Where a request is forwarded to a runtime: the executor side of the open-runtimes contract.

One client serves both executors: an instance is just `127.0.0.1:<port>` plus a secret and a
logs directory, whether it is a host process or a container with its port published on loopback.
Speaks the v5 wire (logs in files named by `x-open-runtimes-log-id`) and the v2 wire
(`x-internal-challenge`, JSON in and out).
"""
from __future__ import annotations

import asyncio
import base64
import json
import os
import stat
import time
from pathlib import Path

from .base import MAX_RESPONSE_BYTES, ExecutionRequest, ExecutionResult, ExecutorError, Instance
from .runtime_connections import (BodyTooLarge, ClosedEarly, ConnectionPool, ConnectRefused, Malformed, Timeout,
                                  TransportError)
from .runtime_files import open_regular_file

MAX_LOG_FILE_BYTES = 5 * 1024 * 1024  # the executor caps each log file, as open-runtimes' does
HARD_TIMEOUT_GRACE = 3.0  # seconds past the function timeout before the instance counts as hung


class ResponseTooLarge(ExecutorError):
    pass


class RuntimeTimeout(ExecutorError):
    pass


class RuntimeUnreachable(ExecutorError):
    """The connection was refused: the request never reached the function, so a retry on a
    fresh instance is safe."""


class RuntimeClient:
    def __init__(self, max_response_bytes: int = MAX_RESPONSE_BYTES):
        self.max_response_bytes = max_response_bytes
        # Keep-alive connections to warm instances: most of a warm call's latency is connection setup.
        self.connections = ConnectionPool()

    async def close(self) -> None:
        self.connections.close()

    def forget(self, instance: Instance) -> None:
        """The instance is stopping: drop the connections kept open to it."""
        self.connections.forget(instance.port)

    async def execute(self, instance: Instance, request: ExecutionRequest) -> ExecutionResult:
        if instance.spec.version == "v2":
            return await self._execute_v2(instance, request)
        return await self._execute_v5(instance, request)

    async def _execute_v5(self, instance: Instance, request: ExecutionRequest) -> ExecutionResult:
        timeout = max(int(request.timeout), 1)
        headers = {k: v for k, v in request.headers.items() if not k.lower().startswith("x-open-runtimes-")}
        headers.update({
            "x-open-runtimes-secret": instance.secret,
            "authorization": "Basic " + base64.b64encode(f"opr:{instance.secret}".encode()).decode(),
            "x-open-runtimes-timeout": str(timeout),
            "x-open-runtimes-logging": "enabled" if request.logging else "disabled",
        })
        path = request.path if request.path.startswith("/") else "/" + request.path
        started = time.monotonic()
        status, resp_headers, body = await self._send(request.method, instance.port, path, headers, request.body,
                                                      timeout + HARD_TIMEOUT_GRACE, timeout)
        duration = time.monotonic() - started
        log_id = ""
        out_headers = []
        for key, value in resp_headers:
            key = key.lower().strip()
            if key == "x-open-runtimes-log-id":
                log_id = value
            elif not key.startswith("x-open-runtimes-"):
                out_headers.append((key, value))
        logs = errors = ""
        if log_id:
            logs, errors = read_log_files(instance.logs_dir, log_id)
            # Removed once this loop step is done: the answer does not wait for two unlinks.
            asyncio.get_running_loop().call_soon(remove_log_files, instance.logs_dir, log_id)
        return ExecutionResult(status, out_headers, body, logs, errors, duration)

    async def _execute_v2(self, instance: Instance, request: ExecutionRequest) -> ExecutionResult:
        payload = {
            "variables": {**instance.spec.env, **legacy_execution_variables(request.headers, request.body)},
            "payload": request.body.decode("utf-8", "replace"),
            "headers": dict(request.headers),
        }
        headers = {"content-type": "application/json", "x-internal-challenge": instance.secret}
        started = time.monotonic()
        timeout = max(int(request.timeout), 1)
        status, _, raw = await self._send("POST", instance.port, "/", headers,
                                          json.dumps(payload).encode(), timeout + HARD_TIMEOUT_GRACE, timeout)
        duration = time.monotonic() - started
        try:
            data = json.loads(raw or b"{}")
        except ValueError:
            raise ExecutorError("Invalid response from runtime: expected JSON from a v2 runtime.", 500)
        if not isinstance(data, dict):
            raise ExecutorError("Invalid response from runtime: expected a JSON object.", 500)
        response = data.get("response", "")
        if isinstance(response, str):
            body = response.encode()
            ctype = "text/plain; charset=utf-8"
        else:
            body = json.dumps(response, ensure_ascii=False, separators=(",", ":")).encode()
            ctype = "application/json; charset=utf-8"
        if len(body) > self.max_response_bytes:
            raise _too_large(len(body), self.max_response_bytes)
        logs, errors = str(data.get("stdout", "")), str(data.get("stderr", ""))
        return ExecutionResult(status, [("content-type", ctype)], body, logs[:MAX_LOG_FILE_BYTES],
                               errors[:MAX_LOG_FILE_BYTES], duration)

    async def _send(self, method, port, path, headers, body, hard_timeout, timeout):
        try:
            response = await self.connections.request(port, method, path, headers, body or b"",
                                                      self.max_response_bytes, hard_timeout)
        except BodyTooLarge as exc:
            raise _too_large(exc.size, self.max_response_bytes)
        except Timeout:
            raise RuntimeTimeout(f"Execution timed out. The function did not respond within its timeout of {timeout}s.", 500)
        except ConnectRefused as exc:
            raise RuntimeUnreachable(f"Runtime is not reachable: {exc}", 500)
        except ClosedEarly as exc:
            raise ExecutorError("Runtime closed the connection mid-response." if exc.mid_response
                                else "Runtime closed the connection without responding.", 500)
        except Malformed as exc:
            raise ExecutorError(f"Runtime sent a malformed HTTP response: {exc}", 500)
        except TransportError as exc:
            raise ExecutorError(f"Runtime is not reachable: {exc}", 500)
        return response.status, response.headers, response.body


def legacy_execution_variables(headers: dict[str, str], body: bytes) -> dict[str, str]:
    """The per-execution variables v2 functions read from `req.variables` (Appwrite 1.0-1.3)."""
    h = {k.lower(): v for k, v in headers.items()}
    data = body.decode("utf-8", "replace")
    event = h.get("x-appwrite-event", "")
    return {
        "APPWRITE_FUNCTION_TRIGGER": h.get("x-appwrite-trigger", ""),
        "APPWRITE_FUNCTION_EVENT": event,
        "APPWRITE_FUNCTION_EVENT_DATA": data if event else "",
        "APPWRITE_FUNCTION_DATA": data,
        "APPWRITE_FUNCTION_USER_ID": h.get("x-appwrite-user-id", ""),
        "APPWRITE_FUNCTION_JWT": h.get("x-appwrite-user-jwt", ""),
    }


def _too_large(size: int, limit: int) -> ResponseTooLarge:
    return ResponseTooLarge(
        f"Response body is {size} bytes, over the {limit} bytes (1 MB) limit for function responses.", 500)


def _log_file_base(logs_dir: Path, log_id: str) -> str:
    return os.path.join(str(logs_dir), os.path.basename(log_id))


def remove_log_files(logs_dir: Path, log_id: str) -> None:
    base = _log_file_base(logs_dir, log_id)
    for kind in ("logs", "errors"):
        try:
            os.unlink(f"{base}_{kind}.log")
        except OSError:  # gone already, or something the runtime put there that is not a file
            pass


def _read_log_file(path: str) -> bytes:
    """Up to MAX_LOG_FILE_BYTES + 1 bytes of the regular file at `path`; b"" for none (a link or a FIFO
    a function left there is not read: runtime_files.py). Most calls log nothing: an empty file
    costs one lstat."""
    try:
        info = os.lstat(path)
    except OSError:
        return b""
    if not stat.S_ISREG(info.st_mode) or info.st_size == 0:
        return b""
    fd = open_regular_file(path)  # it may have been replaced since the lstat
    if fd is None:
        return b""
    chunks, size = [], 0
    try:
        while size <= MAX_LOG_FILE_BYTES:
            chunk = os.read(fd, MAX_LOG_FILE_BYTES + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks)


def read_log_files(logs_dir: Path, log_id: str) -> tuple[str, str]:
    """Read `<id>_logs.log` / `<id>_errors.log`, each capped at 5 MiB (remove_log_files deletes them)."""
    out = []
    # Plain os calls: this runs twice per execution, and pathlib/buffered files cost more than the I/O.
    base = _log_file_base(logs_dir, log_id)
    for kind, label in (("logs", "Log"), ("errors", "Error")):
        data = _read_log_file(f"{base}_{kind}.log")
        text = data[:MAX_LOG_FILE_BYTES].decode("utf-8", "replace")
        if len(data) > MAX_LOG_FILE_BYTES:
            text += f"\n{label} file has been truncated to 5.00MB."
        out.append(text)
    return out[0], out[1]
