"""`GET /v1/openapi.json`: an OpenAPI 3.1 description of the emulator, generated, never written.

Paths and methods come from the URL table (app.ROUTES); each operation's parameters come from the
same JSON Schema (schemas.SCHEMAS) its handler validates with, found by reading which operation
the handler passes to `params(request, "<operation>")`. So the document cannot drift from what the
server accepts: a route or a schema changed in one place changes here too. OpenAPI 3.1 uses JSON
Schema 2020-12, the dialect SCHEMAS is written in, so schemas are copied as they are.
"""
from __future__ import annotations

import copy
import inspect
import re

from aiohttp import web

from .errors import APPWRITE_VERSION
from .schemas import SCHEMAS

_OPERATION = re.compile(r"""\bparams\(\s*request\s*,\s*["'](\w+)["']\s*\)""")
_PATH_PARAM = re.compile(r"{(\w+)}")
# Endpoints that take a file besides their parameters (multipart only).
FILE_FIELDS = {"createDeployment": "code", "createExecution": "body"}

ERROR_SCHEMA = {
    "type": "object",
    "required": ["message", "code", "type", "version"],
    "properties": {"message": {"type": "string"}, "code": {"type": "integer"},
                   "type": {"type": "string"}, "version": {"type": "string"}},
}


def handler_operation(handler) -> str | None:
    """The SCHEMAS operation a handler validates its parameters with, if any."""
    try:
        source = inspect.getsource(handler)
    except (OSError, TypeError):
        return None
    match = _OPERATION.search(source)
    return match.group(1) if match and match.group(1) in SCHEMAS else None


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


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


def build_document(routes, public=(), server_url: str = "") -> dict:
    paths: dict[str, dict] = {}
    seen_ids: dict[str, int] = {}
    for method, path, handler in routes:
        operation = handler_operation(handler)
        op_id = operation or _camel(handler.__name__)
        seen_ids[op_id] = seen_ids.get(op_id, 0) + 1
        if seen_ids[op_id] > 1:  # an older alias of the same endpoint
            op_id = f"{op_id}{seen_ids[op_id]}"
        op: dict = {
            "operationId": op_id,
            "tags": [_tag(path)],
            "summary": (inspect.getdoc(handler) or handler.__name__.replace("_", " ")).splitlines()[0],
            "parameters": [{"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
                           for p in _PATH_PARAM.findall(path)],
            "responses": {
                "2XX": {"description": "Success: an Appwrite model (JSON), a file, or no content.",
                        "content": {"application/json": {"schema": {}}}},
                "default": {"description": "Appwrite's error envelope.",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/error"}}}},
            },
        }
        if handler in public:
            op["security"] = []
        if operation:
            schema = SCHEMAS[operation]
            if method in ("GET", "DELETE", "HEAD"):
                op["parameters"] += _query_parameters(schema)
            else:
                op["requestBody"] = _body(operation, schema)
        paths.setdefault(path, {})[method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "Appwrite Functions emulator", "version": APPWRITE_VERSION,
                 "description": "The Appwrite Functions REST API as this emulator serves it. Generated from "
                                "the emulator's URL table and the JSON Schemas it validates requests with."},
        "servers": [{"url": server_url}] if server_url else [],
        "paths": paths,
        "components": {
            "schemas": {"error": ERROR_SCHEMA},
            "securitySchemes": {
                "Project": {"type": "apiKey", "in": "header", "name": "X-Appwrite-Project"},
                "Key": {"type": "apiKey", "in": "header", "name": "X-Appwrite-Key"},
            },
        },
        "security": [{"Project": [], "Key": []}],
    }


_cache: dict[str, dict] = {}


async def openapi_json(request: web.Request) -> web.Response:
    """The OpenAPI 3.1 document of this server."""
    from .api.common import json_response
    from .app import PUBLIC, ROUTES  # the URL table imports this module: read it at call time
    server_url = f"{request.scheme}://{request.host}"
    if server_url not in _cache:
        _cache.clear()
        _cache[server_url] = build_document(ROUTES, PUBLIC, server_url)
    return json_response(_cache[server_url])
