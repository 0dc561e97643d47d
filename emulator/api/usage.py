"""HTTP handlers for the usage of functions."""
from __future__ import annotations

import asyncio

from aiohttp import web

from ..response_formats import Model
from ..services import usage as svc
from .common import json_response, params, path_id, project, state


async def get_function_usage(request: web.Request) -> web.Response:
    p = await params(request, "getFunctionUsage")
    function_id = path_id(request, "functionId")
    # Aggregates scan every execution of the function: on a worker thread, as lists are.
    usage = await asyncio.to_thread(svc.function_usage, state(request), project(request), function_id,
                                    p.get("range", svc.DEFAULT_RANGE))
    return json_response(Model("usageFunction", usage))


async def list_functions_usage(request: web.Request) -> web.Response:
    p = await params(request, "listFunctionsUsage")
    usage = await asyncio.to_thread(svc.functions_usage, state(request), project(request),
                                    p.get("range", svc.DEFAULT_RANGE))
    return json_response(Model("usageFunctions", usage))
