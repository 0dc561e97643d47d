"""HTTP handlers for function variables."""
from __future__ import annotations

from aiohttp import web

from ..serializers import list_model, variable_model
from ..services import variables as svc
from .common import json_response, no_content, params, path_id, project, state


def _ids(request):
    return state(request), project(request), path_id(request, "functionId")


async def list_variables(request: web.Request) -> web.Response:
    p = await params(request, "listVariables")
    total, docs = svc.list_variables(*_ids(request), p)
    return json_response(list_model("variables", total, [variable_model(d) for d in docs]))


async def create_variable(request: web.Request) -> web.Response:
    p = await params(request, "createVariable")
    return json_response(variable_model(svc.create_variable(*_ids(request), p)), 201)


async def get_variable(request: web.Request) -> web.Response:
    return json_response(variable_model(svc.get_variable(*_ids(request), path_id(request, "variableId"))))


async def update_variable(request: web.Request) -> web.Response:
    p = await params(request, "updateVariable")
    doc = svc.update_variable(*_ids(request), path_id(request, "variableId"), p)
    return json_response(variable_model(doc))


async def delete_variable(request: web.Request) -> web.Response:
    svc.delete_variable(*_ids(request), path_id(request, "variableId"))
    return no_content()
