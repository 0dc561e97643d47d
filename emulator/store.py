"""Where state is stored: one SQLite file (WAL) under the data dir.

Every collection (functions, deployments, executions, variables) is a table of JSON documents in
Appwrite's newest model shape, scoped by project and, for sub-resources, by the parent function.
`$sequence` is the row's insertion order, which is also Appwrite's default list order. Queries
arrive already translated to SQL by queries.py.
"""
from __future__ import annotations

import json
import sqlite3
import threading
import urllib.parse
from pathlib import Path

from .ids import now_iso

COLLECTIONS = ("functions", "deployments", "executions", "variables", "sessions", "rules")

# Attributes filtered or sorted on often get an expression index so list latency stays flat.
INDEXED = {
    "executions": ("status", "trigger", "$createdAt"),
    "deployments": ("status",),
    "functions": ("name",),
    "variables": ("key",),
}


class Store:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        # Reads from other threads (a slow list run off the event loop) use their own read-only
        # connection: WAL lets them run beside the writer instead of queueing on this one.
        self._owner = threading.get_ident()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA foreign_keys=OFF")
        self.lock = threading.RLock()
        for name in COLLECTIONS:
            self.db.execute(
                f"CREATE TABLE IF NOT EXISTS {name} ("
                " seq INTEGER PRIMARY KEY AUTOINCREMENT, project TEXT NOT NULL, parent TEXT NOT NULL,"
                " id TEXT NOT NULL, data TEXT NOT NULL)")
            self.db.execute(f"CREATE UNIQUE INDEX IF NOT EXISTS {name}_id ON {name}(project, parent, id)")
            # The default list order (insertion) and seq cursors walk this index instead of sorting
            # every row of the parent: list latency stays flat as executions pile up.
            self.db.execute(f"CREATE INDEX IF NOT EXISTS {name}_seq ON {name}(project, parent, seq)")
            for attr in INDEXED.get(name, ()):
                safe = attr.replace("$", "")
                self.db.execute(
                    f"CREATE INDEX IF NOT EXISTS {name}_{safe} ON {name}"
                    f"(project, parent, json_extract(data, '$.\"{attr}\"'))")

    def close(self) -> None:
        for conn in self._readers:
            conn.close()
        self.db.close()

    def reader(self) -> sqlite3.Connection:
        """The connection for reads on the calling thread."""
        if threading.get_ident() == self._owner:
            return self.db
        conn = getattr(self._local, "conn", None)
        if conn is None:
            uri = f"file:{urllib.parse.quote(str(self.path))}?mode=ro"
            conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
            self._local.conn = conn
            with self.lock:
                self._readers.append(conn)
        return conn

    # -- documents --------------------------------------------------------------------------------
    def insert(self, collection: str, project: str, parent: str, doc: dict) -> dict:
        with self.lock:
            cur = self.db.execute(
                f"INSERT INTO {collection}(project, parent, id, data) VALUES (?,?,?,?)",
                (project, parent, doc["$id"], json.dumps(doc)))
            doc["$sequence"] = cur.lastrowid
        return doc

    def get(self, collection: str, project: str, parent: str, doc_id: str) -> dict | None:
        row = self.reader().execute(
            f"SELECT seq, data FROM {collection} WHERE project=? AND parent=? AND id=?",
            (project, parent, doc_id)).fetchone()
        return _doc(row)

    def update(self, collection: str, project: str, parent: str, doc: dict, touch: bool = True) -> dict:
        if touch:
            doc["$updatedAt"] = now_iso()
        with self.lock:
            self.db.execute(
                f"UPDATE {collection} SET data=? WHERE project=? AND parent=? AND id=?",
                (json.dumps({k: v for k, v in doc.items() if k != "$sequence"}), project, parent, doc["$id"]))
        return doc

    def delete(self, collection: str, project: str, parent: str, doc_id: str) -> None:
        with self.lock:
            self.db.execute(f"DELETE FROM {collection} WHERE project=? AND parent=? AND id=?",
                            (project, parent, doc_id))

    def delete_children(self, collection: str, project: str, parent: str) -> None:
        with self.lock:
            self.db.execute(f"DELETE FROM {collection} WHERE project=? AND parent=?", (project, parent))

    def select(self, collection: str, project: str, parent: str | None, where: str = "",
               params: tuple = (), order: str = "seq ASC", limit: int | None = None,
               offset: int = 0) -> list[dict]:
        sql, args = self._base(collection, project, parent, where, params)
        sql = f"SELECT seq, data {sql} ORDER BY {order}"
        if limit is not None:
            sql += " LIMIT ? OFFSET ?"
            args += (limit, offset)
        return [_doc(r) for r in self.reader().execute(sql, args)]

    def count(self, collection: str, project: str, parent: str | None, where: str = "",
              params: tuple = (), cap: int | None = None) -> int:
        sql, args = self._base(collection, project, parent, where, params)
        db = self.reader()
        if cap is not None:
            row = db.execute(f"SELECT COUNT(*) FROM (SELECT 1 {sql} LIMIT ?)", args + (cap,)).fetchone()
        else:
            row = db.execute(f"SELECT COUNT(*) {sql}", args).fetchone()
        return row[0]

    def all_projects_select(self, collection: str, where: str, params: tuple = ()) -> list[tuple[str, str, dict]]:
        """(project, parent, doc) across projects: for background work such as schedules."""
        rows = self.db.execute(f"SELECT project, parent, seq, data FROM {collection} WHERE {where}", params)
        return [(p, par, _doc((seq, data))) for p, par, seq, data in rows]

    @staticmethod
    def _base(collection, project, parent, where, params):
        sql = f"FROM {collection} WHERE project=?"
        args: tuple = (project,)
        if parent is not None:
            sql += " AND parent=?"
            args += (parent,)
        if where:
            sql += f" AND ({where})"
            args += tuple(params)
        return sql, args


def _doc(row) -> dict | None:
    if row is None:
        return None
    doc = json.loads(row[1])
    doc["$sequence"] = row[0]
    return doc
