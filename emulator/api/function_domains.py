"""Function domains over HTTP: a request whose Host is a function's domain runs that function.

Appwrite gives every function a domain and routes plain requests on it (webhooks, front ends,
`curl`) to the function; here `<functionId>.<functions domain>[:port]` and proxy rules under that
domain (services/function_domains.py) do the same on the emulator's own port. The function gets
the request as it came (method, path and query, headers, raw body) and the client gets the
function's response as it is (status, headers, bytes) plus `x-appwrite-execution-id`, not an
execution document. When the function cannot run, the answer is an error page: HTML, or
Appwrite's JSON envelope for a client whose Accept asks for JSON first.

This middleware runs right after the origin guard, which still refuses foreign Origins and host
names here (a deliberate difference from Appwrite, whose function domains are public): a page on
another site can reach a function only through an origin allowed with --cors-origin.
"""
from __future__ import annotations

import logging

from aiohttp import web
from multidict import CIMultiDict

from ..error_pages import error_page, status_page
from ..errors import AppwriteError
from ..middlewares import NO_CACHE, error_response, host_name_of
from ..params import body_too_large
from ..services import function_domains as svc
from .common import state

log = logging.getLogger("emulator")
FUNCTION_KEY = web.RequestKey("function_domain_function", str)  # the function a domain request names, once known
# Response headers the emulator frames itself (or sets: the execution id).
NOT_PASSED = {"content-type", "content-length", "transfer-encoding", "connection", "keep-alive",
              "x-appwrite-execution-id"}


@web.middleware
async def function_domain_router(request: web.Request, handler):
    st = state(request)
    hostname = host_name_of(request.headers.get("Host", "")) or ""
    if not hostname.endswith("." + st.settings.functions_domain):
        return await handler(request)  # an API request
    try:
        # The function's answer leaves before its record is committed, as a synchronous execution's
        # does (api/common.py, COMMIT_FOLLOWS): the commit follows in this loop step.
        return await _run(request, hostname)
    except AppwriteError as exc:
        return await _committed(st, _error_response(request, exc))
    except web.HTTPRequestEntityTooLarge:
        return await _committed(st, _error_response(request, body_too_large()))
    except Exception:  # a bug: logged, and the visitor gets a page, not a dropped connection
        log.exception("function domain request %s %s failed", request.method, request.path)
        return await _committed(st, _error_response(request, AppwriteError("general_unknown", "Server Error", 500)))


async def _committed(st, response: web.Response) -> web.Response:
    """`response` once every write so far is committed (a failed execution's record among them)."""
    await st.store.committed()
    return response


async def _run(request: web.Request, hostname: str) -> web.Response:
    st = state(request)
    project, function_id = svc.function_of_host(st, hostname)
    request[FUNCTION_KEY] = function_id
    # Checked before the body is read: a function nobody may call through its domain buffers nothing.
    function, deployment = svc.runnable(st, project, function_id)
    body = await request.read()
    headers: dict[str, str] = {}
    for key, value in request.headers.items():  # repeated headers as one line, as Appwrite passes them
        key = key.lower()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    doc, response = await svc.run_request(st, project, function, deployment, request.method, request.raw_path,
                                          headers, body, request.remote or "")
    return _function_response(doc, response)


def _function_response(doc: dict, response: dict) -> web.Response:
    status = doc["responseStatusCode"] if 100 <= doc["responseStatusCode"] <= 999 else 500
    body = response["body"]
    content_type = "text/plain"
    headers = CIMultiDict()
    for name, value in response["headers"]:
        if name.lower() == "content-type":
            content_type = value
        elif name.lower() not in NOT_PASSED:
            headers.add(name, value)
    if status >= 400 and not body:  # an error status without a body gets a page, as Appwrite brands it
        body, content_type = status_page(status).encode(), "text/html"
    headers["Content-Type"] = content_type
    headers["x-appwrite-execution-id"] = doc["$id"]
    return web.Response(status=status, body=body, headers=headers)


def _wants_json(request: web.Request) -> bool:
    for kind in request.headers.get("Accept", "").split(","):
        kind = kind.split(";")[0].strip().lower()
        if kind in ("application/json", "application/*"):
            return True
        if kind in ("text/html", "text/*", "*/*"):
            return False
    return False


# Error type -> the links its page offers (as Appwrite's pages do), to the emulator's console.
LINKS = {"rule_not_found": ("Start with this domain",), "deployment_not_found": ("View deployments",),
         "function_execute_permission_missing": ("View settings",), "build_failed": ("View logs",),
         "build_canceled": ("View deployments",), "build_not_ready": ("Reload", "View logs")}


def _links(request: web.Request, error_type: str) -> list[tuple[str, str]]:
    """(label, URL) of each link: the console on the API's own address (a relative link would
    stay on the function's domain), the function's page when the request named one."""
    console = state(request).settings.endpoint.removesuffix("/v1") + "/console"
    function_id = request.get(FUNCTION_KEY)
    page = f"{console}/functions/{function_id}" if function_id else console
    return [(label, request.path_qs if label == "Reload" else console if label.startswith("Start") else page)
            for label in LINKS.get(error_type, ())]


def _error_response(request: web.Request, exc: AppwriteError) -> web.Response:
    if _wants_json(request):
        return error_response(exc)
    return web.Response(status=exc.code, text=error_page(exc.type, exc.code, exc.message, _links(request, exc.type)),
                        content_type="text/html", charset="utf-8", headers=NO_CACHE)
