"""Which file changes matter to which function, and the watcher that reports them.

`WatchFilter` is the decision alone (no watching, no event loop): a path matters when it lies in
a watched function's folder and that function's deployment would include it (its `ignore` list
or `.gitignore`, see project.py). `Watcher` runs watchfiles over the function folders with it.
"""
from __future__ import annotations

import asyncio
import logging
import os
import threading
from pathlib import Path
from typing import Callable, Iterable

from watchfiles import watch

from ..project import FunctionConfig, IgnoreRules

log = logging.getLogger(__name__)

WATCH_STEP_MS = 10
# watchfiles' own debounce only bounds how long it gathers one batch: the quiet window that
# decides when to deploy is the deploy worker's (deploy.py), so batches are handed over at once.
WATCH_BATCH_MS = 1600


class WatchFilter:
    """`filter(change, path) -> bool` in watchfiles' `watch_filter` form, plus `owners(path)`.

    `functions` returns the functions watched now; each one's ignore rules are read once and
    read again when its `.gitignore` changes or its config is replaced."""

    def __init__(self, functions: Callable[[], Iterable[FunctionConfig]]):
        self._functions = functions
        self._rules: dict[str, tuple[FunctionConfig, IgnoreRules]] = {}

    def roots(self) -> list[str]:
        """The folders to watch."""
        return sorted({str(fn.path) for fn in self._functions()})

    def owners(self, path: str) -> list[FunctionConfig]:
        """The watched functions whose folder holds `path` (folders may nest)."""
        p = Path(path)
        return [fn for fn in self._functions() if p == fn.path or fn.path in p.parents]

    def rules(self, fn: FunctionConfig) -> IgnoreRules:
        cached = self._rules.get(fn.id)
        if cached is None or cached[0] is not fn:
            cached = self._rules[fn.id] = (fn, fn.ignore_rules())
        return cached[1]

    def __call__(self, change, path: str) -> bool:
        relevant = False
        for fn in self.owners(path):
            if os.path.basename(path) == ".gitignore":
                self._rules.pop(fn.id, None)
            if not fn.is_ignored(Path(path), self.rules(fn)):
                relevant = True
        return relevant


class Watcher:
    """Watches the filter's roots; calls `on_change(function_id)` for each function a relevant
    change touches. `restart()` after the set of watched folders changed.

    watchfiles' blocking `watch` runs on a thread of its own and hands each batch to the loop,
    where the filter runs. Not its async twin `awatch`: on first use that imports anyio's asyncio
    backend, ~20 ms with the loop blocked, in the middle of `dev`'s first deployments."""

    def __init__(self, watch_filter: WatchFilter, on_change: Callable[[str], None]):
        self.filter = watch_filter
        self.on_change = on_change
        self._restart = asyncio.Event()

    def restart(self) -> None:
        self._restart.set()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self._restart.clear()
            paths = self.filter.roots()
            if not paths:
                await self._restart.wait()
                continue
            stop = threading.Event()
            thread = threading.Thread(target=self._watch, args=(paths, stop, loop), name="dev-watcher", daemon=True)
            thread.start()
            try:
                await self._restart.wait()
            finally:
                stop.set()  # seen within a step (WATCH_STEP_MS)
                await asyncio.to_thread(thread.join)

    def _watch(self, paths: list[str], stop: threading.Event, loop: asyncio.AbstractEventLoop) -> None:
        try:
            # A short step hands events over quickly; the debounce window is the worker's.
            for changes in watch(*paths, watch_filter=None, step=WATCH_STEP_MS, debounce=WATCH_BATCH_MS,
                                 stop_event=stop, raise_interrupt=False, ignore_permission_denied=True):
                loop.call_soon_threadsafe(self._deliver, changes)
        except RuntimeError:  # the loop closed under a last batch
            pass
        except Exception:  # noqa: BLE001 - a watcher that died must say so; dev keeps serving
            log.exception("watching %s failed; edits are no longer picked up", ", ".join(paths))

    def _deliver(self, changes) -> None:
        for change, path in changes:
            if self.filter(change, path):
                for fn in self.filter.owners(path):
                    self.on_change(fn.id)
