"""`GET /v1/openapi.json`: an OpenAPI 3.1 description of the emulator, generated, never written.

Paths and methods come from the URL table (app.ROUTES), handed in as data. Each route's handler
names an entry of OPERATIONS below: its operationId, the JSON Schema (schemas.SCHEMAS) its
parameters are validated with, and what it answers on success. The success bodies are described
by RESPONSE_MODELS, written from Appwrite's response models (the attribute names and types the
official SDKs parse), not from this emulator's serialisers: the fuzzer checks every 2xx body
against them, so a serialiser that drifts from Appwrite's shape fails there. OpenAPI 3.1 uses
JSON Schema 2020-12, the dialect SCHEMAS is written in, so request schemas are copied as they are.
"""
from __future__ import annotations

import copy
import re
from typing import NamedTuple

from aiohttp import web

from .api.common import json_response
from .errors import APPWRITE_VERSION
from .schemas import SCHEMAS

_PATH_PARAM = re.compile(r"{(\w+)}")
# Endpoints that take a file besides their parameters (multipart only).
FILE_FIELDS = {"createDeployment": "code", "createExecution": "body"}

ERROR_SCHEMA = {
    "type": "object",
    "required": ["message", "code", "type", "version"],
    "properties": {"message": {"type": "string"}, "code": {"type": "integer"},
                   "type": {"type": "string"}, "version": {"type": "string"}},
}

# --- Appwrite's response models -----------------------------------------------------------------
# Types as Appwrite's Response/Model/*.php declare them (integer vs float), names and required keys
# as the Python SDK 27 models parse them; `null` only where a model allows it (Execution
# `scheduledAt`, Function `interval`). Extra keys are allowed: older clients read older names.
DATETIME = {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}[+-]\d{2}:\d{2}$"}
DATETIME_OR_EMPTY = {"anyOf": [DATETIME, {"const": ""}]}
STR, INT, NUM, BOOL = {"type": "string"}, {"type": "integer"}, {"type": "number"}, {"type": "boolean"}
STRINGS = {"type": "array", "items": STR}
DEPLOYMENT_STATUSES = ["waiting", "processing", "building", "ready", "canceled", "failed"]
# The figures of Appwrite's usageFunction: each a `<name>Total` integer and a `<name>` metric series.
USAGE_FIGURES = ("deployments", "deploymentsStorage", "builds", "buildsSuccess", "buildsFailed", "buildsStorage",
                 "buildsTime", "buildsMbSeconds", "executions", "executionsTime", "executionsMbSeconds")


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _model(required: dict, optional: dict | None = None) -> dict:
    return {"type": "object", "required": list(required),
            "properties": {**required, **(optional or {})}}


def _list(key: str, item: str) -> dict:
    return _model({"total": {"type": "integer", "minimum": 0}, key: {"type": "array", "items": _ref(item)}})


_DOCUMENT = {"$id": {"type": "string", "minLength": 1}, "$createdAt": DATETIME, "$updatedAt": DATETIME}
RESPONSE_MODELS: dict[str, dict] = {
    "function": _model({
        **_DOCUMENT, "execute": STRINGS, "name": STR, "description": STR, "enabled": BOOL, "live": BOOL,
        "logging": BOOL, "runtime": STR, "deploymentRetention": INT, "deploymentId": STR,
        "deploymentCreatedAt": DATETIME_OR_EMPTY, "latestDeploymentId": STR,
        "latestDeploymentCreatedAt": DATETIME_OR_EMPTY,
        "latestDeploymentStatus": {"type": "string", "enum": ["", *DEPLOYMENT_STATUSES]},
        "scopes": STRINGS, "vars": {"type": "array", "items": _ref("variable")}, "events": STRINGS,
        "schedule": STR, "timeout": INT, "entrypoint": STR, "commands": STR,
        "version": {"type": "string", "enum": ["v2", "v3", "v4", "v5"]}, "installationId": STR,
        "providerRepositoryId": STR, "providerBranch": STR, "providerRootDirectory": STR,
        "providerSilentMode": BOOL, "providerBranches": STRINGS, "providerPaths": STRINGS,
        "buildSpecification": STR, "runtimeSpecification": STR, "emailEnabled": BOOL,
    }, {"interval": {"type": ["number", "null"]}}),
    "deployment": _model({
        **_DOCUMENT, "type": {"type": "string", "enum": ["manual", "cli", "vcs"]}, "resourceId": STR,
        "resourceType": STR, "entrypoint": STR, "sourceSize": INT, "buildSize": INT, "totalSize": INT,
        "buildId": STR, "activate": BOOL, "screenshotLight": STR, "screenshotDark": STR,
        "status": {"type": "string", "enum": DEPLOYMENT_STATUSES}, "buildLogs": STR, "buildDuration": INT,
        "providerRepositoryName": STR, "providerRepositoryOwner": STR, "providerRepositoryUrl": STR,
        "providerCommitHash": STR, "providerCommitAuthorUrl": STR, "providerCommitAuthor": STR,
        "providerCommitMessage": STR, "providerCommitUrl": STR, "providerBranch": STR, "providerBranchUrl": STR,
    }),
    "headers": _model({"name": STR, "value": STR}),
    "execution": _model({
        **_DOCUMENT, "$permissions": STRINGS, "resourceId": STR,
        "resourceType": {"type": "string", "enum": ["functions", "sites"]}, "deploymentId": STR,
        "trigger": {"type": "string", "enum": ["http", "schedule", "event", "email"]},
        "status": {"type": "string", "enum": ["waiting", "processing", "completed", "failed", "scheduled"]},
        "requestMethod": STR, "requestPath": STR, "requestHeaders": {"type": "array", "items": _ref("headers")},
        "responseStatusCode": INT, "responseBody": STR,
        "responseHeaders": {"type": "array", "items": _ref("headers")}, "logs": STR, "errors": STR,
        "duration": {"type": "number", "minimum": 0},
        "scheduledAt": {"type": ["string", "null"]},  # the client's own ISO-8601 text, echoed
    }, {"functionId": STR}),
    "variable": _model({**_DOCUMENT, "key": STR, "description": STR, "value": STR, "secret": BOOL,
                        "resourceType": STR, "resourceId": STR}),
    "runtime": _model({"$id": STR, "key": STR, "name": STR, "version": STR, "base": STR, "image": STR,
                       "logo": STR, "supports": STRINGS}),
    "specification": _model({"memory": INT, "cpus": NUM, "enabled": BOOL, "slug": STR}),
    "healthVersion": _model({"version": STR}),
    "jwt": _model({"jwt": STR}),
    "session": _model({
        **_DOCUMENT, "userId": STR, "expire": DATETIME, "provider": STR, "providerUid": STR,
        "providerAccessToken": STR, "providerAccessTokenExpiry": STR, "providerRefreshToken": STR, "ip": STR,
        "osCode": STR, "osName": STR, "osVersion": STR, "clientType": STR, "clientCode": STR, "clientName": STR,
        "clientVersion": STR, "clientEngine": STR, "clientEngineVersion": STR, "deviceName": STR,
        "deviceBrand": STR, "deviceModel": STR, "countryCode": STR, "countryName": STR, "current": BOOL,
        "factors": STRINGS, "secret": STR, "mfaUpdatedAt": STR}),
    "user": _model({
        **_DOCUMENT, "name": STR, "registration": DATETIME, "status": BOOL, "labels": STRINGS,
        "passwordUpdate": DATETIME_OR_EMPTY, "email": STR, "phone": STR, "emailVerification": BOOL,
        "phoneVerification": BOOL, "mfa": BOOL, "prefs": {"type": "object"}, "targets": {"type": "array"},
        "accessedAt": DATETIME_OR_EMPTY}),
    "consoleVariables": _model({"_APP_DOMAIN_TARGET_CNAME": STR, "_APP_STORAGE_LIMIT": INT,
                                "_APP_COMPUTE_SIZE_LIMIT": INT, "_APP_USAGE_STATS": STR,
                                "_APP_VCS_ENABLED": BOOL, "_APP_DOMAIN_ENABLED": BOOL}),
    "proxyRule": _model({
        **_DOCUMENT, "domain": STR, "type": {"type": "string", "enum": ["api", "redirect", "deployment"]},
        "trigger": STR, "redirectUrl": STR, "redirectStatusCode": INT, "deploymentId": STR,
        "deploymentResourceType": {"type": "string", "enum": ["function", "site"]},
        "deploymentResourceId": STR, "deploymentVcsProviderBranch": STR,
        "status": {"type": "string", "enum": ["unverified", "verifying", "verified"]}, "logs": STR,
        "renewAt": DATETIME_OR_EMPTY}, {"protocol": {"type": "string", "enum": ["http", "smtp"]}}),
    # Emulator-only: what `POST /v1/emulator/events` did.
    "eventDelivery": {"type": "object"},
    "openApiDocument": _model({"openapi": STR, "info": {"type": "object"}, "paths": {"type": "object"}}),
    "functionList": _list("functions", "function"),
    "deploymentList": _list("deployments", "deployment"),
    "executionList": _list("executions", "execution"),
    "variableList": _list("variables", "variable"),
    "runtimeList": _list("runtimes", "runtime"),
    "specificationList": _list("specifications", "specification"),
    "proxyRuleList": _list("rules", "proxyRule"),
    # Usage (Appwrite's Metric: `date` an ISO 8601 datetime) and templates.
    "metric": _model({"value": INT, "date": DATETIME}),
    "usageFunction": _model({
        "range": STR, **{f"{name}Total": INT for name in USAGE_FIGURES}, "buildsTimeAverage": INT,
        **{name: {"type": "array", "items": _ref("metric")} for name in USAGE_FIGURES}}),
    "usageFunctions": _model({
        "range": STR, "functionsTotal": INT, **{f"{name}Total": INT for name in USAGE_FIGURES},
        "functions": {"type": "array", "items": _ref("metric")},
        **{name: {"type": "array", "items": _ref("metric")} for name in USAGE_FIGURES}}),
    "templateRuntime": _model({"name": STR, "commands": STR, "entrypoint": STR, "providerRootDirectory": STR}),
    "templateVariable": _model({"name": STR, "description": STR, "value": STR, "secret": BOOL, "placeholder": STR,
                                "required": BOOL, "type": STR}),
    "templateFunction": _model({
        "icon": STR, "id": STR, "name": STR, "tagline": STR, "permissions": STRINGS, "events": STRINGS,
        "cron": STR, "timeout": INT, "useCases": STRINGS,
        "runtimes": {"type": "array", "items": _ref("templateRuntime")}, "instructions": STR,
        "vcsProvider": STR, "providerRepositoryId": STR, "providerOwner": STR, "providerVersion": STR,
        "variables": {"type": "array", "items": _ref("templateVariable")}, "scopes": STRINGS}),
    "templateFunctionList": _list("templates", "templateFunction"),
}

# What a success carries besides a JSON model.
NO_CONTENT, ARCHIVE, TEXT = "no content", "archive", "text"


class Operation(NamedTuple):
    operation_id: str
    request: str | None          # the SCHEMAS entry the handler validates its parameters with
    responses: dict[int, str]    # success status -> RESPONSE_MODELS name, NO_CONTENT, ARCHIVE or TEXT


# Keyed by "<module>.<handler>" of the handlers in app.ROUTES. A route whose handler is missing
# here fails build_document: every endpoint says what it answers.
OPERATIONS: dict[str, Operation] = {
    "misc.health_version": Operation("getHealthVersion", None, {200: "healthVersion"}),
    "misc.ping": Operation("ping", None, {200: TEXT}),
    "functions.list_runtimes": Operation("listRuntimes", None, {200: "runtimeList"}),
    "functions.list_specifications": Operation("listSpecifications", None, {200: "specificationList"}),
    "functions.list_functions": Operation("listFunctions", "listFunctions", {200: "functionList"}),
    "functions.create_function": Operation("createFunction", "createFunction", {201: "function"}),
    "functions.get_function": Operation("getFunction", None, {200: "function"}),
    "functions.update_function": Operation("updateFunction", "updateFunction", {200: "function"}),
    "functions.delete_function": Operation("deleteFunction", None, {204: NO_CONTENT}),
    "functions.update_function_deployment": Operation("updateFunctionDeployment", "updateFunctionDeployment",
                                                      {200: "function"}),
    "functions.update_deployment_legacy": Operation("updateDeploymentLegacy", None, {200: "function"}),
    "deployments.list_deployments": Operation("listDeployments", "listDeployments", {200: "deploymentList"}),
    "deployments.create_deployment": Operation("createDeployment", "createDeployment", {202: "deployment"}),
    "deployments.duplicate_deployment": Operation("createDuplicateDeployment", "createDuplicateDeployment",
                                                  {202: "deployment"}),
    "deployments.get_deployment": Operation("getDeployment", None, {200: "deployment"}),
    "deployments.delete_deployment": Operation("deleteDeployment", None, {204: NO_CONTENT}),
    "deployments.download_deployment": Operation("getDeploymentDownload", "getDeploymentDownload",
                                                 {200: ARCHIVE}),
    "deployments.cancel_deployment": Operation("updateDeploymentStatus", None, {200: "deployment"}),
    "deployments.retry_build_legacy": Operation("createBuildLegacy", None, {204: NO_CONTENT}),
    "executions.list_executions": Operation("listExecutions", "listExecutions", {200: "executionList"}),
    "executions.create_execution": Operation("createExecution", "createExecution",
                                             {201: "execution", 202: "execution"}),
    "executions.get_execution": Operation("getExecution", None, {200: "execution"}),
    "executions.delete_execution": Operation("deleteExecution", None, {204: NO_CONTENT}),
    "variables.list_variables": Operation("listVariables", "listVariables", {200: "variableList"}),
    "variables.create_variable": Operation("createVariable", "createVariable", {201: "variable"}),
    "variables.get_variable": Operation("getVariable", None, {200: "variable"}),
    "variables.update_variable": Operation("updateVariable", "updateVariable", {200: "variable"}),
    "variables.delete_variable": Operation("deleteVariable", None, {204: NO_CONTENT}),
    "events.create_event": Operation("createEvent", None, {202: "eventDelivery"}),
    "console.create_email_session": Operation("createEmailPasswordSession", "createSession", {201: "session"}),
    "console.get_account": Operation("getAccount", None, {200: "user"}),
    "console.get_session": Operation("getSession", None, {200: "session"}),
    "console.delete_session": Operation("deleteSession", None, {204: NO_CONTENT}),
    "console.console_variables": Operation("getConsoleVariables", None, {200: "consoleVariables"}),
    "console.create_project_jwt": Operation("createProjectJwt", None, {201: "jwt"}),
    "console.list_rules": Operation("listRules", None, {200: "proxyRuleList"}),
    "console.create_function_rule": Operation("createFunctionRule", None, {201: "proxyRule"}),
    "console.get_rule": Operation("getRule", None, {200: "proxyRule"}),
    "console.delete_rule": Operation("deleteRule", None, {204: NO_CONTENT}),
    "openapi.openapi_json": Operation("getOpenApi", None, {200: "openApiDocument"}),
    "usage.get_function_usage": Operation("getUsage", "getFunctionUsage", {200: "usageFunction"}),
    "usage.list_functions_usage": Operation("listUsage", "listFunctionsUsage", {200: "usageFunctions"}),
    "templates.list_templates": Operation("listTemplates", "listTemplates", {200: "templateFunctionList"}),
    "templates.get_template": Operation("getTemplate", None, {200: "templateFunction"}),
}


def operation_of(handler) -> Operation:
    return OPERATIONS[f"{handler.__module__.rsplit('.', 1)[-1]}.{handler.__name__}"]


def _tag(path: str) -> str:
    parts = [p for p in path.split("/") if p and not p.startswith("{")]
    return parts[1] if len(parts) > 1 else "general"


def _scalar(schema: dict) -> dict:
    """A query string carries text: an object alternative (JSON bodies only) is left out."""
    schema = copy.deepcopy(schema)
    types = schema.get("type")
    if isinstance(types, list):
        kept = [t for t in types if t not in ("object", "null")]
        schema["type"] = kept[0] if len(kept) == 1 else kept
    if isinstance(schema.get("items"), dict):
        schema["items"] = _scalar(schema["items"])
    return schema


def _query_parameters(schema: dict) -> list[dict]:
    required = set(schema.get("required", []))
    out = []
    for name, prop in schema.get("properties", {}).items():
        param = {"name": name, "in": "query", "required": name in required, "schema": _scalar(prop)}
        if prop.get("type") == "array" or "array" in (prop.get("type") or []):
            param.update(style="form", explode=True)  # queries=a&queries=b, as params.py reads them
        out.append(param)
    return out


def _body(operation: str, schema: dict) -> dict:
    body_schema = {"type": "object", **copy.deepcopy(schema)}
    content = {"application/json": {"schema": body_schema}}
    file_field = FILE_FIELDS.get(operation)
    if file_field:
        multipart = copy.deepcopy(body_schema)
        multipart.setdefault("properties", {})[file_field] = {"type": "string",
                                                              "contentMediaType": "application/octet-stream"}
        content = {"multipart/form-data": {"schema": multipart}, **({} if operation == "createDeployment" else content)}
    required = bool(schema.get("required")) or operation == "createDeployment"
    return {"required": required, "content": content}


def _success(model: str) -> dict:
    if model == NO_CONTENT:
        return {"description": "No content."}
    if model == ARCHIVE:
        return {"description": "A deployment archive (tar.gz).",
                "content": {"application/gzip": {"schema": {"type": "string", "contentMediaType": "application/gzip"}},
                            "application/octet-stream": {"schema": {"type": "string"}}}}
    if model == TEXT:
        return {"description": "Plain text.", "content": {"text/plain": {"schema": {"type": "string"}}}}
    return {"description": f"Appwrite's `{model}` model.", "content": {"application/json": {"schema": _ref(model)}}}


def build_document(routes, public=(), server_url: str = "") -> dict:
    """The document for `routes` ((method, path, handler) rows) of which `public` need no key."""
    paths: dict[str, dict] = {}
    seen_ids: dict[str, int] = {}
    for method, path, handler in routes:
        operation = operation_of(handler)
        op_id = operation.operation_id
        seen_ids[op_id] = seen_ids.get(op_id, 0) + 1
        if seen_ids[op_id] > 1:  # an older alias of the same endpoint
            op_id = f"{op_id}{seen_ids[op_id]}"
        responses = {str(status): _success(model) for status, model in operation.responses.items()}
        responses["default"] = {"description": "Appwrite's error envelope.",
                                "content": {"application/json": {"schema": _ref("error")}}}
        op: dict = {
            "operationId": op_id,
            "tags": [_tag(path)],
            "summary": (handler.__doc__ or handler.__name__.replace("_", " ")).strip().splitlines()[0],
            "parameters": [{"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
                           for p in _PATH_PARAM.findall(path)],
            "responses": responses,
        }
        if handler in public:
            op["security"] = []
        if operation.request:
            schema = SCHEMAS[operation.request]
            if method in ("GET", "DELETE", "HEAD"):
                op["parameters"] += _query_parameters(schema)
            else:
                op["requestBody"] = _body(operation.request, schema)
        paths.setdefault(path, {})[method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "Appwrite Functions emulator", "version": APPWRITE_VERSION,
                 "description": "The Appwrite Functions REST API as this emulator serves it. Generated from "
                                "the emulator's URL table, the JSON Schemas it validates requests with and "
                                "Appwrite's response models."},
        "servers": [{"url": server_url}] if server_url else [],
        "paths": paths,
        "components": {
            "schemas": {"error": ERROR_SCHEMA, **copy.deepcopy(RESPONSE_MODELS)},
            "securitySchemes": {
                "Project": {"type": "apiKey", "in": "header", "name": "X-Appwrite-Project"},
                "Key": {"type": "apiKey", "in": "header", "name": "X-Appwrite-Key"},
            },
        },
        "security": [{"Project": [], "Key": []}],
    }


def document_handler(routes, public):
    """The `GET /v1/openapi.json` handler for this URL table. The document is built per request
    (a few milliseconds, rarely asked for): nothing is shared between applications."""
    async def openapi_json(request: web.Request) -> web.Response:
        """The OpenAPI 3.1 document of this server."""
        return json_response(build_document(routes, public, f"{request.scheme}://{request.host}"))
    return openapi_json
