"""Executions: synchronous, asynchronous, scheduled (`scheduledAt`) and cron-triggered runs.

Where executions are stored: the `executions` collection, one document per run. A synchronous
run answers with the function's body and all its headers, but, as in Appwrite, only the
execution record (no body, filtered headers) is stored. Asynchronous and scheduled runs keep
their request in the document until they run, so they survive a restart.
"""
from __future__ import annotations

import asyncio
import base64
import json
import logging
import re
import time
import urllib.parse
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from ..errors import AppwriteError
from ..executors.base import ExecutionRequest, ExecutorError, RuntimeSpec
from ..ids import is_utf8, now_iso, parse_iso, to_iso, unique_id
from ..roles import guest_refusal, guests_may_execute
from .console import issue_ephemeral_key
from .functions import check_runtime, due_schedules, function_env, get_function, specification_of
from .listing import list_documents
from .state import State, deployment_key

log = logging.getLogger("emulator.executions")

REQUEST_HEADERS_KEPT = {"content-type", "agent", "content-length", "host", "x-appwrite-client-ip"}
RESPONSE_HEADERS_KEPT = {"content-type", "content-length"}
HEADER_KEY = re.compile(r"^[A-Za-z0-9-]+$")
HEADERS_INVALID = ('Invalid headers: Alphanumeric characters or hyphens only, cannot start with "x-appwrite", '
                   "maximum 100 keys, and total size 16384.")
LOG_LIMIT = 1_000_000


@dataclass
class Caller:
    """Who asked for the execution, as far as the function's headers are concerned."""
    is_key: bool = True
    client_ip: str = ""  # the HTTP client's address; none for cron- and event-triggered runs
    guest: bool = False  # no credential: Appwrite's guests role, held to the function's `execute` (roles.py)


def get_execution(state: State, project: str, function_id: str, execution_id: str) -> dict:
    get_function(state, project, function_id)
    doc = state.store.get("executions", project, function_id, execution_id)
    if doc is None:
        raise AppwriteError("execution_not_found")
    return doc


def list_executions(state: State, project: str, function_id: str, params: dict) -> tuple[int, list[dict]]:
    get_function(state, project, function_id)
    return list_documents(state.store, "executions", project, function_id, params)


def delete_execution(state: State, project: str, function_id: str, execution_id: str) -> None:
    doc = get_execution(state, project, function_id, execution_id)
    if doc.get("status") not in ("completed", "failed", "scheduled"):
        raise AppwriteError("execution_in_progress")
    state.store.delete("executions", project, function_id, execution_id)


def parse_headers(raw) -> dict[str, str]:
    if raw is None or raw == "":
        return {}
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raise AppwriteError("general_argument_invalid", HEADERS_INVALID)
    if not isinstance(raw, dict) or len(raw) > 100:
        raise AppwriteError("general_argument_invalid", HEADERS_INVALID)
    size = 0
    headers = {}
    for key, value in raw.items():
        value = value if isinstance(value, str) else json.dumps(value) if isinstance(value, (dict, list)) else str(value)
        size += len(key) + len(value)
        # A string `headers` is JSON decoded here, so a `\ud800` escape in it is only seen now.
        if not HEADER_KEY.fullmatch(key) or key.lower().startswith("x-appwrite") or not is_utf8(value):
            raise AppwriteError("general_argument_invalid", HEADERS_INVALID)
        headers[key.lower()] = value
    if size >= 16384:
        raise AppwriteError("general_argument_invalid", HEADERS_INVALID)
    return headers


def truncate_output(text: str, label: str) -> str:
    if len(text) <= LOG_LIMIT:
        return text
    prefix = f"[WARNING] {label} truncated. The output exceeded {LOG_LIMIT} characters.\n"
    return prefix + text[-(LOG_LIMIT - len(prefix)):]


def _parse_scheduled_at(value: str, min_delay: float) -> datetime:
    when = parse_iso(value)
    try:
        # In UTC, as it is stored and compared: 9999-12-31T23:59:59-14:00 is past datetime's range.
        when = when.astimezone(timezone.utc) if when is not None else None
    except OverflowError:
        when = None
    # Appwrite wants minute precision (no seconds, no milliseconds); a server started with a shorter
    # --min-schedule-delay (tests, quick local loops) takes seconds too.
    imprecise = when is not None and min_delay >= 60 and (when.second or when.microsecond)
    if when is None or imprecise or when < datetime.now(timezone.utc) + timedelta(seconds=min_delay) - timedelta(seconds=1):
        raise AppwriteError("general_bad_request",
                            "Execution schedule must be a valid date, and at least "
                            f"{int(min_delay)} seconds from now" if min_delay != 60 else
                            "Execution schedule must be a valid date, and at least 1 minute from now")
    return when


async def create_execution(state: State, project: str, function_id: str, params: dict,
                           caller: Caller) -> tuple[dict, dict | None]:
    """Returns (execution document, sync response or None). The sync response carries the body
    and every header, which are never stored."""
    body = params.get("body")
    if body is None:
        body = params.get("data") or ""
    if isinstance(body, str):
        body = body.encode()
    is_async = bool(params.get("async", False))
    scheduled_at = params.get("scheduledAt")
    when = None
    if scheduled_at:
        if not is_async:
            raise AppwriteError("general_bad_request",
                                "Scheduled executions must run asynchronously. Set scheduledAt to a future date, or set async to true.")
        when = _parse_scheduled_at(scheduled_at, state.settings.min_schedule_delay)
    user_headers = parse_headers(params.get("headers"))
    function, deployment = executable(state, project, function_id, caller)

    doc = new_execution(function, deployment["$id"],
                        trigger="schedule" if when else "http", method=params.get("method") or "POST",
                        path=params.get("path") or "/", user_headers=user_headers, caller=caller)
    if when:
        doc["status"] = "scheduled"
        doc["scheduledAt"] = scheduled_at
        doc["_scheduledAt"] = to_iso(when)
    if is_async:
        doc["_request"] = {"body": base64.b64encode(body).decode(), "headers": user_headers, "ip": caller.client_ip}
        state.store.insert("executions", project, function_id, doc)
        if not when:
            await state.runner.enqueue(project, function_id, doc["$id"])
        return doc, None

    return doc, await run_sync(state, project, function, deployment, doc, body, user_headers, caller)


def executable(state: State, project: str, function_id: str, caller: Caller) -> tuple[dict, dict]:
    """The function and its active deployment, if `caller` may execute them now: Appwrite's checks,
    in its order (a guest learns it may not execute only after the deployment checks)."""
    function = get_function(state, project, function_id)
    if not function.get("enabled", True) and not caller.is_key:
        raise AppwriteError("function_not_found")
    check_runtime(function["runtime"])
    deployment = state.store.get("deployments", project, function_id, function.get("deploymentId") or "")
    if deployment is None:
        raise AppwriteError("deployment_not_found",
                            "Deployment not found. Create a deployment before trying to execute a function")
    if deployment.get("status") != "ready":
        raise AppwriteError("build_not_ready")
    if caller.guest and not guests_may_execute(function.get("execute")):
        raise AppwriteError("user_unauthorized", guest_refusal(function.get("execute") or []))
    return function, deployment


async def run_sync(state: State, project: str, function: dict, deployment: dict, doc: dict, body: bytes,
                   headers: dict, caller: Caller) -> dict:
    """Run a synchronous execution within Appwrite's 30 s cap and store its record; the response
    (body and every header) for the caller. A create-execution call and a function domain's request alike."""
    doc["status"] = "processing"  # Appwrite's status for a synchronous execution while it runs
    record = SyncRecord(state, project, function["$id"], doc)
    try:
        async with asyncio.timeout(state.settings.sync_timeout):  # no extra task, unlike wait_for
            return await run_execution(state, project, function, deployment, doc, body, headers,
                                       caller.client_ip, save=record.save)
    except asyncio.TimeoutError:
        doc.update(status="failed", responseStatusCode=500, duration=state.settings.sync_timeout,
                   errors="Synchronous function execution timed out. Use asynchronous execution instead, "
                          "or ensure the execution duration doesn't exceed 30 seconds.")
        record.save()
        publish_execution(state, project, function, doc)
        raise AppwriteError("function_synchronous_timeout")


class SyncRecord:
    """The stored record of a synchronous execution, written once, when it ends: a write and its
    commit cost the server about as much as the rest of a trivial execution. An execution still
    running after `PROVISIONAL_AFTER` seconds is stored as it stands first, so a crash
    mid-execution leaves a record (failed as interrupted at the next start), not nothing."""

    PROVISIONAL_AFTER = 0.1

    def __init__(self, state: State, project: str, function_id: str, doc: dict):
        self.store, self.key, self.doc = state.store, (project, function_id), doc
        self.stored = False
        self._timer = asyncio.get_running_loop().call_later(self.PROVISIONAL_AFTER, self._provisional)

    def _provisional(self) -> None:
        if not self.stored:
            self.stored = True
            self.store.insert("executions", *self.key, dict(self.doc))

    def save(self) -> None:
        self._timer.cancel()
        if self.stored:
            self.store.update("executions", *self.key, self.doc)
        else:
            self.stored = True
            self.doc["$updatedAt"] = now_iso()
            self.store.insert("executions", *self.key, self.doc)


def new_execution(function: dict, deployment_id: str, *, trigger: str, method: str, path: str, user_headers: dict,
                  caller: Caller) -> dict:
    now = now_iso()
    kept = [{"name": k, "value": v} for k, v in user_headers.items() if k.lower() in REQUEST_HEADERS_KEPT]
    if caller.client_ip:  # only an HTTP-created execution has a client; cron and events have none
        kept.append({"name": "x-appwrite-client-ip", "value": caller.client_ip})
    return {
        "$id": unique_id(), "$createdAt": now, "$updatedAt": now, "$permissions": [],
        "resourceId": function["$id"], "resourceType": "functions", "deploymentId": deployment_id,
        "trigger": trigger, "status": "waiting", "requestMethod": method, "requestPath": path,
        "requestHeaders": kept, "responseStatusCode": 0, "responseBody": "", "responseHeaders": [],
        "logs": "", "errors": "", "duration": 0.0, "scheduledAt": None,
    }


# Characters a request-target may hold as they are (RFC 3986 unreserved, sub-delims, `:@/?%`, and `#`,
# which the adapters drop as curl does). Anything else (a space, a control char, non-ASCII) is
# percent-encoded as UTF-8, so the runtime always gets a well-formed request line.
_TARGET_SAFE = "/?#[]@!$&'()*+,;=:%-._~"
_STRAY_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")  # a `%` that starts no escape is a literal one


def request_target(path: str) -> str:
    """The execution's `path` as the runtime is asked for it: `/a b` becomes `/a%20b`, as the
    path a browser or curl would send. The stored `requestPath` stays as the client gave it."""
    target = urllib.parse.quote(path or "/", safe=_TARGET_SAFE, errors="replace")
    return _STRAY_PERCENT.sub("%25", target) if "%" in target else target


def runtime_spec(state: State, project: str, function: dict, deployment: dict) -> RuntimeSpec:
    """What an instance of this deployment is started with. Asked on every execution, so it is
    kept until a function, deployment or variable is written (the store's write counters)."""
    store = state.store
    stamp = (store.versions["functions"], store.versions["deployments"], store.versions["variables"])
    key = (project, function["$id"], deployment["$id"])
    cached = state.runtime_specs.get(key)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    ddir = state.deployment_dir(project, function["$id"], deployment["$id"])
    cpus, memory = specification_of(function)
    spec = RuntimeSpec(
        deployment_key=deployment_key(project, deployment["$id"]), runtime=function["runtime"],
        version=function.get("version", "v5"), entrypoint=deployment.get("entrypoint", ""),
        build_dir=ddir / "build", output_archive=ddir / "output.tar.gz",
        env=function_env(state, project, function, deployment["$id"]), cpus=cpus, memory=memory)
    if len(state.runtime_specs) > 1000:
        state.runtime_specs.clear()
    state.runtime_specs[key] = (stamp, spec)
    return spec


async def run_execution(state: State, project: str, function: dict, deployment: dict, doc: dict, body: bytes,
                        user_headers: dict, client_ip: str, event: str = "", save=None) -> dict:
    """Run the execution on the function's executor, store the outcome (`save()`, by default an
    update of the stored document), return the sync response."""
    headers = dict(user_headers)
    headers.update({
        "x-appwrite-trigger": doc["trigger"], "x-appwrite-event": event, "x-appwrite-user-id": "",
        "x-appwrite-user-jwt": "", "x-appwrite-country-code": "", "x-appwrite-continent-code": "",
        "x-appwrite-continent-eu": "false", "x-appwrite-client-ip": client_ip,
        "x-appwrite-execution-id": doc["$id"],
        # Valid for this project only, a minute beyond the function's timeout.
        "x-appwrite-key": issue_ephemeral_key(state, project, function.get("timeout", 15) + 60),
    })
    request = ExecutionRequest(method=doc["requestMethod"], path=request_target(doc["requestPath"]), headers=headers, body=body,
                               timeout=function.get("timeout", 15), logging=function.get("logging", True))
    started = time.monotonic()
    response = {"body": b"", "headers": []}
    try:
        result = await state.executor_for(function).execute(runtime_spec(state, project, function, deployment), request)
        doc["responseStatusCode"] = result.status_code
        doc["status"] = "failed" if result.status_code >= 500 else "completed"
        doc["logs"] = truncate_output(result.logs, "Logs")
        doc["errors"] = truncate_output(result.errors, "Errors")
        doc["duration"] = round(result.duration, 6)
        response = {"body": result.body, "headers": result.headers}
    except ExecutorError as exc:
        doc.update(status="failed", responseStatusCode=500, logs="",
                   errors=truncate_output(f"{exc.message}\nError Code: {exc.code}", "Errors"),
                   duration=round(time.monotonic() - started, 6))
    except Exception as exc:  # an emulator bug must still leave a finished record, never `waiting`
        log.exception("execution %s failed unexpectedly", doc["$id"])
        doc.update(status="failed", responseStatusCode=500, logs="",
                   errors=f"Internal emulator error: {type(exc).__name__}: {exc}\nError Code: 500",
                   duration=round(time.monotonic() - started, 6))
    if not function.get("logging", True):
        doc["logs"] = doc["errors"] = ""
    doc["responseHeaders"] = [{"name": k, "value": v} for k, v in response["headers"] if k in RESPONSE_HEADERS_KEPT]
    doc.pop("_request", None)
    if save is not None:
        save()
    else:
        state.store.update("executions", project, function["$id"], doc)
    publish_execution(state, project, function, doc)
    return response


def publish_execution(state: State, project: str, function: dict, doc: dict) -> None:
    """Hand a finished execution to the runner's listeners (serve's access log, dev's console)
    once this loop step is done: a synchronous answer leaves before its line is printed."""
    listeners = getattr(state.runner, "listeners", ())
    if listeners:
        asyncio.get_running_loop().call_soon(_publish, list(listeners), project, function, dict(doc))


def _publish(listeners: list, project: str, function: dict, doc: dict) -> None:
    for listener in listeners:
        try:
            listener(project, function, doc)
        except Exception:  # an observer must never fail the execution
            log.exception("execution listener failed")


class ExecutionRunner:
    """Runs asynchronous executions from a bounded queue and fires schedules.

    The queue holds only ids; the request lives in the stored document, so nothing queued is
    lost when the emulator stops. A full queue makes `enqueue` wait (backpressure), never drop.
    """

    def __init__(self, state: State, workers: int = 4, queue_size: int = 1000, tick: float = 1.0):
        self.state = state
        self.queue: asyncio.Queue[tuple[str, str, str]] = asyncio.Queue(maxsize=queue_size)
        self.tick = tick
        self.listeners: list = []  # callables(project, function, execution doc) after every run
        self.tasks = [asyncio.ensure_future(self._work()) for _ in range(max(1, workers))]
        self.tasks.append(asyncio.ensure_future(self._schedule_loop()))

    async def enqueue(self, project: str, function_id: str, execution_id: str) -> None:
        await self.queue.put((project, function_id, execution_id))

    async def recover(self) -> None:
        """After a restart: queued runs are queued again, interrupted ones are failed."""
        store = self.state.store
        for project, function_id, doc in store.unfinished_executions():  # once, at start
            if doc["status"] == "waiting" and "_request" in doc:
                await self.enqueue(project, function_id, doc["$id"])
            else:
                doc.update(status="failed", responseStatusCode=500,
                           errors="Execution interrupted: the emulator stopped while it was running.")
                doc.pop("_request", None)
                store.update("executions", project, function_id, doc)

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    async def _work(self) -> None:
        while True:
            project, function_id, execution_id = await self.queue.get()
            try:
                await self._run(project, function_id, execution_id)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("async execution %s failed unexpectedly", execution_id)
            finally:
                self.queue.task_done()

    async def _run(self, project: str, function_id: str, execution_id: str) -> None:
        store = self.state.store
        doc = store.get("executions", project, function_id, execution_id)
        function = store.get("functions", project, "", function_id)
        if doc is None or doc.get("status") not in ("waiting", "scheduled"):
            return
        request = doc.get("_request") or {}
        deployment = store.get("deployments", project, function_id, (function or {}).get("deploymentId") or "")
        if function is None or deployment is None or deployment.get("status") != "ready":
            doc.update(status="failed", responseStatusCode=500,
                       errors="Deployment not found. Create a deployment before trying to execute a function")
            doc.pop("_request", None)
            store.update("executions", project, function_id, doc)
            return
        doc["status"] = "processing"
        doc["deploymentId"] = deployment["$id"]
        store.update("executions", project, function_id, doc)
        await run_execution(self.state, project, function, deployment, doc, base64.b64decode(request.get("body", "")),
                            request.get("headers", {}), request.get("ip", ""), request.get("event", ""))

    async def _schedule_loop(self) -> None:
        while True:
            await asyncio.sleep(self.tick)
            try:
                await self.fire_due(datetime.now(timezone.utc))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("scheduler tick failed")

    async def fire_due(self, now: datetime) -> None:
        store = self.state.store
        for project, function_id, doc in store.due_executions(to_iso(now)):
            doc["status"] = "waiting"
            store.update("executions", project, function_id, doc)
            await self.enqueue(project, function_id, doc["$id"])
        for project, function in due_schedules(self.state, now):
            if not function.get("deploymentId"):
                continue
            doc = new_execution(function, function["deploymentId"], trigger="schedule",
                                method="POST", path="/", user_headers={}, caller=Caller())
            doc["_request"] = {"body": "", "headers": {}, "ip": ""}
            store.insert("executions", project, function["$id"], doc)
            await self.enqueue(project, function["$id"], doc["$id"])
