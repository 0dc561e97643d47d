"""The SQLite store's write path: writes on the event loop are applied at the end of the loop
step in one transaction, reads never miss a write, a response leaves only after its writes are
committed (a synchronous execution's answer excepted: its commit follows in the same loop step),
one bad write loses nothing else, and the scheduler's query uses its index."""
from __future__ import annotations

import asyncio
import sqlite3
import threading
from types import SimpleNamespace

import pytest

from emulator.api.common import STATE_KEY, commit_follows
from emulator.middlewares import commit_middleware
from emulator.store import SCHEDULED_EXECUTIONS, Store

pytestmark = pytest.mark.timeout(60)


def committed(store: Store, doc_id: str) -> bool:
    """Whether another connection (another thread, another process) sees the document."""
    conn = sqlite3.connect(str(store.path))
    try:
        return conn.execute("SELECT 1 FROM executions WHERE id=?", (doc_id,)).fetchone() is not None
    finally:
        conn.close()


async def test_writes_on_the_loop_are_read_at_once_and_committed_when_the_step_ends(tmp_path):
    store = Store(tmp_path / "db.sqlite")
    try:
        doc = store.insert("executions", "p", "f", {"$id": "e1", "status": "waiting"})
        assert not committed(store, "e1"), "applied at the end of the loop step, not inside it"
        assert store.get("executions", "p", "f", "e1")["status"] == "waiting", "a read on the loop sees it"
        assert doc["$sequence"] >= 1
        doc["status"] = "completed"
        store.update("executions", "p", "f", doc)
        await asyncio.sleep(0)  # the step ends
        assert committed(store, "e1")
        got = await asyncio.to_thread(store.get, "executions", "p", "f", "e1")  # a reader thread
        assert got["status"] == "completed"
        store.delete("executions", "p", "f", "e1")
        assert store.get("executions", "p", "f", "e1") is None
    finally:
        store.close()


def test_writes_off_the_loop_apply_at_once(tmp_path):
    store = Store(tmp_path / "db.sqlite")
    try:
        store.insert("executions", "p", "f", {"$id": "e1", "status": "waiting"})
        assert committed(store, "e1")
    finally:
        store.close()


async def test_a_response_leaves_only_after_its_writes_are_committed(tmp_path):
    store = Store(tmp_path / "db.sqlite")
    request = FakeRequest(store)

    async def handler(_request):
        store.insert("executions", "p", "f", {"$id": "acknowledged"})
        assert not committed(store, "acknowledged")
        return "the response"

    try:
        assert await commit_middleware(request, handler) == "the response"
        assert committed(store, "acknowledged"), "committed before the response is handed back to aiohttp"
    finally:
        store.close()


class FakeRequest(dict):
    """What commit_middleware reads of a request: its app and its per-request values."""

    def __init__(self, store: Store):
        super().__init__()
        self.app = {STATE_KEY: SimpleNamespace(store=store)}


async def test_a_synchronous_executions_answer_leaves_before_its_commit_which_ends_the_step(tmp_path):
    """The handler marks the answer (commit_follows): it is handed back at once, and the record
    is committed before the loop runs anything scheduled after it (the next request's handler)."""
    store = Store(tmp_path / "db.sqlite")
    request = FakeRequest(store)
    seen_by_next: list[bool] = []

    async def handler(_request):
        store.insert("executions", "p", "f", {"$id": "sync-record"})
        commit_follows(_request)
        return "the function's answer"

    try:
        assert await commit_middleware(request, handler) == "the function's answer"
        assert not committed(store, "sync-record"), "the answer did not wait for the commit"
        # Whatever the loop runs next (a request that arrives now) finds the record committed.
        asyncio.get_running_loop().call_soon(lambda: seen_by_next.append(committed(store, "sync-record")))
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert seen_by_next == [True]
    finally:
        store.close()


def count_commits(store: Store) -> list[str]:
    commits: list[str] = []
    store.db.set_trace_callback(lambda sql: commits.append(sql) if sql == "COMMIT" else None)
    return commits


async def test_responses_finishing_in_one_loop_step_share_one_commit(tmp_path):
    """Group commit: concurrent requests whose handlers finish in the same step wait for one
    transaction, and none of them is answered before it is committed."""
    store = Store(tmp_path / "db.sqlite")
    request = FakeRequest(store)
    go = asyncio.Event()

    def handler_writing(doc_id):
        async def handler(_request):
            await go.wait()  # all of them resume in the same loop step
            store.insert("executions", "p", "f", {"$id": doc_id})
            return doc_id
        return handler

    try:
        commits = count_commits(store)
        ids = [f"e{i}" for i in range(8)]
        answers = [asyncio.ensure_future(commit_middleware(request, handler_writing(i))) for i in ids]
        await asyncio.sleep(0)
        go.set()
        for answer in asyncio.as_completed(answers):
            await answer
            assert all(committed(store, i) for i in ids), "an answer left before the commit"
        assert len(commits) == 1, commits
    finally:
        store.close()


async def test_a_write_off_the_loop_keeps_the_order_of_the_loops_pending_writes(tmp_path):
    """A write from another thread applies the loop's pending writes first; whoever waits for
    them on the loop returns once they are committed."""
    store = Store(tmp_path / "db.sqlite")
    try:
        store.insert("executions", "p", "f", {"$id": "on-loop"})
        waiter = asyncio.ensure_future(store.committed())
        await asyncio.to_thread(store.insert, "executions", "p", "f", {"$id": "off-loop"})
        await asyncio.wait_for(waiter, 10)
        seqs = [store.get("executions", "p", "f", i)["$sequence"] for i in ("on-loop", "off-loop")]
        assert committed(store, "on-loop") and committed(store, "off-loop") and seqs[0] < seqs[1]
    finally:
        store.close()


async def test_remembered_functions_are_never_stale_nor_shared(tmp_path):
    """Functions and deployments are remembered between writes to their collection: a write is
    seen by the next read, and a caller changing what it got changes nothing stored."""
    store = Store(tmp_path / "db.sqlite")
    try:
        store.insert("functions", "p", "", {"$id": "fn", "name": "one"})
        await asyncio.sleep(0)
        got = store.get("functions", "p", "", "fn")
        got["name"] = "changed by a caller"
        assert store.get("functions", "p", "", "fn")["name"] == "one"
        queries = []
        store.db.set_trace_callback(queries.append)
        assert store.get("functions", "p", "", "fn")["name"] == "one"
        assert not queries, "a warm lookup runs no query"
        store.update("functions", "p", "", {"$id": "fn", "name": "two"})
        assert store.get("functions", "p", "", "fn")["name"] == "two", "a pending write is seen at once"
        await asyncio.sleep(0)
        await asyncio.to_thread(store.update, "functions", "p", "", {"$id": "fn", "name": "three"})
        assert store.get("functions", "p", "", "fn")["name"] == "three", "a write off the loop too"
        store.delete("functions", "p", "", "fn")
        assert store.get("functions", "p", "", "fn") is None
    finally:
        store.close()


class PausingWrites:
    """The store's connection, except that an UPDATE of a function waits (holding whatever the
    writer holds) until `resume` is set, after setting `paused`."""

    def __init__(self, db):
        self.db, self.paused, self.resume = db, threading.Event(), threading.Event()

    def execute(self, sql, args=()):
        if sql.startswith("UPDATE functions"):
            self.paused.set()
            assert self.resume.wait(30)
        return self.db.execute(sql, args)

    def __getattr__(self, name):
        return getattr(self.db, name)


def test_a_remembered_function_is_not_a_row_read_in_the_middle_of_another_threads_write(tmp_path):
    """A write from another thread counts its version, then applies its row: a lookup between the
    two must not remember the old row under the new version (it would be served until the next write)."""
    store = Store(tmp_path / "db.sqlite")
    try:
        store.insert("functions", "p", "", {"$id": "fn", "name": "one"})  # no loop here: applied at once
        pausing = store.db = PausingWrites(store.db)
        writer = threading.Thread(target=store.update, args=("functions", "p", "", {"$id": "fn", "name": "two"}))
        writer.start()
        assert pausing.paused.wait(30)
        looked_up = {}

        def lookup_as_the_loop():
            store._owner = threading.get_ident()  # the thread whose lookups are remembered
            looked_up["name"] = store.get("functions", "p", "", "fn")["name"]

        reader = threading.Thread(target=lookup_as_the_loop)
        reader.start()
        pausing.resume.set()
        writer.join(30)
        reader.join(30)
        assert looked_up["name"] == "two", "a lookup waits for a write under way"
    finally:
        store.db = getattr(store.db, "db", store.db)
        store.close()


async def test_a_failing_write_loses_nothing_else_of_its_step(tmp_path):
    store = Store(tmp_path / "db.sqlite")
    try:
        store.insert("executions", "p", "f", {"$id": "dup"})
        await asyncio.sleep(0)
        store.insert("executions", "p", "f", {"$id": "before"})
        store.insert("executions", "p", "f", {"$id": "dup"})  # violates the unique (project, parent, id)
        store.insert("executions", "p", "f", {"$id": "after"})
        await asyncio.sleep(0)
        assert committed(store, "before") and committed(store, "after")
    finally:
        store.close()


async def test_close_applies_pending_writes(tmp_path):
    store = Store(tmp_path / "db.sqlite")
    store.insert("executions", "p", "f", {"$id": "last"})
    store.close()
    reopened = Store(tmp_path / "db.sqlite")
    try:
        assert reopened.get("executions", "p", "f", "last") is not None
    finally:
        reopened.close()


def test_the_scheduler_query_uses_the_partial_index(tmp_path):
    """The query the scheduler runs every second (Store.due_executions), as SQLite plans it."""
    store = Store(tmp_path / "db.sqlite")
    try:
        statements = []
        store.db.set_trace_callback(statements.append)
        store.due_executions("2030-01-01T00:00:00.000+00:00")
        store.db.set_trace_callback(None)
        due = [sql for sql in statements if "FROM executions" in sql]
        assert len(due) == 1, statements
        assert SCHEDULED_EXECUTIONS in due[0], due[0]
        plan = " ".join(row[3] for row in store.db.execute("EXPLAIN QUERY PLAN " + due[0]))
        assert "executions_scheduled" in plan, plan
    finally:
        store.close()
