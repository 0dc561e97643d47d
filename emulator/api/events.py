"""HTTP handler for the emulator's own event endpoint: `POST /v1/emulator/events` `{event, data}`.

Not an Appwrite route (Appwrite raises events itself); it lets a developer or a test deliver one.
"""
from __future__ import annotations

from aiohttp import web

from ..errors import AppwriteError
from ..params import read_params
from ..services import events as svc
from .common import json_response, project, state


async def create_event(request: web.Request) -> web.Response:
    params, _ = await read_params(request)
    event = params.get("event")
    if not isinstance(event, str):
        raise AppwriteError("general_argument_invalid", 'Param "event" is required: an Appwrite event name.')
    result = await svc.deliver_event(state(request), project(request), event, params.get("data"))
    return json_response(result, 202)
