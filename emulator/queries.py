"""Appwrite list queries: parsing both syntaxes and turning them into SQL for store.py.

Current SDKs send JSON (`{"method":"equal","attribute":"name","values":["a"]}`); clients before
Appwrite 1.5 send strings (`equal("name", ["a"])`). Both parse to the same `Query`.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field

from .errors import AppwriteError, invalid_param
from .ids import is_utf8, is_valid_id

MAX_QUERIES = 100
MAX_QUERY_LENGTH = 4096
MAX_VALUES = 500
DEFAULT_LIMIT = 25
MAX_LIMIT = 5000
COUNT_CAP = 5000
MAX_DEPTH = 10  # nested `and`/`or` levels
# SQLite stores integers as signed 64-bit: a larger one is no value any stored document holds.
INT64 = (-2**63, 2**63 - 1)

COMMON_ATTRIBUTES = ("$id", "$createdAt", "$updatedAt", "$sequence")
ATTRIBUTES = {
    "functions": ("name", "enabled", "runtime", "deploymentId", "schedule", "scheduleNext", "schedulePrevious",
                  "timeout", "entrypoint", "commands", "installationId"),
    "deployments": ("buildSize", "sourceSize", "totalSize", "buildDuration", "status", "activate", "type",
                    "entrypoint", "resourceId"),
    "executions": ("trigger", "status", "responseStatusCode", "duration", "requestMethod", "requestPath",
                   "deploymentId"),
    "variables": ("key", "resourceType", "resourceId", "secret"),
}
# Query.select is allowed on deployments only (Appwrite's Deployments validator); it may name any
# attribute of the collection (app/config/collections/projects.php), not only the filterable ones,
# or an internal one, or `*`. Elsewhere a select is an unknown method.
SELECT_ATTRIBUTES = {
    "deployments": ("resourceInternalId", "resourceId", "resourceType", "entrypoint", "buildCommands",
                    "startCommand", "buildOutput", "sourcePath", "type", "installationId",
                    "installationInternalId", "providerRepositoryId", "repositoryId", "repositoryInternalId",
                    "providerRepositoryName", "providerRepositoryOwner", "providerRepositoryUrl",
                    "providerCommitHash", "providerCommitAuthorUrl", "providerCommitAuthor", "providerCommitMessage",
                    "providerCommitUrl", "providerBranch", "providerBranchUrl", "providerRootDirectory",
                    "providerCommentId", "sourceSize", "sourceMetadata", "sourceChunksTotal",
                    "sourceChunksUploaded", "activate", "screenshotLight", "screenshotDark", "buildStartedAt",
                    "buildEndedAt", "buildDuration", "buildSize", "totalSize", "status", "buildPath", "buildLogs",
                    "adapter", "fallbackFile"),
}
INTERNAL_ATTRIBUTES = ("$id", "$sequence", "$collection", "$tenant", "$createdAt", "$updatedAt", "$permissions")
# Older names clients may still send for the same attribute.
ALIASES = {"deployment": "deploymentId", "size": "sourceSize", "buildTime": "buildDuration",
           "statusCode": "responseStatusCode"}
SEARCH_ATTRIBUTES = {
    "functions": ("$id", "name", "runtime"),
    "deployments": ("$id", "entrypoint", "status", "type"),
    "executions": ("$id", "status", "trigger", "requestPath"),
    "variables": ("$id", "key"),
}

FILTERS = {"equal", "notEqual", "lessThan", "lessThanEqual", "greaterThan", "greaterThanEqual", "contains",
           "search", "isNull", "isNotNull", "between", "startsWith", "endsWith", "and", "or",
           "createdBefore", "createdAfter", "updatedBefore", "updatedAfter", "notContains", "notSearch",
           "notBetween", "notStartsWith", "notEndsWith"}
OTHERS = {"limit", "offset", "cursorAfter", "cursorBefore", "orderAsc", "orderDesc", "orderRandom", "select"}
INT_BOUNDS = {"limit": (1, MAX_LIMIT), "offset": (0, 10**9)}  # the integer queries and their ranges


@dataclass
class Query:
    method: str
    attribute: str = ""
    values: list = field(default_factory=list)


@dataclass
class ListPlan:
    where: str = ""
    params: tuple = ()
    order: list[tuple[str, bool]] = field(default_factory=list)  # (sql expr, ascending)
    limit: int = DEFAULT_LIMIT
    offset: int = 0
    cursor: str | None = None
    cursor_before: bool = False
    select: list[str] | None = None  # the attributes the items keep (None: all)


def _bad(message: str) -> AppwriteError:
    return invalid_param("queries", message)


def parse_query(text, depth: int = 0) -> Query:
    if depth > MAX_DEPTH:
        raise _bad(f"Invalid query: and/or may nest at most {MAX_DEPTH} levels.")
    if isinstance(text, dict):
        data = text
    else:
        if not isinstance(text, str):
            raise _bad("Invalid query: expected a string.")
        if len(text) > MAX_QUERY_LENGTH:
            raise _bad(f"Invalid query: a query must be at most {MAX_QUERY_LENGTH} characters.")
        stripped = text.strip()
        if stripped.startswith("{"):
            try:
                data = json.loads(stripped)
            except ValueError as exc:
                raise AppwriteError("general_query_invalid", f"Invalid query: {exc}")
        else:
            data = _parse_legacy(stripped)
    if not isinstance(data, dict) or not isinstance(data.get("method"), str):
        raise AppwriteError("general_query_invalid", "Invalid query: missing method.")
    method = data["method"]
    if method not in FILTERS and method not in OTHERS:
        raise _bad(f"Invalid query method: {method}")
    values = data.get("values", [])
    if not isinstance(values, list):
        values = [values]
    if len(values) > MAX_VALUES:
        raise _bad(f"Invalid query: a query may have at most {MAX_VALUES} values.")
    attribute = data.get("attribute", "") or ""
    if not isinstance(attribute, str):
        raise _bad("Invalid query: attribute must be a string.")
    if method in ("and", "or"):
        values = [parse_query(v, depth + 1) for v in values]
    else:
        for value in values:
            _check_value(value)
    if not is_utf8(attribute):
        raise _bad("Invalid query: attribute must be valid UTF-8.")
    query = Query(method, attribute, values)
    if method in INT_BOUNDS:  # checked here, so every caller gets an int in range
        query.values = [_int_value(query, *INT_BOUNDS[method])]
    return query


def _check_value(value) -> None:
    """A query value is a JSON scalar a stored document could hold: text, a finite number within
    64 bits, a boolean or null. `1e400` parses to infinity, and 10**30 fits no SQLite integer."""
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, str):
        if not is_utf8(value):
            raise _bad("Invalid query: values must be valid UTF-8.")
    elif isinstance(value, int):
        if not INT64[0] <= value <= INT64[1]:
            raise _bad("Invalid query: integer values must fit in 64 bits.")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise _bad("Invalid query: numeric values must be finite.")
    else:
        raise _bad("Invalid query: values must be strings, numbers, booleans or null.")


_LEGACY = re.compile(r"^([A-Za-z.]+)\((.*)\)$", re.S)


def _parse_legacy(text: str) -> dict:
    match = _LEGACY.match(text)
    if not match:
        raise AppwriteError("general_query_invalid", f"Invalid query: {text}")
    method, inner = match.group(1), match.group(2)
    if "." in method:
        raise _bad(f"Invalid query method: {method}")
    params = [_legacy_value(p) for p in _split_params(inner)] if inner.strip() else []
    if method in ("limit", "offset", "cursorAfter", "cursorBefore", "createdBefore", "createdAfter",
                  "updatedBefore", "updatedAfter"):
        return {"method": method, "values": params[:1]}
    if method in ("orderAsc", "orderDesc", "isNull", "isNotNull"):
        return {"method": method, "attribute": params[0] if params else ""}
    if method == "select":
        vals = params[0] if params and isinstance(params[0], list) else params
        return {"method": method, "values": vals}
    attribute = params[0] if params else ""
    rest = params[1:]
    if len(rest) == 1 and isinstance(rest[0], list):
        rest = rest[0]
    return {"method": method, "attribute": attribute, "values": rest}


def _split_params(text: str) -> list[str]:
    parts, depth, quote, current, escape = [], 0, None, "", False
    for ch in text:
        if escape:
            current += ch
            escape = False
            continue
        if ch == "\\":
            current += ch
            escape = True
            continue
        if quote:
            current += ch
            if ch == quote:
                quote = None
            continue
        if ch in "\"'":
            quote = ch
        elif ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(current.strip())
            current = ""
            continue
        current += ch
    parts.append(current.strip())
    return parts


def _legacy_value(text: str):
    if text.startswith("[") and text.endswith("]"):
        return [_legacy_value(p) for p in _split_params(text[1:-1])] if text[1:-1].strip() else []
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1].replace('\\"', '"').replace("\\'", "'")
    if text in ("true", "false"):
        return text == "true"
    if text == "null":
        return None
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


def column(attr: str) -> str:
    if attr == "$id":
        return "id"
    if attr == "$sequence":
        return "seq"
    return f"json_extract(data, '$.\"{attr}\"')"


def plan(collection: str, raw_queries, search: str | None = None) -> ListPlan:
    if raw_queries is None:
        raw_queries = []
    if isinstance(raw_queries, str):
        raw_queries = [raw_queries]
    if not isinstance(raw_queries, list):
        raise _bad("Value must a valid array and Value must be a valid string")
    if len(raw_queries) > MAX_QUERIES:
        raise _bad(f"Value must a valid array no longer than {MAX_QUERIES} items")
    allowed = set(ATTRIBUTES[collection]) | set(COMMON_ATTRIBUTES)
    result = ListPlan()
    clauses, params = [], []
    for raw in raw_queries:
        q = parse_query(raw)
        if q.method == "limit":
            result.limit = q.values[0]
        elif q.method == "offset":
            result.offset = q.values[0]
        elif q.method in ("cursorAfter", "cursorBefore"):
            if not q.values or not is_valid_id(q.values[0]):
                raise _bad("Invalid query: Cursor must be a valid document ID.")
            result.cursor = q.values[0]
            result.cursor_before = q.method == "cursorBefore"
        elif q.method in ("orderAsc", "orderDesc"):
            attr = q.attribute or (q.values[0] if q.values and isinstance(q.values[0], str) else "")
            attr = ALIASES.get(attr, attr)
            if attr and attr not in allowed:
                raise _bad(f"Invalid query: Attribute not found in schema: {attr}")
            result.order.append((column(attr) if attr else "seq", q.method == "orderAsc"))
        elif q.method == "select":
            _check_select(collection, q)
            if "*" in q.values or result.select == ["*"]:
                result.select = ["*"]
            else:
                result.select = (result.select or []) + q.values
        elif q.method == "orderRandom":
            continue
        else:
            sql, args = _filter(q, allowed)
            clauses.append(sql)
            params.extend(args)
    if search and not is_utf8(search):
        raise invalid_param("search", "Value must be valid UTF-8.")
    if search:
        attrs = SEARCH_ATTRIBUTES[collection]
        terms = [t for t in re.split(r"\s+", search.strip()) if t]
        for term in terms:
            clauses.append("(" + " OR ".join(f"CAST({column(a)} AS TEXT) LIKE ? ESCAPE '\\'" for a in attrs) + ")")
            params.extend([f"%{_like_escape(term)}%"] * len(attrs))
    if result.select == ["*"]:
        result.select = None
    result.where = " AND ".join(f"({c})" for c in clauses)
    result.params = tuple(params)
    return result


def _check_select(collection: str, q: Query) -> None:
    """Appwrite's Select validator (utopia-php/database), with its wording."""
    if collection not in SELECT_ATTRIBUTES:
        raise _bad("Invalid query method: select")
    if not q.values:
        raise _bad("Invalid query: No attributes selected")
    if len({json.dumps(v) for v in q.values}) != len(q.values):
        raise _bad("Invalid query: Duplicate attributes selected")
    known = set(SELECT_ATTRIBUTES[collection]) | set(INTERNAL_ATTRIBUTES) | {"*"}
    for value in q.values:
        # A dotted name is a relationship path; only its first part is an attribute.
        if not isinstance(value, str) or value.split(".")[0] not in known and value not in known:
            raise _bad(f"Invalid query: Attribute not found in schema: {value}")


def selection(collection: str, raw_queries) -> list[str] | None:
    """The attributes a list's `Query.select` keeps (None: no select, or `*`); the queries were
    validated by `plan` for the same collection."""
    return plan(collection, raw_queries).select


def _int_value(q: Query, low: int, high: int) -> int:
    value = q.values[0] if q.values else None
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]{1,19}", value.strip()):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):  # 1.5, "x", true, null: not an integer
        raise _bad(f"Invalid query: {q.method} must be an integer.")
    if not low <= value <= high:
        raise _bad(f"Invalid {q.method} param: Value must be a valid range between {low:,} and {high:,}")
    return value


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _sql_value(v):
    if isinstance(v, bool):
        return 1 if v else 0
    if isinstance(v, (dict, list)):
        return json.dumps(v)
    return v


def _filter(q: Query, allowed: set[str]) -> tuple[str, list]:
    if q.method in ("and", "or"):
        parts, args = [], []
        for sub in q.values:
            s, a = _filter(sub, allowed)
            parts.append(f"({s})")
            args.extend(a)
        if not parts:
            return "1=1", []
        return f" {q.method.upper()} ".join(parts), args
    if q.method in ("createdBefore", "createdAfter", "updatedBefore", "updatedAfter"):
        attr = "$createdAt" if q.method.startswith("created") else "$updatedAt"
        op = "<" if q.method.endswith("Before") else ">"
        if not q.values:
            raise _bad(f"Invalid query: {q.method} needs a date.")
        return f"{column(attr)} {op} ?", [q.values[0]]
    attr = ALIASES.get(q.attribute, q.attribute)
    if attr not in allowed:
        raise _bad(f"Invalid query: Attribute not found in schema: {attr}")
    col = column(attr)
    vals = [_sql_value(v) for v in q.values]
    m = q.method
    if m in ("isNull", "isNotNull"):
        return f"({col} IS {'NOT ' if m == 'isNotNull' else ''}NULL)", []
    if not vals:
        raise _bad(f"Invalid query: {m} queries require at least one value.")
    if m == "equal":
        return f"{col} IN ({','.join('?' * len(vals))})", vals
    if m == "notEqual":
        return f"({col} IS NULL OR {col} NOT IN ({','.join('?' * len(vals))}))", vals
    ops = {"lessThan": "<", "lessThanEqual": "<=", "greaterThan": ">", "greaterThanEqual": ">="}
    if m in ops:
        return f"{col} {ops[m]} ?", vals[:1]
    if m in ("between", "notBetween"):
        if len(vals) < 2:
            raise _bad("Invalid query: between needs two values.")
        return f"{'NOT ' if m == 'notBetween' else ''}({col} BETWEEN ? AND ?)", vals[:2]
    if m in ("startsWith", "endsWith", "notStartsWith", "notEndsWith"):
        pattern = f"{_like_escape(str(vals[0]))}%" if "tarts" in m else f"%{_like_escape(str(vals[0]))}"
        return f"{col} {'NOT ' if m.startswith('not') else ''}LIKE ? ESCAPE '\\'", [pattern]
    if m in ("contains", "notContains", "search", "notSearch"):
        ors = " OR ".join(f"CAST({col} AS TEXT) LIKE ? ESCAPE '\\'" for _ in vals)
        args = [f"%{_like_escape(str(v))}%" for v in vals]
        return (f"NOT ({ors})" if m.startswith("not") else f"({ors})"), args
    raise _bad(f"Invalid query method: {m}")
