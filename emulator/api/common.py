"""Helpers every handler uses: the state, the project, parameters, and Appwrite-shaped responses."""
from __future__ import annotations

import json
import re

from aiohttp import web

from ..errors import AppwriteError
from ..ids import check_uid, is_utf8, is_valid_id
from ..params import read_params
from ..response_formats import Model
from ..schemas import validate
from ..services.state import State

STATE_KEY = web.AppKey("state", State)
JSON_TYPE = "application/json; charset=UTF-8"


def state(request: web.Request) -> State:
    return request.app[STATE_KEY]


def project(request: web.Request) -> str:
    """The project id from `X-Appwrite-Project` (none: `console`). It names rows and folders, so an
    id Appwrite could not have is refused: as Appwrite, no such project (404); bytes that are not
    UTF-8 are a malformed request (400)."""
    return project_named(request.headers.get("x-appwrite-project"))


def project_named(value: str | None) -> str:
    """The project an `X-Appwrite-Project` value names (project() says how)."""
    value = value or "console"
    if not is_valid_id(value):
        if not is_utf8(value):
            raise AppwriteError("general_argument_invalid",
                                "Invalid `X-Appwrite-Project` header: the value is not valid UTF-8.")
        raise AppwriteError("project_not_found")
    return value


def path_id(request: web.Request, name: str) -> str:
    """An id from the URL path, checked with Appwrite's `UID` validator (400 if invalid)."""
    return check_uid(name, request.match_info[name])


# A request's parameters and uploaded files as read once (a handler may ask more than once).
PARAMS_KEY = web.RequestKey("params", dict)
FILES_KEY = web.RequestKey("files", dict)


async def params(request: web.Request, operation: str) -> dict:
    if PARAMS_KEY not in request:
        request[PARAMS_KEY], request[FILES_KEY] = await read_params(request)
    return validate(operation, request[PARAMS_KEY])


def files(request: web.Request) -> dict:
    return request.get(FILES_KEY, {})


# Set on a request whose answer may leave before the writes it made are committed: a synchronous
# execution, whose record is a log of what happened rather than something the caller asked to
# keep. Its commit still runs in the same loop step, before the server reads another request,
# so every later request (and every list on a worker thread) sees it; only a crash in those
# microseconds could lose it. Waiting for it cost a trivial execution a tenth of a millisecond.
COMMIT_FOLLOWS = web.RequestKey("commit_follows", bool)


def commit_follows(request: web.Request) -> None:
    request[COMMIT_FOLLOWS] = True


# The Model a JSON response was rendered from, kept on the response for the response-format
# middleware (response_formats.py), which reshapes it for the client's format.
MODEL_KEY = web.ResponseKey("appwrite_model", Model)


def json_body(data) -> bytes:
    return utf8(json.dumps(data, ensure_ascii=False, separators=(",", ":")))


def json_response(data, status: int = 200, headers: dict | None = None) -> web.Response:
    response = web.Response(body=json_body(data), status=status, headers={"Content-Type": JSON_TYPE, **(headers or {})})
    if isinstance(data, Model):
        response[MODEL_KEY] = data
    return response


_SURROGATE = re.compile("[\ud800-\udfff]")


def utf8(text: str) -> bytes:
    """`text` as UTF-8. A lone surrogate stored before they were refused becomes U+FFFD, so
    a row holding one never makes a list or get fail."""
    try:
        return text.encode()
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text).encode()


def no_content() -> web.Response:
    # The Python SDK reads Content-Type on every response and parses JSON ones: a 204 must say
    # it is not JSON (see docs/appwrite-api.md, "Responses").
    return web.Response(status=204, headers={"Content-Type": "text/html; charset=UTF-8"})
