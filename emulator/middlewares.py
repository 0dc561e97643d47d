"""The middlewares every request passes, outermost first, one job each.

- origin_guard: which browsers and host names may talk to the server at all (a foreign Origin,
  `Origin: null` or a DNS-rebinding Host is refused before anything else runs);
- (api/function_domains.py, next: a request on a function's domain runs that function instead of
  reaching the API);
- cors_middleware: preflights and CORS headers for the origins let through;
- commit_middleware: a response leaves only after the writes it reports are committed;
- error_middleware: every error in Appwrite's envelope `{message, code, type, version}`. Bad input
  is turned into an AppwriteError where it is parsed (params.py, schemas.py, queries.py), so any
  other exception, a ValueError included, is a bug: logged, and a 500;
- auth_middleware: the configured API key, short-lived keys, console sessions, and guests (no
  key at all) on the routes Appwrite's guests role may call.

The app (app.py) lists them in that order and tells auth_middleware which routes are public
(PUBLIC_HANDLERS) and which guests may call (GUEST_HANDLERS).
"""
from __future__ import annotations

import hmac
import ipaddress
import logging
import socket
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from .api import console
from .api.common import COMMIT_FOLLOWS, MODEL_KEY, STATE_KEY, json_body, json_response, project
from .errors import AppwriteError
from .params import body_too_large
from .response_formats import needs_shaping, shape
from .serializers import parse_version
from .services.function_domains import domain_label

log = logging.getLogger("emulator")
# What a request without a credential may send (a public route: the console login), so nobody
# can make the server buffer 32 MB before showing a key. It must declare its length.
ANONYMOUS_BODY_BYTES = 64 * 1024
# The handlers anyone may call, as Appwrite's `public` scope (set by the app from its URL table).
PUBLIC_HANDLERS = web.AppKey("public_handlers", frozenset)
# The handlers a request without any key reaches as Appwrite's guests role (a client SDK): only
# creating an execution, which the handler allows only for functions whose `execute` lets guests in.
GUEST_HANDLERS = web.AppKey("guest_handlers", frozenset)
GUEST = "guest"  # the credential of such a request

# A browser lets any page send "simple" cross-origin requests (text/plain, form or multipart
# bodies) without asking first, and a DNS-rebinding page reaches 127.0.0.1 under its own host
# name. So a request that names a foreign Origin, or arrives under a host name that is not this
# server's, is refused before any handler runs, whatever its method: reads too, since list and
# get answers carry code, variables and execution output.
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}
WILDCARD_ADDRESSES = {"", "0.0.0.0", "::"}


def host_name_of(authority: str) -> str | None:
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
    try:
        parts = urlsplit(origin)
    except ValueError:  # "http://[::1": an unclosed IPv6 bracket
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return host_name_of(parts.netloc)


def host_allowed(state, sockname, hostname: str | None) -> bool:
    """Whether a request may arrive under the host name `hostname` on a connection accepted on the
    local address `sockname`."""
    if hostname is None:
        return False
    if _is_loopback(hostname):
        return True
    settings = state.settings
    if domain_label(state, hostname) is not None:
        return True  # `<function id>.<functions domain>`: a function domain (api/function_domains.py)
    if settings.host.lower() not in WILDCARD_ADDRESSES and hostname == settings.host.lower():
        return True
    if sockname and hostname == str(sockname[0]).lower():
        return True  # the address this connection was accepted on (the bound one, or one of a wildcard's)
    if settings.host.lower() in WILDCARD_ADDRESSES and hostname == socket.gethostname().lower():
        return True
    return hostname in {_origin_host(o) for o in settings.cors_origins}


def origin_allowed(request: web.Request, origin: str) -> bool:
    """Loopback pages, the server's own origin (any port, http or https) and --cors-origin ones."""
    allowed = request.app[STATE_KEY].settings.cors_origins
    if "*" in allowed or origin.rstrip("/").lower() in allowed:
        return True
    hostname = _origin_host(origin)
    if hostname is None:  # `null` (sandboxed frames, file: pages) and non-web schemes
        return False
    return _is_loopback(hostname) or hostname == host_name_of(request.headers.get("Host", ""))


@web.middleware
async def origin_guard(request: web.Request, handler):
    host = request.headers.get("Host")
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    if host is not None and not host_allowed(request.app[STATE_KEY], sockname, host_name_of(host)):
        return error_response(AppwriteError(
            "general_access_forbidden", f"Host {host!r} is not an address this emulator serves (a DNS-rebinding "
            "page uses its own name). Use localhost, 127.0.0.1, [::1], the --host address, or list the name's "
            "origin with --cors-origin.", 403))
    origin = request.headers.get("Origin")
    if origin is not None and not origin_allowed(request, origin):
        return error_response(AppwriteError(
            "general_unknown_origin", f"The request's origin {origin!r} is not allowed. Pages on localhost, "
            "127.0.0.1 and [::1] are; start the emulator with --cors-origin (or "
            "APPWRITE_EMULATOR_CORS_ORIGINS) to allow others.", 403))
    # A request without Origin that a browser marks cross-site is a page's subresource load or
    # a form a very old browser sent: nothing a web app needs. Typing a URL or following a link
    # (a top-level navigation) stays allowed.
    if origin is None and request.headers.get("Sec-Fetch-Site") == "cross-site" \
            and not (request.headers.get("Sec-Fetch-Mode") == "navigate" and request.method in ("GET", "HEAD")):
        return error_response(AppwriteError(
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
    would lose an acknowledged write (an accepted async execution, a created function). A
    synchronous execution's answer does not wait (api/common.py, COMMIT_FOLLOWS)."""
    try:
        return await handler(request)
    finally:
        if not request.get(COMMIT_FOLLOWS):
            await request.app[STATE_KEY].store.committed()


@web.middleware
async def error_middleware(request: web.Request, handler):
    try:
        return await handler(request)
    except AppwriteError as exc:
        return error_response(exc)
    except web.HTTPRequestEntityTooLarge:
        return error_response(body_too_large())
    except web.HTTPNotFound:
        return error_response(AppwriteError("general_route_not_found"))
    except web.HTTPMethodNotAllowed:
        return error_response(AppwriteError("general_route_not_found"))
    except web.HTTPException as exc:
        if exc.status >= 400:
            return error_response(AppwriteError("general_bad_request", exc.reason, exc.status))
        raise
    except HttpProcessingError as exc:  # e.g. a multipart part with malformed headers
        return error_response(AppwriteError("general_argument_invalid", f"Invalid request: {exc.message}"))
    except RecursionError:  # a structure nested deeper than anything here expects
        return error_response(AppwriteError("general_argument_invalid", "Invalid request: nested too deeply."))
    except Exception:  # a bug (bad input is refused where it is parsed); the server keeps serving
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(AppwriteError("general_unknown", "Server Error", 500))


NO_CACHE = {"Cache-Control": "no-cache, no-store, must-revalidate", "Expires": "0", "Pragma": "no-cache"}


def error_response(exc: AppwriteError) -> web.Response:
    return json_response(exc.to_json(), exc.code, headers=NO_CACHE)


@web.middleware
async def auth_middleware(request: web.Request, handler):
    credential = _credential(request)
    route_handler = getattr(request.match_info, "handler", None)
    # Guests hold no scope to read anything (Appwrite's guests have executions.write only). Their
    # handler checks the function's `execute` before it reads the body, so the anonymous body limit
    # below is not theirs: a function open to guests takes the bodies it takes from anyone.
    if credential is None and not request.headers.get("x-appwrite-key") \
            and route_handler in request.app[GUEST_HANDLERS]:
        credential = GUEST
    request[console.CREDENTIAL] = credential
    if request[console.CREDENTIAL] is None and route_handler not in request.app[PUBLIC_HANDLERS]:
        raise missing_scopes(bool(request.headers.get("x-appwrite-key")), console.stale_session_hint(request))
    if request[console.CREDENTIAL] is None and request.body_exists and (
            request.content_length is None or request.content_length > ANONYMOUS_BODY_BYTES):
        raise AppwriteError("general_argument_invalid", "Request body is too large: without a key the limit is "
                            f"{ANONYMOUS_BODY_BYTES} bytes, with a Content-Length.", 413)
    response = await handler(request)
    console.grant_cli_session(request, response)
    return response


@web.middleware
async def response_format_middleware(request: web.Request, handler):
    """A JSON model in the shape of the client's `X-Appwrite-Response-Format` (and a list's
    Query.select), as Appwrite's response filters make it: one place for every route."""
    response = await handler(request)
    model = response.get(MODEL_KEY) if isinstance(response, web.Response) else None
    if model is not None:
        body = shaped_body(model, request.headers.get("x-appwrite-response-format"))
        if body is not None:
            response.body = body
    return response


def shaped_body(model, response_format: str | None) -> bytes | None:
    """`model`'s JSON in the shape a client sending `response_format` reads, or None if that is
    the shape it was rendered in."""
    fmt = parse_version(response_format) if response_format else None
    return json_body(shape(model, fmt)) if needs_shaping(model, fmt) else None


def missing_scopes(has_key: bool, hint: str = "") -> AppwriteError:
    """Appwrite's 401 for a request without a credential on a route that needs one."""
    role = "applications" if has_key else "guests"
    return AppwriteError(
        "general_unauthorized_scope",
        f'User (role: {role}) missing scopes (["functions.read", "functions.write", "execution.read", "execution.write"])'
        + hint)


def _credential(request: web.Request) -> str | None:
    return credential_for(request.app[STATE_KEY], request.headers.get("x-appwrite-key", ""),
                          lambda: project(request), lambda: console.current_session(request))


def credential_for(state, key: str, project_of, session_of) -> str | None:
    """What a request authenticates with: "open" (no --api-key), "key" (the --api-key), "ephemeral"
    (a key made for one project: a JWT or an execution's x-appwrite-key, until it expires),
    "session" (a console login cookie), or None. `key` is its x-appwrite-key; `project_of()` and
    `session_of()` give its project and console session, asked only when needed."""
    if not state.settings.api_key:
        return "open"
    # surrogateescape: a header's non-UTF-8 bytes come back as they were sent, and match no key.
    if key and hmac.compare_digest(key.encode("utf-8", "surrogateescape"), state.settings.api_key.encode()):
        return "key"
    if key and (project_of(), key) in state.ephemeral_keys:
        return "ephemeral"
    # A console session (the CLI's `appwrite login` cookie) counts as an admin credential.
    if session_of() is not None:
        return "session"
    return None
