"""The deploy state machine of one function folder: each burst of changes becomes one deployment.

Per change (what `appwrite run function` does, docs/runtime-contract.md "appwrite run function", with
the old deployment serving throughout):
- source edit of an interpreted runtime -> hot swap (services/hotswap.py): the last build with the
  new sources laid over it, dependencies not reinstalled;
- dependency file (`Language.dependency_files`), compiled runtime, or a build setting changed in
  the config -> full build through the build queue;
- either way the new deployment is syntax-checked and its instance started before it becomes the
  active one. A failure leaves the old deployment active and prints the failing lines.
Changes are debounced (a quiet window, DEBOUNCE_MS by default). A hot swap is prepared while the window
runs and goes live when it ends quietly, so the window costs no extra time; a change inside it
throws that work away. Changes that arrive during a deployment are kept and coalesced into one
follow-up deployment.
"""
from __future__ import annotations

import asyncio
import logging
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from ..errors import AppwriteError
from ..params import UploadedFile
from ..project import FunctionConfig
from ..services import variables as variables_svc
from ..services.deployments import delete_deployment, upload_deployment
from ..services.executions import runtime_spec
from ..services.functions import activate_deployment, create_function, update_function
from ..services.hotswap import discard_hotswap, hotswap_deployment, prepare_hotswap
from ..services.state import State, deployment_key
from . import DEBOUNCE_MS
from .console import Console, change_summary, elapsed, failing_lines, phases
from .syntax import SyntaxChecker
from .watch import WATCH_STEP_MS

log = logging.getLogger("emulator.dev")
KEEP_DEPLOYMENTS = 3  # per function, besides the active one; older ones this session made are deleted
MAX_CHECKED_FILES = 200
STAGE_AFTER_SECONDS = 0.2  # after the first requests to a new deployment, stage the next hot swap
PRUNE_AFTER_SECONDS = 1.5  # then delete old deployments


class BuildWaiter:
    """Futures for the full builds this session started, resolved when the build queue reports
    them (register `on_build` as a BuildQueue listener)."""

    def __init__(self):
        self._futures: dict[str, asyncio.Future] = {}

    def expect(self, deployment_id: str) -> asyncio.Future:
        future = asyncio.get_running_loop().create_future()
        self._futures[deployment_id] = future
        return future

    def on_build(self, project: str, function_id: str, doc: dict | None) -> None:
        if doc is not None:
            future = self._futures.pop(doc["$id"], None)
            if future is not None and not future.done():
                future.set_result(doc)


@dataclass
class DeployContext:
    """What every function's deployer shares."""
    state: State
    project_id: str
    console: Console
    checker: SyntaxChecker
    builds: BuildWaiter
    debounce_ms: int = DEBOUNCE_MS
    probes: asyncio.Future | None = None  # builds start once it resolves (DevLoop.builds_wait_for)


@dataclass
class Candidate:
    """A deployment prepared for one state of a function folder, not yet live."""
    files: dict
    started: float
    what: str
    kind: str
    doc: dict | None = None
    needs_full: bool = False  # a full build is due; nothing was prepared
    failure: str = ""  # why it cannot go live ("" = it can)
    details: list[str] = field(default_factory=list)
    phases: dict[str, float] = field(default_factory=dict)


def sync_function(state: State, project_id: str, fn: FunctionConfig) -> None:
    """Create or update the function and its variables as the config says. Raises AppwriteError."""
    existing = state.store.get("functions", project_id, "", fn.id)
    if existing is None:
        create_function(state, project_id, fn.function_params())
    else:
        update_function(state, project_id, fn.id, fn.function_params())
    wanted = fn.environment()
    current = {v["key"]: v for v in state.store.select("variables", project_id, fn.id)}
    for key, value in wanted.items():
        if key not in current:
            variables_svc.create_variable(state, project_id, fn.id, {"key": key, "value": value, "secret": False})
        elif str(current[key].get("value")) != value:
            variables_svc.update_variable(state, project_id, fn.id, current[key]["$id"], {"value": value})
    for key, doc in current.items():
        if key not in wanted:
            variables_svc.delete_variable(state, project_id, fn.id, doc["$id"])


class FunctionDeployer:
    """One watched function: `wake` is set on every relevant change; the worker task turns the
    changes into deployments, one at a time."""

    def __init__(self, fn: FunctionConfig, ctx: DeployContext):
        self.fn = fn
        self.ctx = ctx
        self.wake = asyncio.Event()
        self.snapshot: dict | None = None  # files of the active deployment this session made
        self.deployment_id = ""
        self.force_full = "first deployment"  # why the next deployment must be a full build ("" = no need)
        self.created: list[str] = []  # deployments this session made, oldest first
        self.attempted = asyncio.Event()  # the first deployment was tried
        self.task: asyncio.Task | None = None
        self._background: set[asyncio.Task] = set()

    @property
    def _pid(self) -> str:
        return self.ctx.project_id

    def start(self) -> None:
        self.task = asyncio.ensure_future(self._worker())
        self.wake.set()

    def cancel(self) -> list[asyncio.Task]:
        """Cancel the worker and background work; returns the tasks to await."""
        tasks = [t for t in (self.task, *self._background) if t is not None]
        for task in tasks:
            task.cancel()
        return tasks

    async def discard_staged(self) -> None:
        await discard_hotswap(self.ctx.state, self._pid, self.fn.id)

    # -- the worker -----------------------------------------------------------------------------
    async def _worker(self) -> None:
        while True:
            await self.wake.wait()
            self.wake.clear()
            used = None
            try:
                if self.attempted.is_set():
                    used = await self._after_change()
                else:
                    used = await self._deploy()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # keep watching whatever one deployment does
                log.exception("deployment of %s failed", self.fn.id)
                self.ctx.console.fn(self.fn.id, f"failed: {type(exc).__name__}: {exc}", fg="red")
            self.attempted.set()
            # Changes made before the watcher ran, or events it lost, still get deployed.
            if used is not None and not self.wake.is_set() and await asyncio.to_thread(self.fn.files) != used:
                self.wake.set()

    async def _quiet(self) -> bool:
        """Wait one debounce window; False (and the flag cleared) when another change came in it."""
        # The watcher hands changes over after WATCH_STEP_MS without another: that much of the
        # window has passed already.
        window = max(self.ctx.debounce_ms - WATCH_STEP_MS, 0) / 1000
        try:
            await asyncio.wait_for(self.wake.wait(), window)
        except asyncio.TimeoutError:
            return True
        self.wake.clear()
        return False

    async def _after_change(self) -> dict | None:
        """Debounce, then deploy. A hot swap is prepared during the debounce window (speculatively)
        and goes live only if the window stays quiet and the files are still the ones it packed;
        otherwise it is thrown away and the change is handled after the files settle."""
        speculation = asyncio.ensure_future(self._prepare(allow_full=False))
        quiet = await self._quiet()
        candidate = await speculation
        if quiet and candidate is not None and not candidate.needs_full:
            if await asyncio.to_thread(self.fn.files) == candidate.files:
                return await self._commit(candidate)
        if candidate is not None and candidate.doc is not None:
            await self._drop(candidate)
        while not quiet:  # editors write in bursts: wait for the end of this one
            quiet = await self._quiet()
        return await self._deploy()

    async def _deploy(self) -> dict | None:
        """Deploy the folder as it is now. Returns the files it deployed (None: nothing to do)."""
        candidate = await self._prepare(allow_full=True)
        return None if candidate is None else await self._commit(candidate)

    # -- one deployment -------------------------------------------------------------------------
    async def _prepare(self, allow_full: bool) -> Candidate | None:
        """Build (or hot-swap), syntax-check and start a new deployment of the folder as it is now,
        without activating it. None when nothing changed."""
        fn, language, state = self.fn, self.fn.language, self.ctx.state
        started = time.monotonic()
        files = await asyncio.to_thread(fn.files)
        previous = self.snapshot or {}
        changed = sorted({p for p in files if previous.get(p) != files[p]} | (set(previous) - set(files)))
        if self.snapshot is not None and not changed and not self.force_full:
            return None  # e.g. an editor touched a file without changing it
        deps = [p for p in changed if PurePosixPath(p).name in language.dependency_files]
        reason = (self.force_full or ("compiled runtime" if language.compiled else "")
                  or (f"{', '.join(deps)} changed" if deps else ""))
        c = Candidate(files=files, started=started,
                      what=change_summary(changed) if self.snapshot is not None else f"{len(files)} files",
                      kind="full build" if reason else "hot swap")
        if reason and not allow_full:
            c.needs_full = True
            return c
        source = await asyncio.to_thread(fn.pack, files)
        c.phases["pack"] = time.monotonic()
        if reason:
            self.ctx.console.fn(fn.id, f"building ({reason}): {c.what} ...", fg="cyan")
            self.ctx.checker.prepare(files)
            await self.discard_staged()
            if self.ctx.probes is not None:
                await asyncio.shield(self.ctx.probes)
            doc = await upload_deployment(
                state, self._pid, fn.id, {"activate": False, "entrypoint": fn.entrypoint, "commands": fn.commands},
                UploadedFile("code.tar.gz", source), None, None, "cli")
            c.doc = await self.ctx.builds.expect(doc["$id"])
        else:
            c.doc = await hotswap_deployment(state, self._pid, fn.id, self.deployment_id, source)
        c.phases["build" if reason else "swap"] = time.monotonic()
        self.created.append(c.doc["$id"])
        dep_dir = state.deployment_dir(self._pid, fn.id, c.doc["$id"])
        if c.doc.get("status") != "ready":
            c.failure = "build error"
            logs = (c.doc.get("buildLogs") or "no build output").replace(f"{os.path.abspath(dep_dir / 'build')}/", "")
            c.details = failing_lines(logs)
            return c
        # An executor that runs from the build archive keeps no build folder: check the folder the
        # source was packed from.
        in_build = (dep_dir / "build").is_dir() and not self._executor().capabilities.runs_from_archive
        code_dir = dep_dir / "build" if in_build else fn.path
        to_check = list(files) if reason else [p for p in changed if p in files]
        # The instance first: its process start is the longer of the two.
        warm_error, errors = await asyncio.gather(self._prewarm(c.doc),
                                                  self.ctx.checker.check(code_dir, to_check[:MAX_CHECKED_FILES]))
        c.phases["check+start"] = time.monotonic()
        if errors or warm_error:
            c.failure = "syntax error" if errors else "runtime did not start"
            c.details = (errors or warm_error).splitlines()[:40]
            self._mark_failed(c.doc, errors or warm_error)
            await self._stop_instances(c.doc["$id"])
        return c

    async def _commit(self, c: Candidate) -> dict:
        """Make a prepared deployment live, or report why it cannot be. Returns the files it holds."""
        fn, out = self.fn, self.ctx.console
        keeping = f"still serving {self.deployment_id}" if self.deployment_id else "nothing deployed yet"
        if c.failure:
            out.fn(fn.id, f"failed ({c.kind}: {c.what}) after {elapsed(c.started)}: {c.failure}; {keeping}",
                   fg="red", bold=True)
            out.details(c.details, fg="red")
        else:
            await activate_deployment(self.ctx.state, self._pid, fn.id, c.doc["$id"])
            c.phases["switch"] = time.monotonic()
            self.deployment_id, self.snapshot, self.force_full = c.doc["$id"], c.files, ""
            out.fn(fn.id, f"deployed {c.doc['$id']} ({c.kind}: {c.what}) in {elapsed(c.started)} "
                          f"[{phases(c.started, c.phases)}]", fg="green")
        self._after_deploy()
        return c.files

    async def _drop(self, c: Candidate) -> None:
        """A speculative deployment the files moved on from: never activated, pruned later."""
        await self._stop_instances(c.doc["$id"])
        if c.doc.get("status") == "ready":
            self._mark_failed(c.doc, "superseded by a newer change before it went live")

    def _function(self) -> dict:
        return self.ctx.state.store.get("functions", self._pid, "", self.fn.id) or {"runtime": "", "$id": self.fn.id}

    def _executor(self):
        return self.ctx.state.executor_for(self._function())

    async def _stop_instances(self, deployment_id: str) -> None:
        await self._executor().stop_deployment(deployment_key(self._pid, deployment_id))

    async def _prewarm(self, doc: dict) -> str:
        """Start the new deployment's instance before it takes traffic. Returns an error or ''."""
        function = self._function()
        try:
            await self.ctx.state.executor_for(function).prewarm(runtime_spec(self.ctx.state, self._pid, function, doc))
        except Exception as exc:  # noqa: BLE001 - reported as the deployment's failure
            return getattr(exc, "message", None) or str(exc)
        return ""

    async def _start_ahead(self, staged_id: str) -> None:
        """Start the staged swap's instance up to the point where it would load the function (the
        executor's `start_ahead`: a Python process with its imports done): a swap then starts it
        in a fraction of an interpreter start. Not further: the new sources come later."""
        function = self._function()
        active = self.ctx.state.store.get("deployments", self._pid, self.fn.id, self.deployment_id) or {}
        # The document hotswap_deployment will give the staged deployment, as far as the spec reads it.
        staged = {"$id": staged_id, "entrypoint": function.get("entrypoint") or active.get("entrypoint", "")}
        try:
            await self._executor().start_ahead(runtime_spec(self.ctx.state, self._pid, function, staged))
        except Exception:  # noqa: BLE001 - an optimisation: the swap starts its instance the usual way
            log.debug("no instance started ahead for %s", staged_id, exc_info=True)

    def _mark_failed(self, doc: dict, reason: str) -> None:
        store = self.ctx.state.store
        current = store.get("deployments", self._pid, self.fn.id, doc["$id"]) or doc
        current["status"] = "failed"
        current["buildLogs"] = (current.get("buildLogs") or "") + f"\nNot activated: {reason}\n"
        store.update("deployments", self._pid, self.fn.id, current)

    def _after_deploy(self) -> None:
        """In the background, once the new deployment serves: stage the next hot swap (so a source
        edit only has to overlay files) and start its instance ahead, then delete old deployments."""
        state, fid = self.ctx.state, self.fn.id

        async def prune():
            await asyncio.sleep(STAGE_AFTER_SECONDS)
            if self.deployment_id and not self.fn.language.compiled:
                staged_id = await prepare_hotswap(state, self._pid, fid, self.deployment_id)
                if staged_id:
                    await self._start_ahead(staged_id)
            await asyncio.sleep(PRUNE_AFTER_SECONDS)
            active = self._function().get("deploymentId")
            old = [d for d in self.created if d not in (active, self.deployment_id)]
            for deployment_id in old[:max(0, len(old) - KEEP_DEPLOYMENTS)]:
                self.created.remove(deployment_id)
                # The big part (a venv, node_modules) goes in a thread, not on the server's loop.
                build = state.deployment_dir(self._pid, fid, deployment_id) / "build"
                await asyncio.to_thread(shutil.rmtree, build, True)
                try:
                    await delete_deployment(state, self._pid, fid, deployment_id)
                except AppwriteError:
                    pass
        task = asyncio.ensure_future(prune())
        self._background.add(task)
        task.add_done_callback(self._background.discard)
