"""HTTP handlers for executions."""
from __future__ import annotations

import asyncio
import json

from aiohttp import web

from ..errors import AppwriteError, invalid_param
from ..ids import check_uid, unique_id
from ..middlewares import GUEST, credential_for, missing_scopes
from ..params import checked, json_params
from ..response_formats import Model
from ..schemas import EXECUTION_BODY_MAX, validate
from ..serializers import execution_model, list_model
from ..services import executions as svc
from ..services.state import State
from .common import (commit_follows, files, json_response, no_content, params, path_id, project, project_named,
                     state, utf8)
from .console import CREDENTIAL


def _caller(request: web.Request) -> svc.Caller:
    return _caller_of(request.headers.get("x-appwrite-key"), request.remote, request.get(CREDENTIAL))


def _caller_of(key: str | None, remote: str | None, credential: str | None) -> svc.Caller:
    return svc.Caller(is_key=bool(key), client_ip=remote or "127.0.0.1", guest=credential == GUEST)


async def list_executions(request: web.Request) -> web.Response:
    p = await params(request, "listExecutions")
    # Executions pile up without bound and a filter may scan them all: list them on a worker thread
    # (with its own read connection) so a slow list never stalls other requests.
    total, docs = await asyncio.to_thread(svc.list_executions, state(request), project(request),
                                          path_id(request, "functionId"), p)
    return json_response(list_model("executions", total, [execution_model(d) for d in docs]))


async def create_execution(request: web.Request) -> web.Response:
    caller = _caller(request)
    function_id = path_id(request, "functionId")
    if caller.guest:  # may this guest execute at all? Asked before its body is read (middlewares.auth_middleware)
        svc.executable(state(request), project(request), function_id, caller)
    p = await params(request, "createExecution")
    body_file = files(request).get("body")
    if body_file is not None:  # a file part, or a field that is not text: the body byte for byte
        if len(body_file.data) > EXECUTION_BODY_MAX:  # the limit the schema holds a text body to
            raise invalid_param("body", f"Value must be a valid string and at least 0 chars and no longer than "
                                        f"{EXECUTION_BODY_MAX} chars")
        p["body"] = body_file.data
    multipart = wants_multipart(request.headers.get("accept", ""))
    status, model = await _execute(state(request), project(request), function_id, p, caller, multipart)
    if status == 202:
        return json_response(model, 202)
    commit_follows(request)
    return _multipart(model, 201) if multipart else json_response(model, 201)


async def create_execution_direct(st: State, headers: dict[str, str], function_id: str, raw_body: bytes,
                                  remote: str) -> tuple[int, Model]:
    """create_execution for a request its connection answers itself (emulator/connection.py): what
    auth_middleware and the handler above do, in their order, for a JSON body and none of the
    headers the other middlewares act on. `headers`: lower-case names, one value each."""
    key = headers.get("x-appwrite-key", "")
    credential = credential_for(st, key, lambda: project_named(headers.get("x-appwrite-project")), lambda: None)
    if credential is None and not key:
        credential = GUEST  # this route is open to Appwrite's guests role (app.GUESTS)
    if credential is None:
        raise missing_scopes(True)
    caller = _caller_of(key, remote, credential)
    function_id = check_uid("functionId", function_id)
    if caller.guest:
        svc.executable(st, project_named(headers.get("x-appwrite-project")), function_id, caller)
    p = validate("createExecution", checked(json_params(raw_body)))
    return await _execute(st, project_named(headers.get("x-appwrite-project")), function_id, p, caller, False)


async def _execute(st: State, project_id: str, function_id: str, p: dict, caller: svc.Caller,
                   multipart: bool) -> tuple[int, Model]:
    """(201, the finished execution) or (202, the accepted one), as the caller may see it."""
    doc, response = await svc.create_execution(st, project_id, function_id, p, caller)
    model = execution_model(doc)
    if caller.guest:  # `logs` and `errors` are sensitive in Appwrite's model: blank unless a key or the console asks
        model["logs"] = model["errors"] = ""
    if response is None:
        return 202, model
    # Only the synchronous answer carries the body and every header the function set.
    # Appwrite adds the execution's id to the answer's headers (replacing one the function set).
    model["responseHeaders"] = [{"name": k, "value": v} for k, v in response["headers"]
                                if k.lower() != "x-appwrite-execution-id"]
    model["responseHeaders"].append({"name": "x-appwrite-execution-id", "value": doc["$id"]})
    model["responseBody"] = response["body"]
    if not multipart:  # a multipart answer carries the bytes; JSON, their text
        try:
            model["responseBody"] = response["body"].decode("utf-8")
        except UnicodeDecodeError:
            # Appwrite's JSON encoder fails on bytes that are not UTF-8 (the record is stored all the same).
            raise AppwriteError("general_unknown",
                                "Failed to parse response: Malformed UTF-8 characters, possibly incorrectly encoded", 400)
    return 201, model


def wants_multipart(accept: str) -> bool:
    """Appwrite reads `Accept` as a `, `-separated list, first match wins; JSON unless it asks multipart."""
    for kind in accept.split(", "):
        if kind.startswith(("application/json", "application/*")):
            return False
        if kind.startswith(("multipart/form-data", "multipart/*")):
            return True
    return False


def _multipart_value(value) -> tuple[bytes, bool]:
    """(bytes, is JSON) of one model field as PHP writes it into a part: arrays as JSON, true as 1,
    false as 0, null as nothing."""
    if isinstance(value, bytes):
        return value, False
    if isinstance(value, (list, dict)):
        return utf8(json.dumps(value, separators=(",", ":"))), True
    if isinstance(value, bool):
        return (b"1" if value else b"0"), False
    if value is None:
        return b"", False
    return utf8(str(value)), False


def _multipart(model: dict, status: int) -> web.Response:
    """The execution as Appwrite's multipart answer (`accept: multipart/form-data`): one part per
    field, in the model's order, the response body as raw bytes, the only way a binary one
    arrives intact. Boundary and framing as Appwrite's BodyMultipart writes them."""
    boundary = "-" * 29 + unique_id()[:13]  # PHP's `uniqid()` after 29 dashes
    delimiter = b"--" + boundary.encode()
    chunks = [delimiter]
    for key, value in model.items():
        data, is_json = _multipart_value(value)
        head = f'\r\nContent-Disposition: form-data; name="{key}"'
        if is_json:
            head += "\r\nContent-Type: application/json"
        chunks += [head.encode(), b"\r\n\r\n", data, b"\r\n", delimiter]
    chunks.append(b"--\r\n")
    return web.Response(body=b"".join(chunks), status=status,
                        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})


async def get_execution(request: web.Request) -> web.Response:
    doc = svc.get_execution(state(request), project(request), path_id(request, "functionId"),
                            path_id(request, "executionId"))
    return json_response(execution_model(doc))


async def delete_execution(request: web.Request) -> web.Response:
    svc.delete_execution(state(request), project(request), path_id(request, "functionId"),
                         path_id(request, "executionId"))
    return no_content()
