"""Helpers every handler uses: the state, the project, parameters, and Appwrite-shaped responses."""
from __future__ import annotations

import json

from aiohttp import web

from ..models import parse_version
from ..params import read_params
from ..schemas import validate
from ..services.state import State

STATE_KEY = web.AppKey("state", State)
JSON_TYPE = "application/json; charset=UTF-8"


def state(request: web.Request) -> State:
    return request.app[STATE_KEY]


def project(request: web.Request) -> str:
    return request.headers.get("x-appwrite-project") or "console"


def fmt(request: web.Request) -> tuple:
    return parse_version(request.headers.get("x-appwrite-response-format"))


async def params(request: web.Request, operation: str) -> dict:
    if "params" not in request:
        request["params"], request["files"] = await read_params(request)
    return validate(operation, request["params"])


def files(request: web.Request) -> dict:
    return request.get("files", {})


def json_response(data, status: int = 200, headers: dict | None = None) -> web.Response:
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return web.Response(body=body.encode(), status=status, headers={"Content-Type": JSON_TYPE, **(headers or {})})


def no_content() -> web.Response:
    # The Python SDK reads Content-Type on every response and parses JSON ones: a 204 must say
    # it is not JSON (see shared/reference/appwrite-api.md §1).
    return web.Response(status=204, headers={"Content-Type": "text/html; charset=UTF-8"})
