"""Function variables: CRUD. Any change makes the function not `live` and restarts its instances
on the next execution (their environment is part of the instance fingerprint)."""
from __future__ import annotations

import re

from ..errors import AppwriteError, invalid_param
from ..ids import now_iso, unique_id
from ..schemas import SCHEMAS
from .lookup import get_function
from .listing import list_documents
from .state import State

KEY_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _mark_not_live(state: State, project: str, function_id: str) -> None:
    fn = get_function(state, project, function_id)
    fn["live"] = False
    state.store.update("functions", project, "", fn)


def get_variable(state: State, project: str, function_id: str, variable_id: str) -> dict:
    get_function(state, project, function_id)
    doc = state.store.get("variables", project, function_id, variable_id)
    if doc is None:
        raise AppwriteError("variable_not_found")
    return doc


def list_variables(state: State, project: str, function_id: str, params: dict) -> tuple[int, list[dict]]:
    get_function(state, project, function_id)
    return list_documents(state.store, "variables", project, function_id, params)


KEY_DESCRIPTION = "Variable keys may contain only letters, digits and underscores, and must not start with a digit."
# Legacy `vars` get the same limits as createVariable's key and value.
_VARIABLE = SCHEMAS["createVariable"]["properties"]
MAX_KEY, MAX_VALUE = _VARIABLE["key"]["maxLength"], _VARIABLE["value"]["maxLength"]


def _check_key(key: str, param: str = "key") -> None:
    if not KEY_PATTERN.fullmatch(key):
        raise invalid_param(param, KEY_DESCRIPTION)


def legacy_variables(raw) -> list[dict]:
    """Appwrite 0.15's inline `vars` ({key: value}) as createVariable params, all checked, so a
    function is created with all of them or, on a 400, not at all."""
    if not isinstance(raw, dict):
        return []
    out = []
    for key, value in raw.items():
        key, value = str(key), value if isinstance(value, str) else str(value)
        _check_key(key, "vars")
        if len(key) > MAX_KEY or len(value) > MAX_VALUE:
            raise invalid_param("vars", f"Variable keys may be at most {MAX_KEY} chars and values {MAX_VALUE} chars long.")
        out.append({"key": key, "value": value, "secret": False})
    return out


def create_variable(state: State, project: str, function_id: str, params: dict) -> dict:
    get_function(state, project, function_id)
    _check_key(params["key"])
    variable_id = params.get("variableId") or "unique()"
    if variable_id == "unique()":
        variable_id = unique_id()
    if state.store.get("variables", project, function_id, variable_id) is not None or \
            state.store.variable_key_taken(project, function_id, params["key"]):
        raise AppwriteError("variable_already_exists")
    now = now_iso()
    doc = {"$id": variable_id, "$createdAt": now, "$updatedAt": now, "key": params["key"],
           "description": params.get("description", ""), "value": params["value"],
           "secret": params.get("secret", False), "resourceType": "function", "resourceId": function_id}
    state.store.insert("variables", project, function_id, doc)
    _mark_not_live(state, project, function_id)
    return doc


def update_variable(state: State, project: str, function_id: str, variable_id: str, params: dict) -> dict:
    doc = get_variable(state, project, function_id, variable_id)
    if all(params.get(k) is None for k in ("key", "value", "secret", "description")):
        raise AppwriteError("general_argument_invalid", "Missing key, value or secret. At least one is required.")
    if params.get("secret") is False and doc.get("secret"):
        raise AppwriteError("variable_cannot_unset_secret")
    if params.get("key") is not None:
        _check_key(params["key"])
        if state.store.variable_key_taken(project, function_id, params["key"], variable_id):
            raise AppwriteError("variable_already_exists")
        doc["key"] = params["key"]
    for field in ("value", "secret", "description"):
        if params.get(field) is not None:
            doc[field] = params[field]
    state.store.update("variables", project, function_id, doc)
    _mark_not_live(state, project, function_id)
    return doc


def delete_variable(state: State, project: str, function_id: str, variable_id: str) -> None:
    get_variable(state, project, function_id, variable_id)
    state.store.delete("variables", project, function_id, variable_id)
    _mark_not_live(state, project, function_id)
