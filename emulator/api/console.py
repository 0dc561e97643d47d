"""What the Appwrite CLI calls outside /functions: console login, console variables, proxy rules, JWTs.

The CLI (appwrite-cli 12) talks to two "SDKs": one for the project (API key, or the login cookie
in admin mode) and one for the console (the login cookie only). `appwrite login` creates an
email/password session and stores the whole `Set-Cookie` string; every later call sends it back
as the Cookie header, `expires=…; path=…` attributes included. `push function` for a new function
then reads `GET /console/variables` and creates a proxy rule, both through the console SDK.

The emulator has no user accounts. A session only records the email it was opened with, and the
account behind it is derived from that email. Sessions are stored (collection `sessions`) so a
login survives restarts, and each one remembers the API key it was issued under, so restarting
the server with another `--api-key` logs everybody out. Proxy rules are stored too (collection
`rules`). A rule whose domain ends in the functions domain (`--functions-domain`, which
`/console/variables` reports as `_APP_DOMAIN_FUNCTIONS`) routes requests with that Host to its
function, as `<functionId>.<functions domain>` does without a rule (api/function_domains.py).

Who gets a session: only a login (which, under `--api-key`, takes the key as its password) or a
request that carried the real `--api-key` itself (grant_cli_session). Short-lived keys (a JWT
from `POST /projects/{id}/jwts`, an execution's x-appwrite-key) never earn one: they are scoped
to one project and die at their expiry, and a year-long admin session would outlive and outreach
them. As every session comes from the real key, every session may survive a restart, bound to
that key. Without `--api-key` the server is open and any key counts as the real one.
"""
from __future__ import annotations

from datetime import datetime, timezone

from aiohttp import web

from ..errors import AppwriteError, invalid_param, missing_param
from ..ids import CUSTOM_ID_DESCRIPTION, is_valid_id, now_iso
from ..params import read_params
from ..response_formats import Model
from ..serializers import list_model
from ..services.deployments import MAX_DEPLOYMENT_SIZE
from ..services import console as service
from .common import json_response, no_content, params, project, state

SESSION_COOKIE = "a_session_console"
# What the request authenticated with (middlewares._credential): "key", "open", "ephemeral", ... or None.
CREDENTIAL = web.RequestKey("credential", object)
CONSOLE_SESSION = web.RequestKey("console_session", object)  # the stored session, or None


# -- sessions --------------------------------------------------------------------------------------
def session_secret(request: web.Request) -> str:
    """The `a_session_console` value from the Cookie header(s).

    The CLI sends back the Set-Cookie string it stored, so the header also carries `expires=Thu,
    …`, `path=/`, `httponly`: read it as `;`-separated pairs and ignore the rest.
    """
    for header in request.headers.getall("cookie", []):
        for part in header.split(";"):
            name, _, value = part.strip().partition("=")
            if name == SESSION_COOKIE and value and value.isascii():  # secrets are ASCII; other bytes: none
                return value.strip().strip('"')
    return ""


def current_session(request: web.Request) -> dict | None:
    """The stored session the request's cookie names, if it is still valid on this server."""
    if CONSOLE_SESSION not in request:  # asked several times per request: look it up once
        request[CONSOLE_SESSION] = service.find_session(state(request), session_secret(request))
    return request[CONSOLE_SESSION]


def _set_session_cookie(response: web.StreamResponse, secret: str, doc: dict) -> None:
    expires = datetime.fromtimestamp(doc["expireTs"], timezone.utc).strftime("%a, %d %b %Y %H:%M:%S GMT")
    response.set_cookie(SESSION_COOKIE, secret, expires=expires, path="/", httponly=True, samesite="Lax")


def _session_model(doc: dict, current: bool = True, secret: str = "") -> dict:
    return {
        "$id": doc["sessionId"], "$createdAt": doc["$createdAt"], "$updatedAt": doc["$updatedAt"],
        "userId": doc["userId"], "expire": doc["expire"], "provider": doc["provider"],
        "providerUid": doc["email"], "providerAccessToken": "", "providerAccessTokenExpiry": "",
        "providerRefreshToken": "", "ip": doc.get("ip", ""), "osCode": "", "osName": "", "osVersion": "",
        "clientType": "", "clientCode": "", "clientName": "", "clientVersion": "", "clientEngine": "",
        "clientEngineVersion": "", "deviceName": "", "deviceBrand": "", "deviceModel": "", "countryCode": "--",
        "countryName": "Unknown", "current": current, "factors": ["password"], "secret": secret,
        "mfaUpdatedAt": "",
    }


def stale_session_hint(request: web.Request) -> str:
    """Why a request that sent a session cookie was refused: the CLI prefers the cookie to the key."""
    if session_secret(request) and current_session(request) is None:
        return (". The session cookie is unknown to this emulator (its data dir was reset, or it was restarted "
                "with another --api-key): run `appwrite login` again.")
    return ""


def _require_session(request: web.Request) -> dict:
    session = current_session(request)
    if session is None:
        raise AppwriteError("general_unauthorized_scope",
                            'User (role: guests) missing scopes (["account"])' + stale_session_hint(request))
    return session


async def create_email_session(request: web.Request) -> web.Response:
    """`POST /account/sessions/email`: log in to the console (what `appwrite login` calls).

    There are no user accounts: any email opens a session for an account derived from it. The
    password is checked only when the server runs with `--api-key`; it must then equal that key,
    because a session is as powerful as the key (the CLI uses it in admin mode), and logging in
    must not be a way around `--api-key`. Without `--api-key` the server is open anyway and any
    password is accepted.
    """
    p = await params(request, "createSession")
    for key in ("email", "password"):
        if not p.get(key):
            raise missing_param(key)
    email = p["email"].strip()
    local, _, domain = email.partition("@")
    if not local or not domain:
        raise invalid_param("email", "Value must be a valid email address")
    doc, secret = service.log_in(state(request), email, p["password"], ip=request.remote or "")
    response = json_response(_session_model(doc), 201)
    _set_session_cookie(response, secret, doc)
    return response


async def get_account(request: web.Request) -> web.Response:
    session = _require_session(request)
    email = session["email"]
    return json_response({
        "$id": session["userId"], "$createdAt": session["$createdAt"], "$updatedAt": session["$updatedAt"],
        "name": email.partition("@")[0], "registration": session["$createdAt"], "status": True, "labels": [],
        "passwordUpdate": session["$createdAt"], "email": email, "phone": "", "emailVerification": True,
        "phoneVerification": False, "mfa": False, "prefs": {}, "targets": [], "accessedAt": now_iso(),
    })


async def get_session(request: web.Request) -> web.Response:
    session = _require_session(request)
    wanted = request.match_info["sessionId"]
    if wanted not in ("current", session["sessionId"]):
        raise AppwriteError("user_session_not_found", "The current user session could not be found.", 404)
    return json_response(_session_model(session))


async def delete_session(request: web.Request) -> web.Response:
    """`DELETE /account/sessions/{sessionId}` (`current` or the session's own id): `appwrite logout`."""
    session = _require_session(request)
    if request.match_info["sessionId"] not in ("current", session["sessionId"]):
        raise AppwriteError("user_session_not_found", "The current user session could not be found.", 404)
    service.close_session(state(request), session)
    response = no_content()
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


def grant_cli_session(request: web.Request, response: web.StreamResponse) -> None:
    """Hand the CLI a console session when it creates a function with only an API key.

    `appwrite push function` creates a new function with the project SDK (the key), then asks the
    console SDK for `/console/variables`; with no stored cookie the CLI gives up before deploying
    ("Session not found. Please run `appwrite login`"), though the function exists. The CLI stores
    any `a_session_console` cookie it sees, so answering that create with one lets a key-only
    push finish. Only the real `--api-key` earns one (on an open server, any key): the session is
    as powerful as that key and dies with it. From then on the CLI sends the cookie instead of
    the key for this endpoint.
    """
    if (request.method != "POST" or request.path.rstrip("/") != "/v1/functions" or response.status != 201
            or request.headers.get("x-sdk-name") != "Command Line" or not request.headers.get("x-appwrite-key")
            or request.get(CREDENTIAL) not in ("key", "open") or current_session(request) is not None):
        return
    doc, secret = service.open_session(state(request), service.CLI_SESSION_EMAIL, provider="key",
                                       ip=request.remote or "")
    _set_session_cookie(response, secret, doc)


# -- console ---------------------------------------------------------------------------------------
async def console_variables(request: web.Request) -> web.Response:
    host = request.url.host or "localhost"
    return json_response({
        "_APP_DOMAIN_TARGET_CNAME": host, "_APP_DOMAIN_TARGET_A": "127.0.0.1", "_APP_DOMAIN_TARGET_AAAA": "::1",
        "_APP_DOMAIN_TARGET_CAA": "", "_APP_COMPUTE_BUILD_TIMEOUT": int(state(request).settings.build_timeout),
        "_APP_STORAGE_LIMIT": MAX_DEPLOYMENT_SIZE, "_APP_COMPUTE_SIZE_LIMIT": MAX_DEPLOYMENT_SIZE,
        "_APP_USAGE_STATS": "disabled", "_APP_VCS_ENABLED": False, "_APP_DOMAIN_ENABLED": False,
        "_APP_ASSISTANT_ENABLED": False, "_APP_DOMAIN_SITES": "sites.localhost",
        "_APP_DOMAIN_FUNCTIONS": state(request).settings.functions_domain, "_APP_OPTIONS_FORCE_HTTPS": "disabled",
        "_APP_DOMAINS_NAMESERVERS": "",
    })


async def create_project_jwt(request: web.Request) -> web.Response:
    """`POST /projects/{projectId}/jwts`: a short-lived key, as `appwrite run function` asks for.

    The CLI passes it to the function as `x-appwrite-key`; here it is an ephemeral key the auth
    middleware accepts for that project only, until `duration` seconds have passed. Making one
    takes the real key or a console session, as in Appwrite: a short-lived key cannot mint another.
    """
    if request.get(CREDENTIAL) == "ephemeral":
        raise AppwriteError("general_unauthorized_scope",
                            'User (role: applications) missing scopes (["projects.write"])')
    project_id = request.match_info["projectId"]
    if not is_valid_id(project_id):
        raise AppwriteError("project_not_found")
    body, _ = await read_params(request)
    duration = body.get("duration", 900)
    if isinstance(duration, str) and duration.isascii() and duration.isdigit() and len(duration) <= 9:
        duration = int(duration)
    if not isinstance(duration, int) or isinstance(duration, bool) or not 0 <= duration <= service.JWT_MAX_DURATION:
        raise invalid_param("duration", f"Value must be a valid range between 0 and {service.JWT_MAX_DURATION:,}")
    return json_response({"jwt": service.create_jwt(state(request), project_id, duration)}, 201)


# -- proxy rules -----------------------------------------------------------------------------------
def _rule_model(request: web.Request, doc: dict) -> Model:
    return Model("proxyRule", {
        "$id": doc["$id"], "$createdAt": doc["$createdAt"], "$updatedAt": doc["$updatedAt"],
        "domain": doc["domain"], "type": "deployment", "trigger": doc.get("trigger", "manual"), "redirectUrl": "",
        "redirectStatusCode": 301, "deploymentId": service.rule_deployment_id(state(request), project(request), doc),
        "deploymentResourceType": "function", "deploymentResourceId": doc["deploymentResourceId"],
        "deploymentVcsProviderBranch": doc.get("deploymentVcsProviderBranch", ""), "status": "verified",
        "logs": "", "renewAt": "",
    })


async def create_function_rule(request: web.Request) -> web.Response:
    body, _ = await read_params(request)
    for key in ("domain", "functionId"):
        if not body.get(key):
            raise missing_param(key)
    domain, function_id = str(body["domain"]).strip().lower(), str(body["functionId"])
    if len(domain) > 253 or "." not in domain or any(not label for label in domain.split(".")):
        raise invalid_param("domain", "Value must be a valid domain")
    if not is_valid_id(function_id):
        raise invalid_param("functionId", CUSTOM_ID_DESCRIPTION)
    doc = service.create_rule(state(request), project(request), domain, function_id, str(body.get("branch") or ""))
    return json_response(_rule_model(request, doc), 201)


async def list_rules(request: web.Request) -> web.Response:
    """`GET /proxy/rules`: `equal`/`notEqual` filters, `limit`/`offset` and `search` over the domain.

    The CLI looks up the function's rule after each deploy and prints its domain.
    """
    raw, _ = await read_params(request)
    queries = raw.get("queries") or []
    queries = queries if isinstance(queries, list) else [queries]
    total, rules = service.list_rules(state(request), project(request), queries, str(raw.get("search") or ""))
    return json_response(list_model("rules", total, [_rule_model(request, doc) for doc in rules]))


async def get_rule(request: web.Request) -> web.Response:
    doc = service.get_rule(state(request), project(request), request.match_info["ruleId"])
    return json_response(_rule_model(request, doc))


async def delete_rule(request: web.Request) -> web.Response:
    service.delete_rule(state(request), project(request), request.match_info["ruleId"])
    return no_content()


# Routes callable without the API key: logging in is how a CLI user gets a credential.
PUBLIC = {create_email_session}
