"""Request schemas (JSON Schema) for every endpoint, and validation with Appwrite's error texts.

Handlers call `validate(operation, params)`; it coerces the loose encodings clients use
(`"true"` for booleans and numbers as strings in query strings and multipart), drops unknown
parameters (Appwrite ignores them), and raises `general_argument_invalid` with the same wording as
Appwrite's validators. The same schemas describe the API in the OpenAPI document.
"""
from __future__ import annotations

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

# Validation covers the keywords these schemas use, by hand: importing jsonschema took ~50 ms of the
# interpreter's time, which in `dev` came between the first deployment and its first answer (the
# process does everything on one interpreter lock, so a background import only moved the wait).
# tests/unit/test_schema_check.py holds the result to jsonschema's (Draft 2020-12) on generated
# parameters of every operation, and fails on a keyword added here that this does not know.
KNOWN_KEYWORDS = frozenset({"type", "properties", "required", "items", "minLength", "maxLength", "minimum",
                            "maximum", "maxItems", "enum", "format"})


class SchemaError:
    """One failed keyword, named as jsonschema names its errors (`validator`, `path`, `instance`)."""
    __slots__ = ("validator", "path", "instance", "message")

    def __init__(self, validator: str, path: tuple, instance, message: str):
        self.validator, self.path, self.instance, self.message = validator, path, instance, message


def _is_type(value, name: str) -> bool:
    if name == "string":
        return isinstance(value, str)
    if name == "boolean":
        return isinstance(value, bool)
    if name == "integer":  # 2020-12: a float with no fraction is an integer
        return (isinstance(value, int) and not isinstance(value, bool)) or (isinstance(value, float) and value.is_integer())
    if name == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if name == "array":
        return isinstance(value, list)
    if name == "object":
        return isinstance(value, dict)
    if name == "null":
        return value is None
    raise ValueError(f"unknown type {name!r}")


def _equal(a, b) -> bool:
    """JSON equality, as jsonschema's `enum` has it: true is not 1, 1 is 1.0, containers compare deeply."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    return a == b


def iter_errors(schema: dict, value, path: tuple = ()):
    """The errors of `value` against `schema`, keyword by keyword in the schema's order."""
    for keyword, arg in schema.items():
        if keyword == "type":
            names = arg if isinstance(arg, list) else [arg]
            if not any(_is_type(value, name) for name in names):
                yield SchemaError("type", path, value, f"{value!r} is not of type {', '.join(map(repr, names))}")
        elif keyword == "properties":
            if isinstance(value, dict):
                for name, sub in arg.items():
                    if name in value:
                        yield from iter_errors(sub, value[name], (*path, name))
        elif keyword == "items":
            if isinstance(value, list):
                for index, item in enumerate(value):
                    yield from iter_errors(arg, item, (*path, index))
        elif keyword == "required":
            if isinstance(value, dict):
                for name in arg:
                    if name not in value:
                        yield SchemaError("required", path, value, f"{name!r} is a required property")
        elif keyword in ("minLength", "maxLength"):
            if isinstance(value, str) and (len(value) < arg if keyword == "minLength" else len(value) > arg):
                yield SchemaError(keyword, path, value, f"{value!r} is too {'short' if keyword == 'minLength' else 'long'}")
        elif keyword in ("minimum", "maximum"):
            if _is_type(value, "number") and (value < arg if keyword == "minimum" else value > arg):
                yield SchemaError(keyword, path, value, f"{value!r} is {'less' if keyword == 'minimum' else 'greater'} "
                                                        f"than the {keyword} of {arg!r}")
        elif keyword == "maxItems":
            if isinstance(value, list) and len(value) > arg:
                yield SchemaError(keyword, path, value, f"{value!r} is too long")
        elif keyword == "enum":
            if not any(_equal(value, option) for option in arg):
                yield SchemaError("enum", path, value, f"{value!r} is not one of {arg!r}")
        elif keyword == "format":
            if not FORMATS[arg](value):
                yield SchemaError("format", path, value, f"{value!r} is not a {arg!r}")
        else:
            raise ValueError(f"schema keyword {keyword!r} is not supported by schemas.iter_errors")


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
    errors = sorted(iter_errors(schema, clean), key=lambda e: list(e.path))
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
