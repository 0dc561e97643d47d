"""HTTP handlers for functions, runtimes and specifications."""
from __future__ import annotations

import asyncio

from aiohttp import web

from ..serializers import function_model, list_model
from ..services import functions as svc
from ..specifications import SPECIFICATIONS
from .common import json_response, no_content, params, path_id, project, state


def _model(request, doc: dict) -> dict:
    variables = svc.function_variables(state(request), project(request), doc["$id"])
    return function_model(doc, variables)


async def list_functions(request: web.Request) -> web.Response:
    p = await params(request, "listFunctions")
    total, docs = svc.list_functions(state(request), project(request), p)
    return json_response(list_model("functions", total, [_model(request, d) for d in docs]))


async def create_function(request: web.Request) -> web.Response:
    p = await params(request, "createFunction")
    doc = svc.create_function(state(request), project(request), p)
    return json_response(_model(request, doc), 201)


async def get_function(request: web.Request) -> web.Response:
    doc = svc.get_function(state(request), project(request), path_id(request, "functionId"))
    return json_response(_model(request, doc))


async def update_function(request: web.Request) -> web.Response:
    p = await params(request, "updateFunction")
    doc = svc.update_function(state(request), project(request), path_id(request, "functionId"), p)
    return json_response(_model(request, doc))


async def delete_function(request: web.Request) -> web.Response:
    await svc.delete_function(state(request), project(request), path_id(request, "functionId"))
    return no_content()


async def update_function_deployment(request: web.Request) -> web.Response:
    p = await params(request, "updateFunctionDeployment")
    doc = await svc.activate_deployment(state(request), project(request), path_id(request, "functionId"),
                                        p["deploymentId"])
    return json_response(_model(request, doc))


async def update_deployment_legacy(request: web.Request) -> web.Response:
    """Appwrite 0.15-1.6: `PATCH /functions/{id}/deployments/{deploymentId}` activates it."""
    doc = await svc.activate_deployment(state(request), project(request), path_id(request, "functionId"),
                                        path_id(request, "deploymentId"))
    return json_response(_model(request, doc))


async def list_runtimes(request: web.Request) -> web.Response:
    # Probing toolchains runs binaries: off the event loop.
    runtimes = await asyncio.to_thread(svc.runtimes_catalog, state(request).settings.toolchains)
    return json_response(list_model("runtimes", len(runtimes), runtimes))


async def list_specifications(request: web.Request) -> web.Response:
    specs = [{"memory": memory, "cpus": cpus, "enabled": True, "slug": slug} for slug, cpus, memory in SPECIFICATIONS]
    return json_response(list_model("specifications", len(specs), specs))
