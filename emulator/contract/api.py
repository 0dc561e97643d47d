"""`ApiDriver`: the contract suite through the emulator's REST API (`python -m emulator contract-test`).

`ApiDriver` deploys a runtime's canonical test function (runtimes/<lang>/tests/<api>/) as an
Appwrite function and turns every check's request into an execution, so the checks exercise the
whole path a user's function takes: upload, build, executor, adapter, limits. Binary request and
response bodies travel as multipart, the way Appwrite carries them.
"""
from __future__ import annotations

import email.parser
import email.policy
import http.client
import io
import json
import tarfile
import threading
import time
import urllib.parse
import uuid
from pathlib import Path

from ..languages import language_for_runtime
from .registry import run_suite
from .results import CheckResult, Result


def pack_dir(src: Path) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for path in sorted(src.rglob("*")):
            rel = path.relative_to(src)
            if any(part in ("node_modules", "__pycache__", ".appwrite") for part in rel.parts):
                continue
            tar.add(path, arcname=str(rel), recursive=False)
    return buf.getvalue()


class ApiDriver:
    level = "emulator"

    def __init__(self, endpoint: str, runtime: str, api: str = "context", project: str = "contract",
                 key: str = "contract-key", executor: str | None = None):
        self.endpoint = endpoint.rstrip("/")
        url = urllib.parse.urlsplit(self.endpoint)
        self.host, self.port, self.base = url.hostname, url.port or 80, url.path
        self.runtime = runtime
        self.api = api
        self.project = project
        self.key = key
        self.executor = executor
        self.default_timeout = 15
        self.language = language_for_runtime(runtime)
        if self.language is None:
            raise ValueError(f"unknown runtime {runtime}")
        self.function_id = f"c-{runtime.replace('.', '_')}-{api}-{uuid.uuid4().hex[:6]}"[:36]
        self.build_log = ""
        self._timeout = None
        self._local = threading.local()

    # -- HTTP -----------------------------------------------------------------------------------
    def _conn(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = http.client.HTTPConnection(self.host, self.port, timeout=180)
        return conn

    def call(self, method: str, path: str, body: bytes | None = None, content_type: str = "application/json",
             accept: str = "application/json") -> tuple[int, dict, bytes]:
        headers = {"x-appwrite-project": self.project, "x-appwrite-key": self.key, "accept": accept}
        if body is not None:
            headers["content-type"] = content_type
        for attempt in range(2):
            conn = self._conn()
            try:
                conn.request(method, self.base + path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
            except (ConnectionError, http.client.HTTPException, OSError):
                conn.close()
                self._local.conn = None
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def json_call(self, method: str, path: str, payload: dict | None = None) -> dict:
        status, _, data = self.call(method, path, json.dumps(payload or {}).encode() if method != "GET" else None)
        doc = json.loads(data or b"{}")
        if status >= 400:
            raise RuntimeError(f"{method} {path} -> {status}: {doc.get('message')}")
        return doc

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> "ApiDriver":
        entrypoint = self.language.test_entrypoints.get(self.api, self.language.default_entrypoint)
        self.json_call("POST", "/functions", {"functionId": self.function_id, "name": f"contract {self.runtime}",
                                              "runtime": self.runtime, "entrypoint": entrypoint, "timeout": 15})
        self.json_call("POST", f"/functions/{self.function_id}/variables",
                       {"variableId": "unique()", "key": "CUSTOM_ENV_VAR", "value": "customValue"})
        archive = pack_dir(self.language.adapter_dir / "tests" / self.api)
        boundary = uuid.uuid4().hex
        parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="activate"\r\n\r\ntrue\r\n'.encode(),
                 f'--{boundary}\r\nContent-Disposition: form-data; name="entrypoint"\r\n\r\n{entrypoint}\r\n'.encode(),
                 f'--{boundary}\r\nContent-Disposition: form-data; name="code"; filename="code.tar.gz"\r\n'
                 f"Content-Type: application/gzip\r\n\r\n".encode() + archive + b"\r\n",
                 f"--{boundary}--\r\n".encode()]
        status, _, data = self.call("POST", f"/functions/{self.function_id}/deployments", b"".join(parts),
                                    f"multipart/form-data; boundary={boundary}")
        if status != 202:
            raise RuntimeError(f"upload failed: {data[:500]!r}")
        deployment = json.loads(data)["$id"]
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            dep = self.json_call("GET", f"/functions/{self.function_id}/deployments/{deployment}")
            if dep["status"] in ("ready", "failed", "canceled"):
                self.build_log = dep.get("buildLogs", "")
                if dep["status"] != "ready":
                    raise RuntimeError(f"build {dep['status']}:\n{self.build_log[-3000:]}")
                return self
            time.sleep(0.2)
        raise RuntimeError("build did not finish in 900s")

    def stop(self) -> None:
        try:
            self.json_call("DELETE", f"/functions/{self.function_id}")
        except (RuntimeError, OSError):
            pass

    def _set_timeout(self, timeout: int) -> None:
        if timeout != self._timeout:
            fn = self.json_call("GET", f"/functions/{self.function_id}")
            self.json_call("PUT", f"/functions/{self.function_id}", {
                "name": fn["name"], "runtime": fn["runtime"], "entrypoint": fn["entrypoint"], "timeout": timeout,
                "execute": fn["execute"], "logging": True, "enabled": True})
            self._timeout = timeout

    # -- the driver interface -------------------------------------------------------------------
    def request(self, method: str = "POST", path: str = "/", headers=None, body: bytes | str = b"", *,
                timeout=None, read_timeout: float = 30.0, **_ignored) -> Result:
        self._set_timeout(int(timeout) if isinstance(timeout, (int, float)) else self.default_timeout)
        items = headers.items() if isinstance(headers, dict) else (headers or [])
        user_headers = {}
        for key, value in items:
            lowered = key.lower()
            if lowered.startswith("x-appwrite-"):
                continue  # the API refuses these; Appwrite sets them itself
            user_headers[lowered] = f"{user_headers[lowered]}, {value}" if lowered in user_headers else value
        raw = body.encode() if isinstance(body, str) else bytes(body)
        boundary = uuid.uuid4().hex
        fields = {"async": "false", "path": path, "method": method, "headers": json.dumps(user_headers)}
        parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
                 for k, v in fields.items()]
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="body"; filename="body"\r\n'
                     f"Content-Type: application/octet-stream\r\n\r\n".encode() + raw + b"\r\n")
        parts.append(f"--{boundary}--\r\n".encode())
        status, resp_headers, data = self.call("POST", f"/functions/{self.function_id}/executions", b"".join(parts),
                                               f"multipart/form-data; boundary={boundary}",
                                               accept="multipart/form-data")
        if status >= 400:
            doc = json.loads(data)
            return Result(status=status, headers={}, body=b"", errors=f"{doc.get('type')}: {doc.get('message')}")
        fields = parse_multipart(resp_headers.get("content-type", ""), data)
        header_list = [(h["name"].lower(), h["value"]) for h in json.loads(fields.get("responseHeaders", b"[]"))]
        return Result.received(int(float(fields.get("responseStatusCode", b"0"))), header_list,
                               fields.get("responseBody", b""), logs=fields.get("logs", b"").decode("utf-8", "replace"),
                               errors=fields.get("errors", b"").decode("utf-8", "replace"))


def parse_multipart(content_type: str, data: bytes) -> dict[str, bytes]:
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + data)
    out = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        out[name] = part.get_payload(decode=True) or b""
    return out


def run_contract(endpoint: str, runtimes: list[str], apis: list[str], executor: str | None = None):
    """Deploy and check each runtime × API; returns {"runtime/api": [CheckResult]}, and the hints
    of runtimes whose toolchain is missing."""
    results, missing = {}, {}
    for runtime in runtimes:
        language = language_for_runtime(runtime)
        toolchain = language.toolchain()
        for api in apis:
            label = f"{runtime}/{api}"
            if not toolchain.available:
                missing[runtime] = toolchain.hint
                results[label] = [CheckResult("toolchain", False, toolchain.hint, skipped=True)]
                continue
            driver = ApiDriver(endpoint, runtime, api, executor=executor)
            try:
                driver.start()
            except RuntimeError as exc:
                results[label] = [CheckResult("build", False, str(exc))]
                continue
            try:
                results[label] = run_suite(driver)
            finally:
                driver.stop()
    return results, missing
