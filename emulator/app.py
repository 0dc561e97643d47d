"""The aiohttp application: the URL table, the cross-cutting middlewares, start-up and shut-down.

The URL table maps Appwrite's routes (and the older aliases clients still call) to small handlers
in emulator/api/. Middlewares handle what every route shares: Appwrite's error envelope, auth
against the configured API key.
"""
from __future__ import annotations

import logging
from pathlib import Path

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from .api import console, deployments, executions, functions, misc, variables
from .api import events as emulator_events
from .api.common import STATE_KEY, json_response
from .errors import AppwriteError
from . import openapi
from .services.builds import BuildQueue
from .services.executions import ExecutionRunner
from .services.state import Settings, State
from .store import Store

log = logging.getLogger("emulator")
MAX_BODY_BYTES = 32 * 1024 * 1024  # 5 MiB upload chunks and 10 MB execution bodies must fit
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

# This API described as OpenAPI 3.1, generated from ROUTES and the request schemas.
ROUTES.append(("GET", "/v1/openapi.json", openapi.openapi_json))
PUBLIC.add(openapi.openapi_json)


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
    settings = request.app[STATE_KEY].settings
    route_handler = getattr(request.match_info, "handler", None)
    if settings.api_key and route_handler not in PUBLIC:
        key = request.headers.get("x-appwrite-key", "")
        # A console session (the CLI's `appwrite login` cookie) counts as an admin credential.
        if key != settings.api_key and key not in request.app[STATE_KEY].ephemeral_keys \
                and console.current_session(request) is None:
            role = "applications" if key else "guests"
            raise AppwriteError(
                "general_unauthorized_scope",
                f'User (role: {role}) missing scopes (["functions.read", "functions.write", "execution.read", "execution.write"])'
                + console.stale_session_hint(request))
    response = await handler(request)
    console.grant_cli_session(request, response)
    return response


def create_app(settings: Settings) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY_BYTES,
                          middlewares=[commit_middleware, error_middleware, auth_middleware],
                          handler_args=HANDLER_ARGS)
    # Absolute: runtimes start in their build dirs, and paths handed to them must still resolve.
    settings.data_dir = Path(settings.data_dir).absolute()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
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
