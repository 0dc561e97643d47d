"""Listing documents with Appwrite's queries: filters, order, limit/offset and cursors."""
from __future__ import annotations

from ..errors import AppwriteError
from ..queries import COUNT_CAP, plan
from ..store import Store

LABELS = {"functions": "Function", "deployments": "Deployment", "executions": "Execution", "variables": "Variable"}


def legacy_list_queries(params: dict) -> list:
    """Appwrite 0.15 list parameters (`limit`, `offset`, `cursor`, `orderType`) as queries."""
    queries = list(params.get("queries") or [])
    if "limit" in params:
        queries.append({"method": "limit", "values": [params["limit"]]})
    if "offset" in params:
        queries.append({"method": "offset", "values": [params["offset"]]})
    if params.get("cursor"):
        method = "cursorBefore" if params.get("cursorDirection") == "before" else "cursorAfter"
        queries.append({"method": method, "values": [params["cursor"]]})
    if params.get("orderType"):
        method = "orderAsc" if params["orderType"].upper() == "ASC" else "orderDesc"
        queries.append({"method": method, "attribute": ""})
    return queries


def list_documents(store: Store, collection: str, project: str, parent: str | None, params: dict,
                   where: str = "", where_params: tuple = ()) -> tuple[int, list[dict]]:
    p = plan(collection, legacy_list_queries(params), params.get("search"))
    clauses = [c for c in (where, p.where) if c]
    base_where = " AND ".join(f"({c})" for c in clauses)
    base_params = tuple(where_params) + p.params
    total = store.count(collection, project, parent, base_where, base_params, cap=COUNT_CAP) \
        if params.get("total", True) else 0

    order = p.order or [("seq", True)]
    cursor_where, cursor_params = "", ()
    if p.cursor:
        cursor_doc = store.get(collection, project, parent, p.cursor) if parent is not None else None
        if cursor_doc is None and parent is None:
            rows = store.select(collection, project, None, "id=?", (p.cursor,), limit=1)
            cursor_doc = rows[0] if rows else None
        if cursor_doc is None:
            raise AppwriteError("general_cursor_not_found",
                                f"{LABELS[collection]} '{p.cursor}' for the 'cursor' value not found.")
        col, asc = order[0]
        forward = asc != p.cursor_before
        op = ">" if forward else "<"
        seq = cursor_doc["$sequence"]
        if col == "seq":
            cursor_where, cursor_params = f"seq {op} ?", (seq,)
        else:
            value = store.column_value(collection, col, seq)
            seq_op = ">" if (forward if asc else not forward) else "<"
            cursor_where = f"({col} {op} ? OR ({col} = ? AND seq {seq_op} ?))"
            cursor_params = (value, value, seq)
    if p.cursor_before:
        order = [(c, not a) for c, a in order]
    order_sql = ", ".join(f"{c} {'ASC' if a else 'DESC'}" for c, a in order)
    if order[0][0] != "seq":
        order_sql += f", seq {'ASC' if order[0][1] else 'DESC'}"
    all_where = " AND ".join(f"({c})" for c in (base_where, cursor_where) if c)
    docs = store.select(collection, project, parent, all_where, base_params + cursor_params,
                        order=order_sql, limit=p.limit, offset=p.offset)
    if p.cursor_before:
        docs.reverse()
    return total, docs
