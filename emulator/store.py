"""Where state is stored: one SQLite file (WAL) under the data dir.

Every collection (functions, deployments, executions, variables) is a table of JSON documents in
Appwrite's newest model shape, scoped by project and, for sub-resources, by the parent function.
`$sequence` is the row's insertion order, which is also Appwrite's default list order. Queries
arrive already translated to SQL by queries.py.

Writes made on the event loop are applied at the end of the current loop step, together, in one
transaction (`flush`, scheduled with `call_soon`), before the loop reads any new request: a
commit costs several times the write. A response waits for that commit before it leaves
(`committed`, from commit_middleware), so nothing acknowledged is ever only in memory, and
concurrent requests finishing in one step share one commit. Reads on the loop flush first, so
they always see every write; reads on other threads see what is committed, which by the next
request is everything. Writes off the loop apply at once.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import sqlite3
import threading
import urllib.parse
from pathlib import Path

from .ids import now_iso
from .specifications import DEFAULT_SPECIFICATION, SPECIFICATIONS

log = logging.getLogger("emulator.store")

COLLECTIONS = ("functions", "deployments", "executions", "variables", "sessions", "rules")

# Attributes filtered or sorted on often get an expression index so list latency stays flat.
INDEXED = {
    "executions": ("status", "trigger", "$createdAt"),
    "deployments": ("status",),
    "functions": ("name",),
    "variables": ("key",),
}

# Documents every execution looks up (its function and deployment) and that rarely change: their
# rows are remembered between writes to the collection, so a warm execution runs no query for them.
REMEMBERED = ("functions", "deployments")
REMEMBERED_MAX = 1000

# The scheduler's query must repeat this term verbatim for SQLite to use the partial index on it.
SCHEDULED_EXECUTIONS = "json_extract(data, '$.status') = 'scheduled'"


def _owner_only(db_path: Path) -> None:
    """The database holds secret variable values: readable by its owner only. SQLite creates the
    -wal and -shm files with the database file's mode, so creating it 0600 covers them too; files
    left by an older, laxer version are tightened."""
    os.close(os.open(db_path, os.O_RDWR | os.O_CREAT, 0o600))
    for suffix in ("", "-wal", "-shm"):
        try:
            os.chmod(f"{db_path}{suffix}", 0o600)
        except FileNotFoundError:
            pass


class Store:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        _owner_only(path)
        self.db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        # Reads from other threads (a slow list run off the event loop) use their own read-only
        # connection: WAL lets them run beside the writer instead of queueing on this one.
        self._owner = threading.get_ident()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA foreign_keys=OFF")
        # Checkpoints (copying the WAL back into the database, with an fsync) run on a thread of
        # their own instead of inside whichever commit crosses the threshold, so no request waits.
        self.db.execute("PRAGMA wal_autocheckpoint=0")
        self._stop_checkpoints = threading.Event()
        self._checkpointer = threading.Thread(target=self._checkpoint_loop, name="store-checkpoint", daemon=True)
        self.lock = threading.RLock()
        # collection -> number of writes so far: lets callers cache what they derive from a collection.
        self.versions = dict.fromkeys(COLLECTIONS, 0)
        self._pending: list[tuple] = []  # (sql, args, done) written on the loop, not yet applied
        # (collection, project, parent, id) -> (versions[collection] when read, seq, data): see REMEMBERED
        self._remembered: dict[tuple, tuple[int, int, str]] = {}
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
        # The scheduler looks for due executions across all projects every second: a partial index
        # holds just the scheduled ones (sync executions never enter it, so it costs them nothing).
        self.db.execute("DROP INDEX IF EXISTS executions_unfinished")
        self.db.execute(f"CREATE INDEX IF NOT EXISTS executions_scheduled ON executions"
                        f"(json_extract(data, '$._scheduledAt')) WHERE {SCHEDULED_EXECUTIONS}")
        self._checkpointer.start()

    def _checkpoint_loop(self, every: float = 1.0) -> None:
        conn = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
        try:
            while not self._stop_checkpoints.wait(every):
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
                except sqlite3.Error:
                    log.warning("WAL checkpoint failed; retrying in %ss", every, exc_info=True)
        finally:
            conn.close()

    def close(self) -> None:
        self.flush()
        self._stop_checkpoints.set()
        if self._checkpointer.is_alive() and threading.current_thread() is not self._checkpointer:
            self._checkpointer.join(5)
        for conn in self._readers:
            conn.close()
        self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.db.close()

    def reader(self) -> sqlite3.Connection:
        """The connection for reads on the calling thread."""
        if threading.get_ident() == self._owner:
            if self._pending:
                self.flush()
            return self.db
        conn = getattr(self._local, "conn", None)
        if conn is None:
            uri = f"file:{urllib.parse.quote(str(self.path))}?mode=ro"
            conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
            self._local.conn = conn
            with self.lock:
                self._readers.append(conn)
        return conn

    # -- writes -----------------------------------------------------------------------------------
    def _write(self, collection: str, sql: str, args: tuple, done=None) -> None:
        """Run `sql` now, or, on the event loop, at the end of this loop step; then `done(cursor)`."""
        with self.lock:
            self.versions[collection] += 1
            if threading.get_ident() == self._owner:
                try:
                    loop = asyncio.get_running_loop()
                except RuntimeError:
                    loop = None
                if loop is not None:
                    if not self._pending:
                        loop.call_soon(self.flush)
                    self._pending.append((sql, args, done))
                    return
            self.flush()  # keep the order of writes
            cur = self.db.execute(sql, args)
        if done is not None:
            done(cur)

    async def committed(self) -> None:
        """Return once every write made so far on the loop is committed. Group commit: the flush
        scheduled at this step's first write runs before this task resumes, so the writes of every
        request that finished in the same step share one transaction (a commit costs about as much
        as three writes); flushing again after it is a no-op kept as the guarantee."""
        if self._pending:
            await asyncio.sleep(0)
            self.flush()

    def flush(self) -> None:
        """Apply the pending writes in one transaction."""
        with self.lock:
            if not self._pending:
                return
            pending, self._pending = self._pending, []
            self.db.execute("BEGIN")
            for sql, args, done in pending:
                try:
                    cur = self.db.execute(sql, args)
                except sqlite3.Error:  # one bad write must not take the others with it
                    log.exception("write failed: %s", sql.split("(")[0])
                    continue
                if done is not None:
                    done(cur)
            try:
                self.db.execute("COMMIT")
            except sqlite3.Error:
                log.exception("commit of %d writes failed; they are lost", len(pending))
                if self.db.in_transaction:
                    self.db.execute("ROLLBACK")

    # -- documents --------------------------------------------------------------------------------
    def insert(self, collection: str, project: str, parent: str, doc: dict) -> dict:
        self._write(collection, f"INSERT INTO {collection}(project, parent, id, data) VALUES (?,?,?,?)",
                    (project, parent, doc["$id"], json.dumps(doc)),
                    lambda cur: doc.__setitem__("$sequence", cur.lastrowid))
        return doc

    def get(self, collection: str, project: str, parent: str, doc_id: str) -> dict | None:
        # Remembered only on the loop, whose reads see every write: another thread may read a row
        # older than the version its write counter already shows.
        if collection in REMEMBERED and threading.get_ident() == self._owner:
            return self._get_remembered(collection, project, parent, doc_id)
        return _doc(self._select_one(collection, project, parent, doc_id))

    def _get_remembered(self, collection: str, project: str, parent: str, doc_id: str) -> dict | None:
        key = (collection, project, parent, doc_id)
        # Under the lock: a write from another thread counts its version and applies its row while
        # holding it, so the version and the row read here belong together.
        with self.lock:
            version = self.versions[collection]
            hit = self._remembered.get(key)
            if hit is not None and hit[0] == version:
                return _doc(hit[1:])  # a fresh dict: callers change what they get
            row = self._select_one(collection, project, parent, doc_id)
            if row is not None:
                if len(self._remembered) >= REMEMBERED_MAX:
                    self._remembered.clear()
                self._remembered[key] = (version, *row)
        return _doc(row)

    def _select_one(self, collection: str, project: str, parent: str, doc_id: str):
        return self.reader().execute(
            f"SELECT seq, data FROM {collection} WHERE project=? AND parent=? AND id=?",
            (project, parent, doc_id)).fetchone()

    def update(self, collection: str, project: str, parent: str, doc: dict, touch: bool = True) -> dict:
        if touch:
            doc["$updatedAt"] = now_iso()
        self._write(collection, f"UPDATE {collection} SET data=? WHERE project=? AND parent=? AND id=?",
                    (json.dumps({k: v for k, v in doc.items() if k != "$sequence"}), project, parent, doc["$id"]))
        return doc

    def delete(self, collection: str, project: str, parent: str, doc_id: str) -> None:
        self._write(collection, f"DELETE FROM {collection} WHERE project=? AND parent=? AND id=?", (project, parent, doc_id))

    def delete_children(self, collection: str, project: str, parent: str) -> None:
        self._write(collection, f"DELETE FROM {collection} WHERE project=? AND parent=?", (project, parent))

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
        rows = self.reader().execute(f"SELECT project, parent, seq, data FROM {collection} WHERE {where}", params)
        return [(p, par, _doc((seq, data))) for p, par, seq, data in rows]

    def column_value(self, collection: str, column: str, seq: int):
        """The value of `column` (a translated sort column) in the row at `seq`: a list cursor's key."""
        row = self.reader().execute(f"SELECT {column} FROM {collection} WHERE seq=?", (seq,)).fetchone()
        return None if row is None else row[0]

    # -- named queries (background work across projects, and lookups by attribute) ------------------
    def scheduled_functions(self) -> list[tuple[str, str, dict]]:
        """Enabled functions with a cron schedule, across projects."""
        return self.all_projects_select(
            "functions", "json_extract(data, '$.schedule') != '' AND json_extract(data, '$.enabled') = 1")

    def unfinished_deployments(self) -> list[tuple[str, str, dict]]:
        """Deployments queued or building, across projects: what a restart has to settle."""
        return self.all_projects_select(
            "deployments", "json_extract(data, '$.status') IN ('waiting', 'processing', 'building')")

    def unfinished_executions(self) -> list[tuple[str, str, dict]]:
        """Executions queued or running, across projects: what a restart has to settle."""
        return self.all_projects_select("executions", "json_extract(data, '$.status') IN ('waiting', 'processing')")

    def due_executions(self, until_iso: str) -> list[tuple[str, str, dict]]:
        """Scheduled executions due at or before `until_iso`, across projects (uses the partial index)."""
        return self.all_projects_select(
            "executions", f"{SCHEDULED_EXECUTIONS} AND json_extract(data, '$._scheduledAt') <= ?", (until_iso,))

    def functions_named(self, function_id: str) -> list[tuple[str, str, dict]]:
        """Functions whose id is `function_id` ignoring case, across projects: what a function domain
        (a host name, so case-insensitive) names."""
        return self.all_projects_select("functions", "lower(id) = ?", (function_id.lower(),))

    def rules_for_domain(self, domain: str) -> list[tuple[str, str, dict]]:
        """Proxy rules for `domain`, across projects: which function a request's Host names."""
        return self.all_projects_select("rules", "json_extract(data, '$.domain') = ?", (domain,))

    def variable_key_taken(self, project: str, function_id: str, key: str, except_id: str = "") -> bool:
        """Whether a variable of this function other than `except_id` already has `key`."""
        return bool(self.select("variables", project, function_id, "json_extract(data, '$.key') = ? AND id != ?",
                                (key, except_id), limit=1))

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

    # -- usage: aggregates for the functions usage endpoints ------------------------------------------
    # Each answers a bounded result: one row per function (totals) or per function and period since
    # `since` (series). `period_chars` is how much of `$createdAt` names a period: 13 an hour, 10 a day.
    _CREATED = "json_extract(data, '$.\"$createdAt\"')"
    # Appwrite meters each execution as int(duration * 1000) ms and int(memory * cpus * duration)
    # MB-seconds (its runtime specification's memory and cpus); the sums add those per-row values.
    _SPEC_FACTOR = ("CASE json_extract(f.data, '$.runtimeSpecification') "
                    + " ".join(f"WHEN '{slug}' THEN {memory * cpus:g}" for slug, cpus, memory in SPECIFICATIONS)
                    + f" ELSE {dict((s, m * c) for s, c, m in SPECIFICATIONS)[DEFAULT_SPECIFICATION]:g} END")
    _EXECUTION_SUMS = (
        "COUNT(*), COALESCE(SUM(CAST(json_extract(data, '$.duration') * 1000 AS INTEGER)), 0),"
        f" COALESCE(SUM(CAST(json_extract(data, '$.duration') * (SELECT {_SPEC_FACTOR} FROM functions f"
        "  WHERE f.project = executions.project AND f.parent = '' AND f.id = executions.parent) AS INTEGER)), 0)")
    _FINISHED_EXECUTION = "json_extract(data, '$.status') IN ('completed', 'failed')"
    _DEPLOYMENT_SUMS = (
        "COUNT(*), COALESCE(SUM(json_extract(data, '$.sourceSize')), 0),"
        " SUM(json_extract(data, '$.status') IN ('ready', 'failed')),"
        " SUM(json_extract(data, '$.status') = 'ready'), SUM(json_extract(data, '$.status') = 'failed'),"
        " COALESCE(SUM(json_extract(data, '$.buildSize')), 0),"
        " COALESCE(SUM(json_extract(data, '$.buildDuration')), 0)")

    def _usage(self, collection: str, sums: str, where: str, project: str, parent: str | None,
               since: str | None, period_chars: int) -> list[tuple]:
        sql, args = self._base(collection, project, parent, where, ())
        if since is None:
            return list(self.reader().execute(f"SELECT parent, {sums} {sql} GROUP BY parent", args))
        sql += f" AND {self._CREATED} >= ?"
        period = f"substr({self._CREATED}, 1, {int(period_chars)})"
        return list(self.reader().execute(
            f"SELECT parent, {period} AS period, {sums} {sql} GROUP BY parent, period", args + (since,)))

    def execution_usage(self, project: str, function_id: str | None, since: str | None = None,
                        period_chars: int = 10) -> list[tuple]:
        """Finished executions: (function, count, milliseconds, MB-seconds) per function, or with
        `since` (function, period, count, milliseconds, MB-seconds) per function and period."""
        return self._usage("executions", self._EXECUTION_SUMS, self._FINISHED_EXECUTION, project, function_id,
                           since, period_chars)

    def deployment_usage(self, project: str, function_id: str | None, since: str | None = None,
                         period_chars: int = 10) -> list[tuple]:
        """Deployments: (function, [period,] count, source bytes, builds, ready builds, failed builds,
        build bytes, build seconds), as execution_usage."""
        return self._usage("deployments", self._DEPLOYMENT_SUMS, "", project, function_id, since, period_chars)

    def function_usage(self, project: str, since: str | None = None, period_chars: int = 10) -> list[tuple]:
        """Functions of the project: ("", count), or with `since` ("", period, count) per period."""
        return self._usage("functions", "COUNT(*)", "", project, "", since, period_chars)


def _doc(row) -> dict | None:
    if row is None:
        return None
    doc = json.loads(row[1])
    doc["$sequence"] = row[0]
    return doc
