"""Request schemas (JSON Schema) for every endpoint, and validation with Appwrite's error texts.

Handlers call `validate(operation, params)`; it coerces the loose encodings clients use
(`"true"` for booleans and numbers as strings in query strings and multipart), drops unknown
parameters (Appwrite ignores them), and raises `general_argument_invalid` with the same wording as
Appwrite's validators. The same schemas describe the API in the OpenAPI document.
"""
from __future__ import annotations

import threading

from .errors import invalid_param, missing_param
from .ids import CUSTOM_ID_DESCRIPTION, UID_DESCRIPTION, is_valid_id
from .roles import role_error
from .schedule import is_valid_cron
from .specifications import SPEC_SLUGS

MAX_TIMEOUT = 900


def _custom_id(value) -> bool:
    return not isinstance(value, str) or value == "unique()" or is_valid_id(value)


def _uid(value) -> bool:
    return not isinstance(value, str) or is_valid_id(value)


def _roles(value) -> bool:  # Appwrite's Roles validator (roles.py), with its own wording in _describe
    return role_error(value) is None


def _cron(value) -> bool:
    return not isinstance(value, str) or value == "" or is_valid_cron(value)


FORMATS = {"custom-id": _custom_id, "uid": _uid, "roles": _roles, "cron": _cron}


S = {"type": "string"}


def text(max_len: int, min_len: int = 0) -> dict:
    return {"type": "string", "minLength": min_len, "maxLength": max_len}


def strings(max_items: int, item_len: int = 256) -> dict:
    return {"type": "array", "maxItems": max_items, "items": text(item_len)}


# Appwrite checks the three with its Specification validator, which has its own wording (`_describe`).
SPECIFICATION = {"type": "string", "enum": SPEC_SLUGS}
USAGE_RANGE = {"type": "string", "enum": ["24h", "30d", "90d"]}

FUNCTION_FIELDS = {
    "name": text(128, 1),
    "runtime": text(128, 1),
    "execute": {"type": "array", "items": S, "format": "roles"},
    "events": strings(100, 256),
    "schedule": {"type": "string", "format": "cron", "maxLength": 256},
    "timeout": {"type": "integer", "minimum": 1, "maximum": MAX_TIMEOUT},
    "enabled": {"type": "boolean"},
    "logging": {"type": "boolean"},
    "entrypoint": text(1028),
    "commands": text(8192),
    "scopes": strings(200, 128),
    "installationId": text(256),
    "providerRepositoryId": text(256),
    "providerBranch": text(256),
    "providerSilentMode": {"type": "boolean"},
    "providerRootDirectory": text(256),
    "providerBranches": strings(100, 128),
    "providerPaths": strings(100, 128),
    "specification": SPECIFICATION,
    "buildSpecification": SPECIFICATION,
    "runtimeSpecification": SPECIFICATION,
    "deploymentRetention": {"type": "integer", "minimum": 0, "maximum": 36500},
    "description": text(8192),
    "interval": {"type": ["integer", "null"], "minimum": 0},
    "emailEnabled": {"type": "boolean"},
    "templateRepository": text(256), "templateOwner": text(256), "templateRootDirectory": text(256),
    "templateVersion": text(256),
    # Emulator extension: run this function with another executor than the server's default.
    "executor": {"type": "string", "enum": ["local", "docker"]},
    # Appwrite 0.15 clients send variables inline as an object.
    "vars": {"type": ["object", "array"]},
}
QUERIES = {"type": "array", "maxItems": 100, "items": {"type": ["string", "object"]}}
SEARCH = text(256)
TOTAL = {"type": "boolean"}
LIST = {"properties": {"queries": QUERIES, "search": SEARCH, "total": TOTAL,
                       # Appwrite 0.15 list parameters, translated to queries by the services.
                       "limit": {"type": "integer", "minimum": 0, "maximum": 5000},
                       "offset": {"type": "integer", "minimum": 0},
                       "cursor": text(36), "cursorDirection": {"type": "string", "enum": ["after", "before"]},
                       "orderType": {"type": "string", "enum": ["ASC", "DESC", "asc", "desc"]}}}

# The largest execution body Appwrite's API takes (its Text(10485760)), as text or as bytes.
EXECUTION_BODY_MAX = 10_485_760

SCHEMAS: dict[str, dict] = {
    "listFunctions": LIST,
    "createFunction": {"required": ["functionId", "name", "runtime"],
                       "properties": {"functionId": {"type": "string", "format": "custom-id", "maxLength": 36},
                                      **FUNCTION_FIELDS}},
    "updateFunction": {"required": ["name"], "properties": FUNCTION_FIELDS},
    "updateFunctionDeployment": {"required": ["deploymentId"],
                                 "properties": {"deploymentId": {"type": "string", "format": "uid"}}},
    "listSpecifications": {"properties": {"type": {"type": "string", "enum": ["runtimes", "builds"]}}},
    "listDeployments": LIST,
    "createDeployment": {"required": ["activate"],
                         "properties": {"activate": {"type": "boolean"}, "entrypoint": text(1028),
                                        "commands": text(8192)}},
    "createDuplicateDeployment": {"required": ["deploymentId"],
                                  "properties": {"deploymentId": {"type": "string", "format": "uid"},
                                                 "buildId": text(36)}},
    "getDeploymentDownload": {"properties": {"type": {"type": "string", "enum": ["source", "output"]},
                                             "token": text(2048)}},
    # Appwrite 1.9.6 takes no `search` here: one sent is ignored, as any unknown parameter.
    "listExecutions": {"properties": {k: v for k, v in LIST["properties"].items() if k != "search"}},
    "createExecution": {"properties": {
        "body": text(EXECUTION_BODY_MAX),
        "data": text(EXECUTION_BODY_MAX),  # before Appwrite 1.4 the body was called `data`
        "async": {"type": "boolean"},
        "path": text(2048),
        "method": {"type": "string", "enum": ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"]},
        "headers": {"type": ["object", "string"]},
        "scheduledAt": {"type": ["string", "null"], "maxLength": 100}}},
    "listVariables": LIST,
    "createVariable": {"required": ["key", "value"],
                       "properties": {"variableId": {"type": "string", "format": "custom-id", "maxLength": 36},
                                      "key": text(255, 1), "value": text(8192), "secret": {"type": "boolean"},
                                      "description": text(8192)}},
    "updateVariable": {"properties": {"key": text(255, 1), "value": text(8192), "secret": {"type": "boolean"},
                                      "description": text(8192)}},
    "createSession": {"properties": {"email": text(320), "password": text(256)}},
    "getFunctionUsage": {"properties": {"range": USAGE_RANGE}},
    "listFunctionsUsage": {"properties": {"range": USAGE_RANGE}},
    "listTemplates": {"properties": {"runtimes": strings(100, 128), "useCases": strings(100, 128),
                                     "limit": {"type": "integer", "minimum": 1, "maximum": 5000},
                                     "offset": {"type": "integer", "minimum": 0, "maximum": 5000},
                                     "total": {"type": "boolean"}}},
}

# Importing jsonschema takes ~30 ms, a tenth of `dev`'s start before its first answer, and no
# request needs it before then: the validators are built on first use, or ahead of it by a thread
# (`load_validators_in_background`) that `serve` starts once it listens and `dev` while its first
# runtime starts. A thread takes the interpreter's lock from whatever runs: started while the
# server is busy, it would only slow that down.
_validators: dict | None = None
_validators_lock = threading.Lock()
_loading = False


def _load_validators() -> dict:
    global _validators
    with _validators_lock:
        if _validators is None:
            from jsonschema import Draft202012Validator, FormatChecker
            formats = FormatChecker()
            for name, check in FORMATS.items():
                formats.checks(name)(check)
            _validators = {op: Draft202012Validator({"type": "object", **schema}, format_checker=formats)
                           for op, schema in SCHEMAS.items()}
    return _validators


def load_validators_in_background() -> None:
    global _loading
    if _validators is None and not _loading:
        _loading = True
        threading.Thread(target=_load_validators, name="schema-validators", daemon=True).start()


_TRUE = {True, "true", "1", 1, "True"}
_FALSE = {False, "false", "0", 0, "False", ""}


def _coerce(value, schema: dict):
    types = schema.get("type")
    types = types if isinstance(types, list) else [types]
    if isinstance(value, str):
        if "boolean" in types and (value in _TRUE or value in _FALSE):
            return value in _TRUE
        if "integer" in types:
            try:
                return int(value)
            except ValueError:
                return value
        if "array" in types and "string" not in types:
            return [value]
    if isinstance(value, int) and not isinstance(value, bool) and "boolean" in types and value in (0, 1):
        return bool(value)
    if isinstance(value, float) and "integer" in types and value.is_integer():
        return int(value)
    if isinstance(value, dict) and "array" in types and all(k.isdigit() for k in value):
        return [value[k] for k in sorted(value, key=int)]
    return value


def validate(operation: str, params: dict) -> dict:
    schema = SCHEMAS[operation]
    props = schema.get("properties", {})
    # A null is an omitted parameter (Appwrite's router then takes the default).
    clean = {k: _coerce(v, props[k]) for k, v in params.items() if k in props and v is not None}
    for key in schema.get("required", []):
        if clean.get(key) is None:
            raise missing_param(key)
    validators = _validators if _validators is not None else _load_validators()
    errors = sorted(validators[operation].iter_errors(clean), key=lambda e: list(e.path))
    if errors:
        err = errors[0]
        key = str(err.path[0]) if err.path else "params"
        raise invalid_param(key, _describe(err, props.get(key, {})))
    return clean


def _describe(err, schema: dict) -> str:
    if schema is SPECIFICATION:
        return "Specification must be one of: " + ", ".join(SPEC_SLUGS)
    if schema.get("format") == "custom-id":  # Appwrite's CustomId (Key) validator
        return CUSTOM_ID_DESCRIPTION
    if schema.get("format") == "uid":  # Appwrite's UID validator: same rule, its own wording
        return UID_DESCRIPTION
    if schema.get("format") == "roles":
        return role_error(err.instance if len(err.path) == 1 else [err.instance]) or err.message
    if schema.get("format") == "cron":
        return "String must be a valid cron expression"
    validator = err.validator
    if validator in ("minimum", "maximum"):
        return f"Value must be a valid range between {schema.get('minimum', 0):,} and {schema.get('maximum', 0):,}"
    if validator in ("minLength", "maxLength"):
        return f"Value must be a valid string and at least {schema.get('minLength', 0)} chars and no longer than {schema.get('maxLength')} chars"
    if validator == "maxItems":
        return f"Value must a valid array no longer than {schema.get('maxItems')} items"
    if validator == "enum":
        return "Value must be one of (" + ", ".join(map(str, schema["enum"])) + ")"
    if validator == "type":
        wanted = schema.get("type")
        wanted = wanted if isinstance(wanted, str) else " or ".join(wanted)
        return {"boolean": "Value must be a valid boolean", "integer": "Value must be a valid integer",
                "string": "Value must be a valid string", "array": "Value must a valid array"}.get(
            wanted, f"Value must be a valid {wanted}")
    return err.message
