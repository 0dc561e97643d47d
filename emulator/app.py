"""The aiohttp application: the URL table, the cross-cutting middlewares, start-up and shut-down.

The URL table maps Appwrite's routes (and the older aliases clients still call) to small handlers
in emulator/api/. Middlewares handle what every route shares, outermost first: which browsers and
host names may talk to the server at all (origin_guard), CORS for the allowed ones
(cors_middleware), committing writes, Appwrite's error envelope, auth against the configured API
key. Errors aiohttp meets while still parsing a request (a header too long, a malformed line) get
the same envelope through EmulatorRunner.
"""
from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import socket
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestHandler

from .api import console, deployments, executions, functions, misc, variables
from .api import events as emulator_events
from .api.common import STATE_KEY, json_response, project
from .errors import AppwriteError
from . import openapi
from .services.builds import BuildQueue
from .services.executions import ExecutionRunner
from .services.state import Settings, State
from .store import Store

log = logging.getLogger("emulator")
MAX_BODY_BYTES = 32 * 1024 * 1024  # 5 MiB upload chunks and 10 MB execution bodies must fit
# What a request without a credential may send (a public route: the console login), so nobody
# can make the server buffer 32 MB before showing a key. It must declare its length.
ANONYMOUS_BODY_BYTES = 64 * 1024
# A request line or one header may be up to 64 KiB (list queries travel in the URL; aiohttp's
# default is 8 KiB); beyond that aiohttp itself answers 400 before any handler runs.
HANDLER_ARGS = {"max_line_size": 65536, "max_field_size": 65536}

F = "/v1/functions"
FN = F + "/{functionId}"
DEP = FN + "/deployments/{deploymentId}"
ROUTES = [
    ("GET", "/v1/health/version", misc.health_version),
    ("GET", "/v1/ping", misc.ping),
    ("GET", F + "/runtimes", functions.list_runtimes),
    ("GET", F + "/specifications", functions.list_specifications),
    ("GET", F, functions.list_functions),
    ("POST", F, functions.create_function),
    ("GET", FN, functions.get_function),
    ("PUT", FN, functions.update_function),
    ("DELETE", FN, functions.delete_function),
    ("PATCH", FN + "/deployment", functions.update_function_deployment),
    ("GET", FN + "/deployments", deployments.list_deployments),
    ("POST", FN + "/deployments", deployments.create_deployment),
    ("POST", FN + "/deployments/duplicate", deployments.duplicate_deployment),
    ("GET", DEP, deployments.get_deployment),
    ("DELETE", DEP, deployments.delete_deployment),
    ("PATCH", DEP, functions.update_deployment_legacy),
    ("GET", DEP + "/download", deployments.download_deployment),
    ("GET", DEP + "/build/download", deployments.download_deployment),
    ("PATCH", DEP + "/status", deployments.cancel_deployment),
    ("PATCH", DEP + "/build", deployments.cancel_deployment),
    ("POST", DEP + "/build", deployments.retry_build_legacy),
    ("POST", DEP + "/builds/{buildId}", deployments.retry_build_legacy),
    ("GET", FN + "/executions", executions.list_executions),
    ("POST", FN + "/executions", executions.create_execution),
    ("GET", FN + "/executions/{executionId}", executions.get_execution),
    ("DELETE", FN + "/executions/{executionId}", executions.delete_execution),
    ("GET", FN + "/variables", variables.list_variables),
    ("POST", FN + "/variables", variables.create_variable),
    ("GET", FN + "/variables/{variableId}", variables.get_variable),
    ("PUT", FN + "/variables/{variableId}", variables.update_variable),
    ("DELETE", FN + "/variables/{variableId}", variables.delete_variable),
    # Emulator-only: deliver an Appwrite system event to subscribed functions (`python -m emulator trigger`).
    ("POST", "/v1/emulator/events", emulator_events.create_event),
]
# Routes anyone may call, as Appwrite's `public` scope.
PUBLIC = {misc.health_version, misc.ping, functions.list_runtimes}

# What the Appwrite CLI calls beyond /functions: console login, console variables, proxy rules, JWTs.
ROUTES += [
    ("POST", "/v1/account/sessions/email", console.create_email_session),
    ("GET", "/v1/account", console.get_account),
    ("GET", "/v1/account/sessions/{sessionId}", console.get_session),
    ("DELETE", "/v1/account/sessions/{sessionId}", console.delete_session),
    ("GET", "/v1/console/variables", console.console_variables),
    ("POST", "/v1/projects/{projectId}/jwts", console.create_project_jwt),
    ("GET", "/v1/proxy/rules", console.list_rules),
    ("POST", "/v1/proxy/rules/function", console.create_function_rule),
    ("GET", "/v1/proxy/rules/{ruleId}", console.get_rule),
    ("DELETE", "/v1/proxy/rules/{ruleId}", console.delete_rule),
]
PUBLIC |= console.PUBLIC

# This API described as OpenAPI 3.1, generated from this URL table (handed over as data).
OPENAPI_JSON = openapi.document_handler(ROUTES, PUBLIC)
ROUTES.append(("GET", "/v1/openapi.json", OPENAPI_JSON))
PUBLIC.add(OPENAPI_JSON)


# -- browsers: which pages and host names may talk to the server --------------------------------
# A browser lets any page send "simple" cross-origin requests (text/plain, form or multipart
# bodies) without asking first, and a DNS-rebinding page reaches 127.0.0.1 under its own host
# name. So a request that names a foreign Origin, or arrives under a host name that is not this
# server's, is refused before any handler runs, whatever its method: reads too, since list and
# get answers carry code, variables and execution output.
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}
WILDCARD_ADDRESSES = {"", "0.0.0.0", "::"}


def _hostname(authority: str) -> str | None:
    """The host part of a Host header or URL authority, lower-case, without port or brackets."""
    authority = authority.strip().lower()
    if authority.startswith("["):
        end = authority.find("]")
        tail = authority[end + 1:] if end > 0 else "x"
        return authority[1:end] if tail == "" or (tail[0] == ":" and tail[1:].isdigit()) else None
    host, _, port = authority.rpartition(":") if authority.count(":") == 1 else (authority, "", "")
    if port and not port.isdigit():
        return None
    return host.rstrip(".") or None


def _is_loopback(hostname: str) -> bool:
    # *.localhost names resolve to loopback in browsers (RFC 6761) and cannot be rebound.
    if hostname in LOOPBACK_NAMES or hostname.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


def _origin_host(origin: str) -> str | None:
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return _hostname(parts.netloc)


def _allowed_origins(settings: Settings) -> set[str]:
    return {o.strip().rstrip("/").lower() for o in settings.cors_origins if o.strip()}


def _host_allowed(request: web.Request, hostname: str | None) -> bool:
    if hostname is None:
        return False
    if _is_loopback(hostname):
        return True
    settings = request.app[STATE_KEY].settings
    if settings.host.lower() not in WILDCARD_ADDRESSES and hostname == settings.host.lower():
        return True
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    if sockname and hostname == str(sockname[0]).lower():
        return True  # the address this connection was accepted on (the bound one, or one of a wildcard's)
    if settings.host.lower() in WILDCARD_ADDRESSES and hostname == socket.gethostname().lower():
        return True
    return hostname in {_origin_host(o) for o in _allowed_origins(settings)}


def origin_allowed(request: web.Request, origin: str) -> bool:
    """Loopback pages, the server's own origin (any port, http or https) and --cors-origin ones."""
    allowed = _allowed_origins(request.app[STATE_KEY].settings)
    if "*" in allowed or origin.rstrip("/").lower() in allowed:
        return True
    hostname = _origin_host(origin)
    if hostname is None:  # `null` (sandboxed frames, file: pages) and non-web schemes
        return False
    return _is_loopback(hostname) or hostname == _hostname(request.headers.get("Host", ""))


@web.middleware
async def origin_guard(request: web.Request, handler):
    host = request.headers.get("Host")
    if host is not None and not _host_allowed(request, _hostname(host)):
        return _error_response(AppwriteError(
            "general_access_forbidden", f"Host {host!r} is not an address this emulator serves (a DNS-rebinding "
            "page uses its own name). Use localhost, 127.0.0.1, [::1], the --host address, or list the name's "
            "origin with --cors-origin.", 403))
    origin = request.headers.get("Origin")
    if origin is not None and not origin_allowed(request, origin):
        return _error_response(AppwriteError(
            "general_unknown_origin", f"The request's origin {origin!r} is not allowed. Pages on localhost, "
            "127.0.0.1 and [::1] are; start the emulator with --cors-origin (or "
            "APPWRITE_EMULATOR_CORS_ORIGINS) to allow others.", 403))
    # A request without Origin that a browser marks cross-site is a page's subresource load or
    # a form a very old browser sent: nothing a web app needs. Typing a URL or following a link
    # (a top-level navigation) stays allowed.
    if origin is None and request.headers.get("Sec-Fetch-Site") == "cross-site" \
            and not (request.headers.get("Sec-Fetch-Mode") == "navigate" and request.method in ("GET", "HEAD")):
        return _error_response(AppwriteError(
            "general_unknown_origin", "A cross-site request without an Origin is not allowed.", 403))
    return await handler(request)


# What Appwrite's web SDK sends and reads: its x-appwrite-*/x-sdk-* headers, uploads in chunks
# (content-range) and, where third-party cookies are blocked, the session in X-Fallback-Cookies.
CORS_ALLOW_HEADERS = (
    "Origin, Cookie, Set-Cookie, X-Requested-With, Content-Type, Access-Control-Allow-Origin, "
    "Access-Control-Request-Headers, Accept, X-Appwrite-Project, X-Appwrite-Key, X-Appwrite-Locale, "
    "X-Appwrite-Mode, X-Appwrite-JWT, X-Appwrite-Response-Format, X-Appwrite-Timeout, X-SDK-Version, "
    "X-SDK-Name, X-SDK-Language, X-SDK-Platform, X-SDK-GraphQL, X-Appwrite-ID, X-Appwrite-Timestamp, "
    "X-Appwrite-Session, X-Appwrite-Dev-Key, X-Fallback-Cookies, Content-Range, Range, Cache-Control, "
    "Expires, Pragma, X-Forwarded-For, X-Forwarded-User-Agent")
_CORS_ALLOWED_LOWER = {h.strip().lower() for h in CORS_ALLOW_HEADERS.split(",")}
CORS_ALLOW_METHODS = "GET, POST, PUT, PATCH, DELETE"
CORS_EXPOSE_HEADERS = "X-Appwrite-Session, X-Fallback-Cookies"
CORS_MAX_AGE = "3600"


def _preflight_headers(request: web.Request) -> dict:
    # Any x-appwrite-*/x-sdk-* header a newer SDK asks for is allowed too; others are not echoed.
    asked = [h.strip() for h in request.headers.get("Access-Control-Request-Headers", "").split(",") if h.strip()]
    extra = [h for h in asked if h.lower() not in _CORS_ALLOWED_LOWER
             and h.lower().startswith(("x-appwrite-", "x-sdk-"))]
    return {"Access-Control-Allow-Methods": CORS_ALLOW_METHODS,
            "Access-Control-Allow-Headers": ", ".join([CORS_ALLOW_HEADERS, *extra]),
            "Access-Control-Max-Age": CORS_MAX_AGE}


@web.middleware
async def cors_middleware(request: web.Request, handler):
    """Preflights answered (any path, as Appwrite does) and CORS headers on every response,
    errors included, for the origins origin_guard let through."""
    origin = request.headers.get("Origin")
    if request.method == "OPTIONS":
        response = web.Response(status=204, headers=_preflight_headers(request))
    else:
        response = await handler(request)
    if origin is not None:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Credentials"] = "true"
        response.headers["Access-Control-Expose-Headers"] = CORS_EXPOSE_HEADERS
        response.headers.add("Vary", "Origin")
    return response


@web.middleware
async def commit_middleware(request: web.Request, handler):
    """A response leaves only once what it reports is committed. Writes are applied at the end of
    the loop step (store.py), which may come after the response is on the wire; a crash in between
    would lose an acknowledged write (an accepted async execution, a created function)."""
    try:
        return await handler(request)
    finally:
        request.app[STATE_KEY].store.flush()


@web.middleware
async def error_middleware(request: web.Request, handler):
    try:
        return await handler(request)
    except AppwriteError as exc:
        return _error_response(exc)
    except web.HTTPRequestEntityTooLarge:
        return _error_response(AppwriteError(
            "general_argument_invalid", f"Request body is too large: the limit is {MAX_BODY_BYTES} bytes.", 413))
    except web.HTTPNotFound:
        return _error_response(AppwriteError("general_route_not_found"))
    except web.HTTPMethodNotAllowed:
        return _error_response(AppwriteError("general_route_not_found"))
    except web.HTTPException as exc:
        if exc.status >= 400:
            return _error_response(AppwriteError("general_bad_request", exc.reason, exc.status))
        raise
    except HttpProcessingError as exc:  # e.g. a multipart part with malformed headers
        return _error_response(AppwriteError("general_argument_invalid", f"Invalid request: {exc.message}"))
    except RecursionError:  # a structure nested deeper than anything here expects
        return _error_response(AppwriteError("general_argument_invalid", "Invalid request: nested too deeply."))
    except (UnicodeDecodeError, ValueError) as exc:
        return _error_response(AppwriteError("general_argument_invalid", f"Invalid request: {exc}"))
    except Exception:  # the server keeps serving whatever a request does
        log.exception("unhandled error on %s %s", request.method, request.path)
        return _error_response(AppwriteError("general_unknown", "Server Error", 500))


def _error_response(exc: AppwriteError) -> web.Response:
    return json_response(exc.to_json(), exc.code, headers={
        "Cache-Control": "no-cache, no-store, must-revalidate", "Expires": "0", "Pragma": "no-cache"})


@web.middleware
async def auth_middleware(request: web.Request, handler):
    request[console.CREDENTIAL] = _credential(request)
    route_handler = getattr(request.match_info, "handler", None)
    if request[console.CREDENTIAL] is None and route_handler not in PUBLIC:
        role = "applications" if request.headers.get("x-appwrite-key") else "guests"
        raise AppwriteError(
            "general_unauthorized_scope",
            f'User (role: {role}) missing scopes (["functions.read", "functions.write", "execution.read", "execution.write"])'
            + console.stale_session_hint(request))
    if request[console.CREDENTIAL] is None and request.body_exists and (
            request.content_length is None or request.content_length > ANONYMOUS_BODY_BYTES):
        raise AppwriteError("general_argument_invalid", "Request body is too large: without a key the limit is "
                            f"{ANONYMOUS_BODY_BYTES} bytes, with a Content-Length.", 413)
    response = await handler(request)
    console.grant_cli_session(request, response)
    return response


def _credential(request: web.Request) -> str | None:
    """What the request authenticates with: "open" (no --api-key), "key" (the --api-key), "ephemeral"
    (a key made for one project: a JWT or an execution's x-appwrite-key, until it expires),
    "session" (a console login cookie), or None."""
    state = request.app[STATE_KEY]
    if not state.settings.api_key:
        return "open"
    key = request.headers.get("x-appwrite-key", "")
    if key and hmac.compare_digest(key.encode(), state.settings.api_key.encode()):
        return "key"
    if key and (project(request), key) in state.ephemeral_keys:
        return "ephemeral"
    # A console session (the CLI's `appwrite login` cookie) counts as an admin credential.
    if console.current_session(request) is not None:
        return "session"
    return None


# -- errors aiohttp answers itself ---------------------------------------------------------------
class _EnvelopeProtocol(RequestHandler):
    """aiohttp answers a request it cannot parse (a header or URL over the limits, a malformed
    line) from its protocol layer, before any middleware, in plain text: answer in Appwrite's
    envelope instead."""

    def handle_error(self, request, status: int = 500, exc=None, message=None) -> web.StreamResponse:
        plain = super().handle_error(request, status, exc, message)  # logs; refuses if a response began
        if status >= 500:
            error = AppwriteError("general_unknown", "Server Error", status)
        else:
            detail = getattr(exc, "message", None) or message or plain.reason
            error = AppwriteError("general_bad_request", f"Invalid request: {detail}", status)
        response = _error_response(error)
        response.force_close()
        return response


class _EnvelopeServer(web.Server):
    def __call__(self) -> RequestHandler:
        return _EnvelopeProtocol(self, loop=self._loop, **self._kwargs)


class EmulatorRunner(web.AppRunner):
    """web.AppRunner whose connections answer protocol-level errors in Appwrite's envelope."""

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        server.__class__ = _EnvelopeServer  # same state, only the connection factory differs
        return server


def make_runner(app: web.Application, **kwargs) -> web.AppRunner:
    """The runner every way of serving the app uses (serve, dev, BackgroundServer)."""
    return EmulatorRunner(app, access_log=None, **kwargs)


# -- the app -------------------------------------------------------------------------------------
def _own_data_dir(data_dir: Path) -> None:
    """The data dir holds secrets (variables, keys' sessions) and user code: owner-only. An
    existing directory is tightened only when it is ours (it holds emulator.db), never, say, /tmp."""
    created = not data_dir.exists()
    data_dir.mkdir(parents=True, exist_ok=True)
    if created or (data_dir / "emulator.db").exists():
        try:
            os.chmod(data_dir, 0o700)
        except OSError as exc:
            log.warning("cannot make %s owner-only: %s", data_dir, exc)


def create_app(settings: Settings) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY_BYTES,
                          middlewares=[origin_guard, cors_middleware, commit_middleware, error_middleware,
                                       auth_middleware],
                          handler_args=HANDLER_ARGS)
    # Whatever the server writes from now on (database, deployments, builds, logs) is the owner's
    # only; the data dir is 0700 as well, so older files are covered by their directory.
    os.umask(0o077)
    # Absolute: runtimes start in their build dirs, and paths handed to them must still resolve.
    settings.data_dir = Path(settings.data_dir).absolute()
    _own_data_dir(settings.data_dir)
    state = State(settings=settings, store=Store(settings.data_dir / "emulator.db"))
    app[STATE_KEY] = state
    for method, path, handler in ROUTES:
        app.router.add_route(method, path, handler)
    app.on_startup.append(_start)
    app.on_cleanup.append(_stop)
    return app


async def _start(app: web.Application) -> None:
    state = app[STATE_KEY]
    s = state.settings
    await state.executor_for({}).prepare()
    state.builds = BuildQueue(state, s.build_workers)
    state.builds.recover()
    state.runner = ExecutionRunner(state, s.async_workers, s.async_queue_size)
    await state.runner.recover()


async def _stop(app: web.Application) -> None:
    state = app[STATE_KEY]
    if state.runner:
        await state.runner.close()
    if state.builds:
        await state.builds.close()
    for executor in state.executors.values():
        await executor.close()
    state.store.close()
