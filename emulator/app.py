"""The aiohttp application: the URL table, start-up and shut-down.

The URL table maps Appwrite's routes (and the older aliases clients still call) to small handlers
in emulator/api/. What every route shares (origin and host checks, CORS, commits, the error
envelope, auth) is in middlewares.py; serving the app (the socket, protocol errors) in server.py.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

from aiohttp import web

from .api import console, deployments, executions, functions, misc, variables
from .api import events as emulator_events
from .api import templates, usage
from .api.common import STATE_KEY
from . import console_ui, openapi
from .middlewares import (GUEST_HANDLERS, PUBLIC_HANDLERS, auth_middleware, commit_middleware, cors_middleware,
                          error_middleware, origin_guard, response_format_middleware)
from .api.function_domains import function_domain_router
from .params import MAX_BODY_BYTES
from .services.builds import BuildQueue
from .services.executions import ExecutionRunner
from .services.state import Settings, State
from .store import Store

log = logging.getLogger("emulator")
# A request line or one header may be up to 64 KiB (list queries travel in the URL; aiohttp's
# default is 8 KiB); beyond that aiohttp itself answers 400 (in the envelope: server.py).
HANDLER_ARGS = {"max_line_size": 65536, "max_field_size": 65536}

F = "/v1/functions"
FN = F + "/{functionId}"
DEP = FN + "/deployments/{deploymentId}"
ROUTES = [
    ("GET", "/v1/health/version", misc.health_version),
    ("GET", "/v1/ping", misc.ping),
    ("GET", F + "/runtimes", functions.list_runtimes),
    ("GET", F + "/specifications", functions.list_specifications),
    # Static segments, listed before `{functionId}` routes (aiohttp also prefers a plain path).
    ("GET", F + "/usage", usage.list_functions_usage),
    ("GET", F + "/templates", templates.list_templates),
    ("GET", F + "/templates/{templateId}", templates.get_template),
    ("GET", FN + "/usage", usage.get_function_usage),
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
# aiohttp tries the routes under one static prefix (here /v1/functions) in the order they were
# added: the path every execution takes is added first, a dozen fewer pattern matches per call.
HOT_PATH = FN + "/executions"
# Routes anyone may call, as Appwrite's `public` scope.
PUBLIC = {misc.health_version, misc.ping, functions.list_runtimes}
# Appwrite's templates endpoints have the `public` scope too.
PUBLIC |= {templates.list_templates, templates.get_template}
# Routes a request without a key reaches as Appwrite's guests role (the client SDKs): the handler
# lets it through only for a function whose `execute` includes `any` or `guests`.
GUESTS = frozenset({executions.create_execution})

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
# The web console's pages and assets (emulator/console_ui): served with the API, but not API routes
# (no /v1, not in the OpenAPI document); public, as they hold no data.
PUBLIC |= console_ui.PUBLIC


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
                          middlewares=[origin_guard, function_domain_router, cors_middleware, commit_middleware,
                                       error_middleware, auth_middleware, response_format_middleware],
                          handler_args=HANDLER_ARGS)
    # Whatever the server writes from now on (database, deployments, builds, logs) is the owner's
    # only; the data dir is 0700 as well, so older files are covered by their directory.
    os.umask(0o077)
    # Absolute: runtimes start in their build dirs, and paths handed to them must still resolve.
    settings.data_dir = Path(settings.data_dir).absolute()
    _own_data_dir(settings.data_dir)
    state = State(settings=settings, store=Store(settings.data_dir / "emulator.db"))
    app[STATE_KEY] = state
    app[PUBLIC_HANDLERS] = frozenset(PUBLIC)
    app[GUEST_HANDLERS] = GUESTS
    for method, path, handler in sorted(ROUTES + console_ui.ROUTES, key=lambda route: route[1] != HOT_PATH):
        if method == "GET":  # Appwrite answers HEAD on every GET route (headers, no body)
            app.router.add_get(path, handler, allow_head=True)
        else:
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
