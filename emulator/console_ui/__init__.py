"""The web console at `/console`: a static single-page app shipped in the package (static/).

The server only hands out files here: the shell page for every console URL (so deep links work
on reload) and the page's assets from a fixed table, never a path built from the request. The
page then reads and changes everything through the emulator's own /v1 API, same-origin, with the
console login cookie when the server runs with --api-key (it never sees the key itself). The
files carry no data, so these routes are public; the CSP keeps the page to its own origin.
"""
from __future__ import annotations

from pathlib import Path

from aiohttp import web

from ..errors import AppwriteError
from ..ids import is_valid_id

STATIC_DIR = Path(__file__).parent / "static"
SHELL = "index.html"
# Every file the console serves, by the name in its URL (/console/assets/<name>): nothing else is served.
ASSET_TYPES = {
    "app.js": "text/javascript; charset=utf-8",
    "api.js": "text/javascript; charset=utf-8",
    "dom.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
}
# The page loads its own scripts and styles, talks to its own origin, and may not be framed.
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    # Always revalidated, so an upgraded package's console is what the next reload shows.
    "Cache-Control": "no-cache",
}


def _read(name: str) -> bytes:
    return (STATIC_DIR / name).read_bytes()


# Read once: a few small files, the same for every request.
_FILES = {name: _read(name) for name in (SHELL, *ASSET_TYPES)}


def _file_response(name: str, content_type: str) -> web.Response:
    return web.Response(body=_FILES[name], headers={"Content-Type": content_type, **HEADERS})


async def shell(request: web.Request) -> web.Response:
    """The page for /console, /console/functions/{functionId} and …/executions/{executionId}; the
    ids are only checked for shape here (the page asks the API whether they exist)."""
    if not all(is_valid_id(value) for value in request.match_info.values()):
        raise AppwriteError("general_route_not_found")
    return _file_response(SHELL, "text/html; charset=utf-8")


async def asset(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name not in ASSET_TYPES:
        raise AppwriteError("general_route_not_found")
    return _file_response(name, ASSET_TYPES[name])


ROUTES = [
    ("GET", "/console", shell),
    ("GET", "/console/", shell),
    ("GET", "/console/functions/{functionId}", shell),
    ("GET", "/console/functions/{functionId}/executions/{executionId}", shell),
    ("GET", "/console/assets/{name}", asset),
]
PUBLIC = {shell, asset}
