"""`exec` and `trigger`: talk to a running emulator over HTTP, as any Appwrite client would.

Stdlib only (urllib), so the commands start fast. The project defaults to the `projectId` of the
nearest appwrite.config.json, which is where `dev` puts the functions; the endpoint defaults to
the emulator's default address, never to the config's `endpoint` (that may be a real Appwrite).
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import click

from .project import DEFAULT_PROJECT, ProjectError, find_config, load_project

DEFAULT_ENDPOINT = "http://127.0.0.1:8080/v1"
MAX_LOG_LINES = 200


class ClientError(Exception):
    def __init__(self, message: str, status: int = 0):
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass
class Client:
    endpoint: str
    project: str
    key: str | None = None

    def call(self, method: str, path: str, body: dict | None = None, timeout: float = 60) -> dict:
        data = None if body is None else json.dumps(body).encode()
        headers = {"x-appwrite-project": self.project, "content-type": "application/json",
                   "x-appwrite-response-format": "1.9.0", "x-sdk-name": "emulator-cli"}
        if self.key:
            headers["x-appwrite-key"] = self.key
        import urllib.error  # here: `dev` and `serve` import this module and never call a server
        import urllib.request

        request = urllib.request.Request(self.endpoint.rstrip("/") + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                message = json.loads(raw).get("message") or raw.decode("utf-8", "replace")
            except ValueError:
                message = raw.decode("utf-8", "replace")
            raise ClientError(f"{exc.code}: {message}", exc.code)
        except (urllib.error.URLError, OSError) as exc:
            raise ClientError(f"Cannot reach the emulator at {self.endpoint}: {getattr(exc, 'reason', exc)}. "
                              f"Is `python -m emulator dev` (or `serve`) running? Use --endpoint to point elsewhere.")
        return json.loads(raw) if raw.strip() else {}

    def wait_execution(self, function_id: str, execution_id: str, timeout: float = 120) -> dict:
        deadline = time.monotonic() + timeout
        delay = 0.05
        while True:
            doc = self.call("GET", f"/functions/{function_id}/executions/{execution_id}")
            if doc.get("status") in ("completed", "failed") or time.monotonic() > deadline:
                return doc
            time.sleep(delay)
            delay = min(delay * 1.5, 0.5)


def default_project() -> str:
    config = find_config(Path.cwd())
    if config is not None:
        try:
            return load_project(config).project_id
        except ProjectError:
            pass
    return DEFAULT_PROJECT


def client_options(fn):
    fn = click.option("--key", envvar="APPWRITE_API_KEY", default=None,
                      help="API key, when the emulator runs with --api-key.")(fn)
    fn = click.option("--project", envvar="APPWRITE_PROJECT_ID", default=None,
                      help="Project id [default: projectId of the nearest appwrite.config.json, else 'default'].")(fn)
    fn = click.option("--endpoint", envvar="APPWRITE_EMULATOR_ENDPOINT", default=DEFAULT_ENDPOINT, show_default=True,
                      help="The emulator's API endpoint.")(fn)
    return fn


def execution_lines(doc: dict, body: str | None = None) -> list[tuple[str, str]]:
    """(text, style) lines describing an execution; style is '', 'log', 'error', 'ok', 'bad'."""
    ok = doc.get("status") == "completed"
    head = (f"{doc.get('status', '?')} {doc.get('responseStatusCode', 0)}  {doc.get('requestMethod', '')} "
            f"{doc.get('requestPath', '')}  {float(doc.get('duration') or 0) * 1000:.0f} ms  "
            f"trigger={doc.get('trigger', '')}  execution={doc.get('$id', '')}")
    lines = [(head, "ok" if ok else "bad")]
    if body is not None and body != "":
        lines += [("response:", "")] + [("  " + ln, "") for ln in body.splitlines()[:MAX_LOG_LINES]]
    for key, style in (("logs", "log"), ("errors", "error")):
        text = (doc.get(key) or "").rstrip("\n")
        if text:
            all_lines = text.splitlines()
            lines += [(f"{key}:", style)] + [("  " + ln, style) for ln in all_lines[:MAX_LOG_LINES]]
            if len(all_lines) > MAX_LOG_LINES:
                lines.append((f"  ... {len(all_lines) - MAX_LOG_LINES} more lines", style))
    return lines


STYLES = {"ok": {"fg": "green"}, "bad": {"fg": "red", "bold": True}, "log": {"dim": True}, "error": {"fg": "red"}}


def echo_lines(lines: list[tuple[str, str]], indent: str = "") -> None:
    for text, style in lines:
        click.secho(indent + text, **STYLES.get(style, {}))


def parse_headers(pairs: tuple[str, ...]) -> dict[str, str]:
    headers = {}
    for pair in pairs:
        key, sep, value = pair.partition(":")
        if not sep or not key.strip():
            raise click.BadParameter(f"'{pair}' is not key:value", param_hint="--header")
        headers[key.strip()] = value.strip()
    return headers


def run_exec(client: Client, function_id: str, body: str, path: str, method: str, headers: dict,
             is_async: bool) -> int:
    payload = {"body": body, "path": path, "method": method, "headers": headers, "async": is_async}
    doc = client.call("POST", f"/functions/{function_id}/executions", payload)
    response_body = doc.get("responseBody") if not is_async else None
    if is_async:
        click.echo(f"Queued execution {doc.get('$id')}; waiting for it ...")
        doc = client.wait_execution(function_id, doc["$id"])
    echo_lines(execution_lines(doc, response_body))
    return 0 if doc.get("status") == "completed" else 1


def run_trigger(client: Client, event: str, data, wait: bool) -> int:
    result = client.call("POST", "/emulator/events", {"event": event, "data": data})
    queued, skipped = result.get("executions", []), result.get("skipped", [])
    for item in skipped:
        click.secho(f"{item['functionId']}: not delivered ({item['reason']})", fg="yellow")
    if not queued:
        click.secho(f"No function with an active deployment is subscribed to {event}.", fg="yellow")
        return 1
    status = 0
    for item in queued:
        click.echo(f"{event} -> {item['functionId']} (execution {item['executionId']})")
        if wait:
            doc = client.wait_execution(item["functionId"], item["executionId"])
            echo_lines(execution_lines(doc), indent="  ")
            status |= 0 if doc.get("status") == "completed" else 1
    return status
