"""Turning an HTTP request into one dict of parameters, the way Appwrite's router sees them.

Clients encode arrays and objects differently: `queries[0]=..&queries[1]=..` (Python, node, CLI),
`queries[]=..` and repeated keys (PHP style), `headers[x-a]=..` (Python GET/multipart dicts).
JSON bodies arrive as they are. Multipart file parts are returned separately.

Parsing is bounded before anything is built, because it runs for public routes too (login): an
array index or a `[]` append past Appwrite's array limit, more fields than any route takes, a key
nested too deeply, or a multipart body past the body limit is a 400, never memory. Input that
cannot be read (bytes not in their charset, a malformed multipart body, a lone surrogate in any
parameter) is a 400 here too, for every route, so nothing after parsing meets it.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl

from aiohttp import web
from aiohttp.multipart import BodyPartReader

from .errors import AppwriteError, invalid_param
from .ids import is_utf8

MAX_DEPTH = 64  # nesting of arrays/objects in parameters; nothing in the API needs more than a few
# Appwrite's APP_LIMIT_ARRAY_PARAMS_SIZE: no array parameter holds more, so a bracketed index past
# it can never be valid (and must not pad a list up to it).
MAX_ARRAY_ITEMS = 100
# Bracketed keys, repeated keys and form/multipart fields in one request. The largest legitimate
# request (100 queries plus a function's settings) stays far below it.
MAX_FIELDS = 1000
# The largest request body (the app's client_max_size; streamed multipart parts count against it
# too): 5 MiB upload chunks and 10 MB execution bodies must fit.
MAX_BODY_BYTES = 32 * 1024 * 1024
# Values (array items, object members) in a JSON body. A 30 MB body of `[0,0,...]` would become a
# list of fifteen million items, several hundred MB once walked; long strings (an execution body)
# are one value each. The largest legitimate body holds a few hundred.
MAX_JSON_VALUES = 10_000
_JSON_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"')  # possessive: linear, no backtracking
_BRACKETS = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])+)$")
_SEGMENT = re.compile(r"\[([^\[\]]*)\]")


def body_too_large() -> AppwriteError:
    return AppwriteError("general_argument_invalid",
                         f"Request body is too large: the limit is {MAX_BODY_BYTES} bytes.", 413)


# Multipart fields whose value may be any bytes (an execution's `body`, as Appwrite's PHP reads it):
# bytes that are not text in their charset are handed over as an UploadedFile without a file name.
BINARY_FIELDS = frozenset({"body"})


def _decodes(data: bytes, charset: str) -> bool:
    """False only for bytes that are not text in `charset`; an unknown charset is _text's 400."""
    try:
        data.decode(charset)
    except UnicodeDecodeError:
        return False
    except (LookupError, ValueError):
        return True
    return True


@dataclass
class UploadedFile:
    filename: str
    data: bytes


def _too_long(name: str) -> AppwriteError:
    # The same words as the schema's maxItems check, so the client sees one message for one limit.
    return AppwriteError("general_argument_invalid",
                         f"Invalid `{name}` param: Value must a valid array no longer than {MAX_ARRAY_ITEMS} items")


def _is_index(part: str) -> bool:
    """`[]` or `[3]`: an array slot. ASCII digits only: "²" is a digit to str.isdigit() but not to int()."""
    return part == "" or (part.isascii() and part.isdigit())


def _list_slot(node: list, part: str, name: str) -> int:
    """The index `part` names in `node` ("" appends), after checking it against the array limit."""
    # A long digit string is past the limit whatever it says (and int() of thousands of digits is slow).
    index = len(node) if part == "" else int(part) if len(part) <= 6 else MAX_ARRAY_ITEMS
    if index >= MAX_ARRAY_ITEMS:
        raise _too_long(name)
    while len(node) <= index:
        node.append(None)
    return index


def _set(target: dict, key: str, value) -> None:
    match = _BRACKETS.match(key)
    if not match:
        if key in target:
            existing = target[key]
            merged = existing + [value] if isinstance(existing, list) else [existing, value]
            if len(merged) > MAX_ARRAY_ITEMS:
                raise _too_long(key)
            target[key] = merged
        else:
            target[key] = value
        return
    name = match.group(1)
    rest = _SEGMENT.findall(match.group(2))
    if len(rest) >= MAX_DEPTH:
        raise AppwriteError("general_argument_invalid",
                            f"The request's parameters are nested too deeply (more than {MAX_DEPTH} levels).")
    path = [name] + rest
    node = target
    for i, part in enumerate(path[:-1]):
        nxt = path[i + 1]
        want_list = _is_index(nxt)
        if isinstance(node, list) and _is_index(part):
            index = _list_slot(node, part, name)
            if not isinstance(node[index], (list, dict)):
                node[index] = [] if want_list else {}
            node = node[index]
        else:
            if isinstance(node, list):  # `a[0]=x&a[k]=y`: a named key under an array
                raise AppwriteError("general_argument_invalid", f"Invalid `{name}` param: mixes array and object keys.")
            if part not in node or not isinstance(node[part], (list, dict)):
                node[part] = [] if want_list else {}
            node = node[part]
    last = path[-1]
    if isinstance(node, list):
        if not _is_index(last):
            raise AppwriteError("general_argument_invalid", f"Invalid `{name}` param: mixes array and object keys.")
        node[_list_slot(node, last, name)] = value
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


class _FieldCounter:
    def __init__(self):
        self.count = 0

    def add(self) -> None:
        self.count += 1
        if self.count > MAX_FIELDS:
            raise AppwriteError("general_argument_invalid",
                                f"The request has too many parameters (more than {MAX_FIELDS}).")


def _too_many_json_values(raw: bytes) -> bool:
    """Whether a JSON text has more than MAX_JSON_VALUES values, counted from its separators and
    openers outside strings before it is parsed (linear: each string is matched once)."""
    values, pos = 0, 0
    while True:
        quote = raw.find(b'"', pos)
        end = len(raw) if quote < 0 else quote
        values += raw.count(b",", pos, end) + raw.count(b"[", pos, end) + raw.count(b"{", pos, end)
        if values > MAX_JSON_VALUES:
            return True
        if quote < 0:
            return False
        string = _JSON_STRING.match(raw, quote)
        if string is None:
            return False  # an unterminated string: json.loads refuses the body
        pos = string.end()


async def _read_part(part, budget: list[int]) -> bytes:
    """A multipart part's bytes, counted against what is left of the body budget."""
    chunks = []
    while True:
        chunk = await _multipart_step(part.read_chunk())
        if not chunk:
            return b"".join(chunks)
        budget[0] -= len(chunk)
        if budget[0] < 0:
            raise body_too_large()
        chunks.append(chunk)


def _finite_number(text: str) -> float:
    # 1e400 parses to infinity: no parameter can hold it, and it would not serialise back as JSON.
    value = float(text)
    if not math.isfinite(value):
        raise AppwriteError("general_argument_invalid", f"The request body's JSON has a number out of range: {text[:40]}")
    return value


def _no_constant(name: str):
    raise AppwriteError("general_argument_invalid", f"The request body is not valid JSON ({name} is not a JSON value).")


# One decoder for every body (json.loads with options would build one per call); bytes are
# decoded as json.loads decodes them.
_JSON = json.JSONDecoder(parse_float=_finite_number, parse_constant=_no_constant)


async def _multipart_step(step):
    """A step of aiohttp's multipart parser, which raises ValueError for a malformed body (no or a
    bad boundary, a part cut short)."""
    try:
        return await step
    except ValueError as exc:
        raise AppwriteError("general_argument_invalid", f"Invalid request: {exc}")


def _text(data: bytes, charset: str, what: str) -> str:
    try:
        return data.decode(charset)
    except UnicodeDecodeError:
        raise AppwriteError("general_argument_invalid", f"Invalid request: {what} is not valid {charset} text.")
    except (LookupError, ValueError):  # no such codec, not a text codec, a NUL in the name
        raise AppwriteError("general_argument_invalid", f"Invalid request: {what} names an unknown charset.")


async def _read_multipart(request: web.Request, params: dict, files: dict, fields: _FieldCounter) -> None:
    reader = await _multipart_step(request.multipart())
    budget = [MAX_BODY_BYTES]
    while (part := await _multipart_step(reader.next())) is not None:
        fields.add()
        if not isinstance(part, BodyPartReader):  # a nested multipart/mixed: no API takes one
            raise AppwriteError("general_argument_invalid", "Invalid request: nested multipart body.")
        if part.name is None:
            await _read_part(part, budget)  # drained: the next part starts after it
            continue
        data = await _read_part(part, budget)
        if part.filename is not None:
            files[part.name] = UploadedFile(part.filename, data)
        elif part.name in BINARY_FIELDS and not _decodes(data, part.get_charset(default="utf-8")):
            files[part.name] = UploadedFile("", data)
        else:
            _set(params, part.name, _text(data, part.get_charset(default="utf-8"), f"field `{part.name}`"))


def _reject_non_utf8(params: dict) -> None:
    """400 for a lone surrogate (`"\\ud800"` in JSON) anywhere in a parameter, key or value: it can
    be neither stored and answered as UTF-8 nor handed to a runtime, so it is refused up front."""
    for name, value in params.items():
        stack = [name, value]
        while stack:
            node = stack.pop()
            if isinstance(node, str):
                if not is_utf8(node):
                    raise invalid_param(name if is_utf8(name) else "params", "Value must be a valid UTF-8 string")
            elif isinstance(node, dict):
                stack.extend(node.keys())
                stack.extend(node.values())
            elif isinstance(node, list):
                stack.extend(node)


async def read_params(request: web.Request) -> tuple[dict, dict[str, UploadedFile]]:
    params: dict = {}
    files: dict[str, UploadedFile] = {}
    fields = _FieldCounter()
    for key, value in request.query.items():
        fields.add()
        _set(params, key, value)
    if request.method in ("POST", "PUT", "PATCH", "DELETE") and request.can_read_body:
        ctype = request.content_type or ""
        if ctype.startswith("multipart/"):
            await _read_multipart(request, params, files, fields)
        elif ctype == "application/x-www-form-urlencoded":
            raw = _text(await request.read(), request.charset or "utf-8", "the form body")
            try:
                # max_num_fields counts the separators before anything is built.
                pairs = parse_qsl(raw, keep_blank_values=True, max_num_fields=max(MAX_FIELDS - fields.count, 1))
            except ValueError:
                raise AppwriteError("general_argument_invalid",
                                    f"The request has too many parameters (more than {MAX_FIELDS}).")
            for key, value in pairs:
                fields.add()
                _set(params, key, value)
        else:
            params.update(json_params(await request.read()))
    return checked(params), files


def json_params(raw: bytes) -> dict:
    """The parameters a JSON request body holds (none for an empty one); a 400 for anything else."""
    if not raw.strip():
        return {}
    if _too_many_json_values(raw):
        raise AppwriteError("general_argument_invalid",
                            f"The request body's JSON has more than {MAX_JSON_VALUES} values (arrays, "
                            "objects and their items) or is nested too deeply.")
    try:
        body = _JSON.decode(raw.decode(json.detect_encoding(raw), "surrogatepass"))
    except (ValueError, UnicodeDecodeError):
        raise AppwriteError("general_argument_invalid", "The request body is not valid JSON.")
    except RecursionError:
        raise AppwriteError("general_argument_invalid", "The request body's JSON is nested too deeply.")
    # PHP clients encode an empty parameter set as `[]`: Appwrite reads it as no parameters.
    if body == []:
        body = {}
    if not isinstance(body, dict):
        raise AppwriteError("general_argument_invalid", "The request body must be a JSON object.")
    return body


def checked(params: dict) -> dict:
    """`params` once the checks every request's parameters pass: depth, holes, UTF-8."""
    if _too_deep(params, MAX_DEPTH):
        raise AppwriteError("general_argument_invalid",
                            f"The request's parameters are nested too deeply (more than {MAX_DEPTH} levels).")
    params = _compact(params)
    _reject_non_utf8(params)
    return params
