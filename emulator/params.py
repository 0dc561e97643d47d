"""Turning an HTTP request into one dict of parameters, the way Appwrite's router sees them.

Clients encode arrays and objects differently: `queries[0]=..&queries[1]=..` (Python, node, CLI),
`queries[]=..` and repeated keys (PHP style), `headers[x-a]=..` (Python GET/multipart dicts).
JSON bodies arrive as they are. Multipart file parts are returned separately.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass

from aiohttp import web

from .errors import AppwriteError

MAX_DEPTH = 64  # nesting of arrays/objects in parameters; nothing in the API needs more than a few
_BRACKETS = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])+)$")


@dataclass
class UploadedFile:
    filename: str
    data: bytes


def _set(target: dict, key: str, value) -> None:
    match = _BRACKETS.match(key)
    if not match:
        if key in target:
            existing = target[key]
            target[key] = existing + [value] if isinstance(existing, list) else [existing, value]
        else:
            target[key] = value
        return
    name, rest = match.group(1), re.findall(r"\[([^\[\]]*)\]", match.group(2))
    node = target
    path = [name] + rest
    for i, part in enumerate(path[:-1]):
        nxt = path[i + 1]
        want_list = nxt == "" or nxt.isdigit()
        if part == "" and isinstance(node, list):
            child = [] if want_list else {}
            node.append(child)
            node = child
            continue
        key_ = int(part) if isinstance(node, list) and part.isdigit() else part
        if isinstance(node, list):
            while len(node) <= key_:
                node.append(None)
            if node[key_] is None:
                node[key_] = [] if want_list else {}
            node = node[key_]
        else:
            if key_ not in node or not isinstance(node[key_], (list, dict)):
                node[key_] = [] if want_list else {}
            node = node[key_]
    last = path[-1]
    if isinstance(node, list):
        if last == "":
            node.append(value)
        else:
            idx = int(last)
            while len(node) <= idx:
                node.append(None)
            node[idx] = value
    else:
        node[last] = value


def _too_deep(value, limit: int) -> bool:
    # Iterative: a deep value must not exhaust the stack of whoever walks it next.
    stack = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, (dict, list)):
            if depth >= limit:
                return True
            stack.extend((child, depth + 1) for child in (node.values() if isinstance(node, dict) else node))
    return False


def _compact(value):
    # `queries[1]` without `queries[0]` leaves a hole: drop it rather than pass None on.
    if isinstance(value, list):
        return [_compact(v) for v in value if v is not None]
    if isinstance(value, dict):
        return {k: _compact(v) for k, v in value.items()}
    return value


async def read_params(request: web.Request) -> tuple[dict, dict[str, UploadedFile]]:
    params: dict = {}
    files: dict[str, UploadedFile] = {}
    for key, value in request.query.items():
        _set(params, key, value)
    if request.method in ("POST", "PUT", "PATCH", "DELETE") and request.can_read_body:
        ctype = request.content_type or ""
        if ctype.startswith("multipart/"):
            reader = await request.multipart()
            async for part in reader:
                if part.name is None:
                    continue
                if part.filename is not None:
                    files[part.name] = UploadedFile(part.filename, bytes(await part.read()))
                else:
                    _set(params, part.name, await part.text())
        elif ctype == "application/x-www-form-urlencoded":
            for key, value in (await request.post()).items():
                _set(params, key, value)
        else:
            raw = await request.read()
            if raw.strip():
                try:
                    body = json.loads(raw)
                except (ValueError, UnicodeDecodeError):
                    raise AppwriteError("general_argument_invalid", "The request body is not valid JSON.")
                except RecursionError:
                    raise AppwriteError("general_argument_invalid", "The request body's JSON is nested too deeply.")
                if not isinstance(body, dict):
                    raise AppwriteError("general_argument_invalid", "The request body must be a JSON object.")
                params.update(body)
    if _too_deep(params, MAX_DEPTH):
        raise AppwriteError("general_argument_invalid",
                            f"The request's parameters are nested too deeply (more than {MAX_DEPTH} levels).")
    return _compact(params), files
