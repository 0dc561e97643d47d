"""HTTP handlers for executions."""
from __future__ import annotations

from aiohttp import web

from ..models import execution_model, list_model
from ..services import executions as svc
from .common import fmt, json_response, no_content, params, project, state


def _caller(request: web.Request) -> svc.Caller:
    peer = request.remote or "127.0.0.1"
    return svc.Caller(is_key=bool(request.headers.get("x-appwrite-key")), client_ip=peer)


async def list_executions(request: web.Request) -> web.Response:
    p = await params(request, "listExecutions")
    total, docs = svc.list_executions(state(request), project(request), request.match_info["functionId"], p)
    return json_response(list_model("executions", total, [execution_model(d, fmt(request)) for d in docs]))


async def create_execution(request: web.Request) -> web.Response:
    p = await params(request, "createExecution")
    doc, response = await svc.create_execution(state(request), project(request), request.match_info["functionId"],
                                               p, _caller(request))
    model = execution_model(doc, fmt(request))
    if response is None:
        return json_response(model, 202)
    # Only the synchronous answer carries the body and every header the function set.
    model["responseBody"] = response["body"].decode("utf-8", "replace")
    model["responseHeaders"] = [{"name": k, "value": v} for k, v in response["headers"]]
    return json_response(model, 201)


async def get_execution(request: web.Request) -> web.Response:
    doc = svc.get_execution(state(request), project(request), request.match_info["functionId"],
                            request.match_info["executionId"])
    return json_response(execution_model(doc, fmt(request)))


async def delete_execution(request: web.Request) -> web.Response:
    svc.delete_execution(state(request), project(request), request.match_info["functionId"],
                         request.match_info["executionId"])
    return no_content()
