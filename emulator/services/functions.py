"""Functions: create, read, update, delete, activate a deployment, and the environment a function sees."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Mapping

from ..errors import AppwriteError, invalid_param
from ..ids import is_valid_id, now_iso, parse_iso, to_iso, unique_id
from ..languages import LANGUAGES, language_for_runtime, runtime_ids
from ..schedule import is_valid_cron, next_run
from ..serializers import parse_version
from ..specifications import DEFAULT_SPECIFICATION, SPECIFICATIONS
from ..version import APPWRITE_VERSION
from .listing import list_documents
from .lookup import get_function  # noqa: F401 - callers find it here too
from .state import State, deployment_key
from .variables import create_variable, legacy_variables

# Fields that PUT resets to their default when omitted (Appwrite's full-replace semantics).
RESET_ON_UPDATE = {"execute": [], "events": [], "schedule": "", "timeout": 15, "enabled": True, "logging": True,
                   "commands": "", "scopes": [], "providerSilentMode": False, "deploymentRetention": 0}
# Fields that PUT keeps when omitted.
KEEP_ON_UPDATE = ("runtime", "entrypoint", "buildSpecification", "runtimeSpecification", "providerBranches",
                  "providerPaths", "installationId", "providerRepositoryId", "providerBranch",
                  "providerRootDirectory", "description", "interval", "emailEnabled", "executor")
# A change of these makes the function not `live` until it is redeployed.
LIVE_FIELDS = ("name", "entrypoint", "commands", "runtime", "providerRootDirectory")


def contract_version(appwrite_version: str) -> str:
    """The runtime contract a new function gets: Appwrite 1.0-1.3 ran v2 runtimes; 1.4+ v3 and
    later, which Appwrite's own executor now maps to v5."""
    return "v2" if parse_version(appwrite_version) < (1, 4, 0) else "v5"


def list_functions(state: State, project: str, params: dict) -> tuple[int, list[dict]]:
    return list_documents(state.store, "functions", project, "", params)


def function_variables(state: State, project: str, function_id: str) -> list[dict]:
    return state.store.select("variables", project, function_id)


# Appwrite runtimes no language module here runs (ids as the Python SDK 27 lists them): they pass
# the `runtime` whitelist and are then "not supported", as a runtime Appwrite has but has not enabled.
NOT_RUN_HERE = ("bun-1.0", "bun-1.1", "bun-1.2", "bun-1.3", "bun-1.4", "go-1.23", "go-1.24", "go-1.25", "go-1.26",
                "rust-1.83", "static-1", "flutter-3.24", "flutter-3.27", "flutter-3.29", "flutter-3.32",
                "flutter-3.35", "flutter-3.38", "flutter-3.41", "flutter-3.44", "flutter-3.47")


def known_runtimes() -> list[str]:
    """Every runtime id the `runtime` parameter accepts: the ones run here, then NOT_RUN_HERE."""
    return runtime_ids() + list(NOT_RUN_HERE)


def check_runtime_param(runtime: str) -> None:
    """Appwrite's `runtime` parameter is a whitelist of every runtime it knows: an id outside it is a
    bad argument (400); one it knows but does not run is `function_runtime_unsupported` (check_runtime)."""
    known = known_runtimes()
    if runtime not in known:
        raise invalid_param("runtime", "Value must be one of (" + ", ".join(known) + ")")


def check_runtime(runtime: str) -> None:
    if language_for_runtime(runtime) is None:
        raise AppwriteError("function_runtime_unsupported", f'Runtime "{runtime}" is not supported')


def _apply_specification(doc: dict, params: dict) -> None:
    # Clients built for Appwrite < 1.9 send one `specification` for both.
    if params.get("specification"):
        doc["buildSpecification"] = doc["runtimeSpecification"] = params["specification"]
    for key in ("buildSpecification", "runtimeSpecification"):
        if params.get(key):
            doc[key] = params[key]


def _schedule_next(doc: dict) -> None:
    doc["scheduleNext"] = to_iso(next_run(doc["schedule"], datetime.now(timezone.utc))) if doc.get("schedule") else ""


def create_function(state: State, project: str, params: dict) -> dict:
    function_id = params["functionId"]
    if function_id == "unique()":
        function_id = unique_id()
    check_runtime_param(params["runtime"])  # a parameter check: before anything is looked up
    if state.store.get("functions", project, "", function_id) is not None:
        raise AppwriteError("function_already_exists")
    check_runtime(params["runtime"])
    if params.get("providerRepositoryId") and not (params.get("installationId") and params.get("providerBranch")):
        raise AppwriteError("general_argument_invalid",
                            "When connecting to VCS (Version Control System), you need to provide \"installationId\" and \"providerBranch\".")
    legacy_vars = legacy_variables(params.get("vars"))  # Appwrite 0.15: variables inline as {key: value}
    state.function_dir(project, function_id)  # an id that could not name a folder fails here, before any write
    now = now_iso()
    doc = {
        "$id": function_id, "$createdAt": now, "$updatedAt": now,
        "execute": params.get("execute", []), "name": params["name"], "description": params.get("description", ""),
        "enabled": params.get("enabled", True), "live": True, "logging": params.get("logging", True),
        "runtime": params["runtime"], "deploymentRetention": params.get("deploymentRetention", 0),
        "deploymentId": "", "deploymentCreatedAt": "", "latestDeploymentId": "", "latestDeploymentCreatedAt": "",
        "latestDeploymentStatus": "", "scopes": params.get("scopes", []), "events": params.get("events", []),
        "schedule": params.get("schedule", ""), "interval": params.get("interval"),
        "timeout": params.get("timeout", 15), "entrypoint": params.get("entrypoint", ""),
        "commands": params.get("commands", ""), "version": contract_version(state.settings.appwrite_version),
        "installationId": params.get("installationId", ""),
        "providerRepositoryId": params.get("providerRepositoryId", ""),
        "providerBranch": params.get("providerBranch", ""),
        "providerRootDirectory": params.get("providerRootDirectory", ""),
        "providerSilentMode": params.get("providerSilentMode", False),
        "providerBranches": params.get("providerBranches", []), "providerPaths": params.get("providerPaths", []),
        "buildSpecification": DEFAULT_SPECIFICATION, "runtimeSpecification": DEFAULT_SPECIFICATION,
        "emailEnabled": params.get("emailEnabled", False),
        "executor": params.get("executor", ""),
    }
    _apply_specification(doc, params)
    _schedule_next(doc)
    state.store.insert("functions", project, "", doc)
    for variable in legacy_vars:
        create_variable(state, project, function_id, variable)
    if legacy_vars:
        doc = get_function(state, project, function_id)
    return doc


def update_function(state: State, project: str, function_id: str, params: dict) -> dict:
    doc = get_function(state, project, function_id)
    if params.get("runtime"):
        check_runtime_param(params["runtime"])
        check_runtime(params["runtime"])
    before = {k: doc.get(k) for k in LIVE_FIELDS}
    doc["name"] = params["name"]
    for key, default in RESET_ON_UPDATE.items():
        doc[key] = params.get(key, default)
    for key in KEEP_ON_UPDATE:
        if params.get(key) not in (None, ""):
            doc[key] = params[key]
    _apply_specification(doc, params)
    if any(doc.get(k) != v for k, v in before.items()):
        doc["live"] = False
    _schedule_next(doc)
    return state.store.update("functions", project, "", doc)


async def delete_function(state: State, project: str, function_id: str) -> None:
    doc = get_function(state, project, function_id)
    folder = state.function_dir(project, function_id)  # checked before anything is deleted
    deployments = state.store.select("deployments", project, function_id)
    executor = state.executor_for(doc)
    for dep in deployments:
        if is_valid_id(dep["$id"]):  # a row an older version stored under a bad id never ran under this key
            await executor.stop_deployment(deployment_key(project, dep["$id"]))
    for collection in ("deployments", "executions", "variables"):
        state.store.delete_children(collection, project, function_id)
    state.store.delete("functions", project, "", function_id)
    state.remove_tree(folder)


async def activate_deployment(state: State, project: str, function_id: str, deployment_id: str) -> dict:
    """Point the function at a ready deployment and retire the instances of the previous one."""
    doc = get_function(state, project, function_id)
    dep = state.store.get("deployments", project, function_id, deployment_id)
    if dep is None:
        raise AppwriteError("deployment_not_found")
    if dep.get("status") != "ready":
        raise AppwriteError("build_not_ready")
    previous = doc.get("deploymentId")
    doc["deploymentId"] = deployment_id
    doc["deploymentCreatedAt"] = dep["$createdAt"]
    doc["live"] = True
    state.store.update("functions", project, "", doc)
    if previous and previous != deployment_id:  # its calls in flight end where they run
        await state.executor_for(doc).retire_deployment(deployment_key(project, previous))
    return doc


def refresh_latest_deployment(state: State, project: str, function_id: str) -> None:
    doc = state.store.get("functions", project, "", function_id)
    if doc is None:
        return
    latest = state.store.select("deployments", project, function_id, order="seq DESC", limit=1)
    if latest:
        dep = latest[0]
        doc.update(latestDeploymentId=dep["$id"], latestDeploymentCreatedAt=dep["$createdAt"],
                   latestDeploymentStatus=dep.get("status", ""))
    else:
        doc.update(latestDeploymentId="", latestDeploymentCreatedAt="", latestDeploymentStatus="")
    state.store.update("functions", project, "", doc, touch=False)


def specification_of(function: dict, kind: str = "runtime") -> tuple[float, int]:
    slug = function.get(f"{kind}Specification") or DEFAULT_SPECIFICATION
    for s, cpus, memory in SPECIFICATIONS:
        if s == slug:
            return cpus, memory
    return 1, 512


def function_env(state: State, project: str, function: dict, deployment_id: str) -> dict[str, str]:
    """The environment of a function's instances: its variables, then Appwrite's own (which win)."""
    env = {v["key"]: str(v["value"]) for v in function_variables(state, project, function["$id"])}
    language = language_for_runtime(function["runtime"])
    version = function["runtime"].rpartition("-")[2]
    cpus, memory = specification_of(function)
    env.update({
        "APPWRITE_FUNCTION_API_ENDPOINT": state.settings.endpoint,
        "APPWRITE_FUNCTION_ID": function["$id"],
        "APPWRITE_FUNCTION_NAME": function["name"],
        "APPWRITE_FUNCTION_DEPLOYMENT": deployment_id,
        "APPWRITE_FUNCTION_PROJECT_ID": project,
        "APPWRITE_FUNCTION_RUNTIME_NAME": language.name if language else function["runtime"],
        "APPWRITE_FUNCTION_RUNTIME_VERSION": version,
        "APPWRITE_FUNCTION_CPUS": f"{cpus:g}",
        "APPWRITE_FUNCTION_MEMORY": str(memory),
        "APPWRITE_VERSION": APPWRITE_VERSION,
        "APPWRITE_REGION": "default",
        "APPWRITE_DEPLOYMENT_TYPE": "",
    })
    return env


def runtimes_catalog(toolchains: Mapping[str, str] | None = None) -> list[dict]:
    """Appwrite's Runtime models, plus what runs each one on this machine's local executor (with the
    user's `--toolchain` mappings): probes toolchains, so callers run it off the event loop."""
    out = []
    for lang in LANGUAGES.values():
        for version in lang.versions:
            runtime = language_for_runtime(f"{lang.key}-{version}", toolchains)
            toolchain = runtime.toolchain()
            out.append({
                "$id": runtime.runtime_id, "key": lang.key, "name": lang.name, "version": version,
                "base": f"openruntimes/{lang.key}:v5-{version}", "image": f"openruntimes/{lang.key}:v5-{version}",
                "logo": f"{lang.key}.png", "supports": ["amd64", "arm64"],
                # Emulator extras: can this machine run it, with what (localNote: when that is not the
                # runtime's version), and how to install it.
                "available": toolchain.available, "localVersion": toolchain.version,
                "localBinary": runtime.versioned_binary() if toolchain.available else "",
                "localNote": runtime.version_note(), "installHint": toolchain.hint,
            })
    return out


def due_schedules(state: State, now: datetime) -> list[tuple[str, dict]]:
    """(project, function) pairs whose cron schedule is due."""
    rows = state.store.scheduled_functions()
    due = []
    for project, _, doc in rows:
        if not is_valid_cron(doc["schedule"]):  # stored under a laxer parser: it can't run, nor stop the others
            continue
        nxt = parse_iso(doc.get("scheduleNext") or "")
        if nxt is None:
            _schedule_next(doc)
            state.store.update("functions", project, "", doc, touch=False)
        elif nxt <= now:
            due.append((project, doc))
            doc["schedulePrevious"] = to_iso(nxt)
            doc["scheduleNext"] = to_iso(next_run(doc["schedule"], now))
            state.store.update("functions", project, "", doc, touch=False)
    return due
