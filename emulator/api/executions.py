"""HTTP handlers for executions."""
from __future__ import annotations

import asyncio
import json

from aiohttp import web

from ..serializers import execution_model, list_model
from ..services import executions as svc
from aiohttp import MultipartWriter

from .common import files, fmt, json_response, no_content, params, path_id, project, state, utf8


def _caller(request: web.Request) -> svc.Caller:
    peer = request.remote or "127.0.0.1"
    return svc.Caller(is_key=bool(request.headers.get("x-appwrite-key")), client_ip=peer)


async def list_executions(request: web.Request) -> web.Response:
    p = await params(request, "listExecutions")
    # Executions pile up without bound and a filter may scan them all: list them on a worker thread
    # (with its own read connection) so a slow list never stalls other requests.
    total, docs = await asyncio.to_thread(svc.list_executions, state(request), project(request),
                                          path_id(request, "functionId"), p)
    return json_response(list_model("executions", total, [execution_model(d, fmt(request)) for d in docs]))


async def create_execution(request: web.Request) -> web.Response:
    p = await params(request, "createExecution")
    body_file = files(request).get("body")
    if body_file is not None:  # a multipart file part carries a binary body byte for byte
        p["body"] = body_file.data
    doc, response = await svc.create_execution(state(request), project(request), path_id(request, "functionId"),
                                               p, _caller(request))
    model = execution_model(doc, fmt(request))
    if response is None:
        return json_response(model, 202)
    # Only the synchronous answer carries the body and every header the function set.
    # Appwrite adds the execution's id to the answer's headers (replacing one the function set).
    model["responseHeaders"] = [{"name": k, "value": v} for k, v in response["headers"]
                                if k.lower() != "x-appwrite-execution-id"]
    model["responseHeaders"].append({"name": "x-appwrite-execution-id", "value": doc["$id"]})
    if request.headers.get("accept", "").startswith("multipart/"):
        return _multipart(model, response["body"], 201)
    model["responseBody"] = response["body"].decode("utf-8", "replace")
    return json_response(model, 201)


def _multipart(model: dict, body: bytes, status: int) -> web.Response:
    """Appwrite answers `accept: multipart/form-data` with one part per field, the response body
    as raw bytes: the only way a binary response reaches a client intact."""
    writer = MultipartWriter("form-data")
    for key, value in model.items():
        if key == "responseBody":
            part = writer.append(body, {"Content-Type": "application/octet-stream"})
        elif isinstance(value, str):
            part = writer.append(utf8(value), {"Content-Type": "text/plain; charset=utf-8"})
        else:
            part = writer.append(json.dumps(value), {"Content-Type": "application/json"})
        part.set_content_disposition("form-data", name=key)
    if "responseBody" not in model:
        writer.append(body, {"Content-Type": "application/octet-stream"}).set_content_disposition(
            "form-data", name="responseBody")
    return web.Response(body=writer, status=status)


async def get_execution(request: web.Request) -> web.Response:
    doc = svc.get_execution(state(request), project(request), path_id(request, "functionId"),
                            path_id(request, "executionId"))
    return json_response(execution_model(doc, fmt(request)))


async def delete_execution(request: web.Request) -> web.Response:
    svc.delete_execution(state(request), project(request), path_id(request, "functionId"),
                         path_id(request, "executionId"))
    return no_content()
