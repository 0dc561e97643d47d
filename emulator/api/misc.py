"""Endpoints outside /functions that clients call: health, ping, and what the Appwrite CLI needs."""
from __future__ import annotations

from aiohttp import web

from ..errors import APPWRITE_VERSION, AppwriteError
from .common import json_response, project


async def health_version(request: web.Request) -> web.Response:
    return json_response({"version": APPWRITE_VERSION})


async def ping(request: web.Request) -> web.Response:
    if project(request) == "console":
        raise AppwriteError("project_not_found")
    return web.Response(text="Pong!", content_type="text/plain")
