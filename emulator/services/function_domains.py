"""Function domains: which function a host name names, whether it may run, and running it.

A host `<name>.<functions domain>` (Settings.functions_domain) names a function through a proxy
rule for exactly that domain (what `appwrite push` creates), else through `<name>` being the
function's id. The request runs as a synchronous execution, recorded with trigger `http`, by the
same code as `POST .../executions` (executions.run_sync). Knows nothing about HTTP.
"""
from __future__ import annotations

from ..errors import AppwriteError
from ..ids import is_valid_id
from ..roles import guests_may_execute
from .executions import Caller, new_execution, run_sync
from .functions import check_runtime
from .state import State

# An active deployment that is not ready, as the domain explains it (Appwrite's router).
NOT_READY = {"failed": "build_failed", "canceled": "build_canceled"}
UNKNOWN_DOMAIN = ("This domain is not connected to any Appwrite resources. Visit domains tab under function/site "
                  "settings to configure it.")


def domain_label(state: State, hostname: str) -> str | None:
    """`<name>` of a `<name>.<functions domain>` host with a valid id as name, else None."""
    suffix = "." + state.settings.functions_domain
    if not hostname.endswith(suffix):
        return None
    label = hostname[:-len(suffix)]
    return label if is_valid_id(label) else None


def function_of_host(state: State, hostname: str) -> tuple[str, str]:
    """(project, function id) the function domain `hostname` names; Appwrite's not-found errors."""
    for project, _, rule in state.store.rules_for_domain(hostname):
        return project, rule["deploymentResourceId"]
    label = domain_label(state, hostname)
    found = state.store.functions_named(label) if label else []
    if not found:
        raise AppwriteError("rule_not_found", UNKNOWN_DOMAIN)
    if len(found) > 1:  # the same id in several projects (or in several cases): a rule must say which
        raise AppwriteError("rule_not_found", f"Function id {label!r} exists more than once (in several projects, "
                            "or differing in case). Create a proxy rule (POST /v1/proxy/rules/function) with its "
                            "own domain and call that.")
    project, _, function = found[0]
    return project, function["$id"]


def runnable(state: State, project: str, function_id: str) -> tuple[dict, dict]:
    """The function and its active deployment, if a request on its domain may run it. As Appwrite's
    router: no caller holds a key there, so the function must be enabled and let guests execute."""
    function = state.store.get("functions", project, "", function_id)
    if function is None:
        raise AppwriteError("function_not_found")
    # The active deployment, as a function's rule names it in Appwrite: a build that failed or was
    # canceled never became active, so the domain then has none (Appwrite's e2e testErrorPages).
    deployment = state.store.get("deployments", project, function_id, function.get("deploymentId") or "")
    if deployment is None:
        raise AppwriteError("deployment_not_found")
    if not function.get("enabled", True):
        raise AppwriteError("function_not_found")
    check_runtime(function["runtime"])
    if deployment.get("status") != "ready":  # the active deployment rebuilding (a retried build)
        raise AppwriteError(NOT_READY.get(deployment.get("status"), "build_not_ready"))
    if not guests_may_execute(function.get("execute")):
        raise AppwriteError("function_execute_permission_missing")
    return function, deployment


async def run_request(state: State, project: str, function: dict, deployment: dict, method: str, target: str,
                      headers: dict, body: bytes, client_ip: str) -> tuple[dict, dict]:
    """Run `function` (as `runnable` found it) for one request on its domain: (execution document,
    the function's response with body and every header)."""
    # The client's address is the emulator's to tell (as every x-appwrite-* header run_execution sets).
    headers = {k: v for k, v in headers.items() if k != "x-appwrite-client-ip"}
    caller = Caller(is_key=False, client_ip=client_ip, guest=True)
    doc = new_execution(function, deployment["$id"], trigger="http", method=method, path=target,
                        user_headers=headers, caller=caller)
    return doc, await run_sync(state, project, function, deployment, doc, body, headers, caller)
