"""`DevLoop`: a project's functions kept deployed in a running server while their files change.

It owns one `FunctionDeployer` per function (deploy.py), the watcher that wakes them (watch.py),
the config poller (config.py) and the syntax checker they share (syntax.py), and prints the
server's executions of the project's functions. Everything goes through the services, not HTTP.
"""
from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path

from ..access_log import BuildOutputLines
from ..errors import AppwriteError
from ..project import FunctionConfig, Project
from ..services.state import State
from . import DEBOUNCE_MS
from .config import ConfigPoller
from .console import Console
from .deploy import BuildWaiter, DeployContext, FunctionDeployer, sync_function
from .syntax import SyntaxChecker
from .watch import Watcher, WatchFilter


class DevLoop:
    def __init__(self, project: Project, state: State, debounce_ms: int = DEBOUNCE_MS, console: Console | None = None,
                 node_parser: subprocess.Popen | None = None):
        self.project = project
        self.state = state
        self.pid = project.project_id
        self.out = console or Console()
        self.watched: dict[str, FunctionDeployer] = {}
        self._builds = BuildWaiter()
        self._checker = SyntaxChecker(node_parser)
        self._ctx = DeployContext(state=state, project_id=self.pid, console=self.out, checker=self._checker,
                                  builds=self._builds, debounce_ms=debounce_ms)
        self._filter = WatchFilter(lambda: [d.fn for d in self.watched.values()])
        self._watcher = Watcher(self._filter, self._changed)
        self._config = ConfigPoller(project.config_file, self.pid, self._apply,
                                    lambda message: self.out.info(message, fg="red"))
        self._retired: list[asyncio.Task] = []  # work of functions removed from the config
        self._tasks: list[asyncio.Task] = []
        state.builds.listeners.append(self._builds.on_build)
        state.runner.listeners.append(self._on_execution)
        self._build_lines = BuildOutputLines()
        state.builds.output_listeners.append(self._on_build_output)

    # -- start, stop ------------------------------------------------------------------------------
    def builds_wait_for(self, probes: asyncio.Future) -> None:
        """Full builds start once `probes` resolves (dev's toolchain warm-up: a build that asked
        first would run the same probes again); what comes before a build does not wait."""
        self._ctx.probes = probes

    async def start(self) -> None:
        """Create the functions, start watching, and start their first deployments."""
        for note in self.project.notes:
            self.out.info(note, fg="yellow")
        # A JavaScript entrypoint's check needs the node parser: started now, its start overlaps
        # the first build instead of coming after it (it was the last step of a first deployment).
        self._checker.prepare([fn.entrypoint for fn in self.project.functions])
        for fn in self.project.functions:
            self._add(fn)
        self._tasks = [asyncio.ensure_future(self._watcher.run()), asyncio.ensure_future(self._config.run())]

    async def initial_deploys(self) -> None:
        await asyncio.gather(*[d.attempted.wait() for d in self.watched.values()])

    async def watch_forever(self) -> None:
        await asyncio.gather(*self._tasks)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        pending = [t for d in self.watched.values() for t in d.cancel()]
        await asyncio.gather(*pending, *self._retired, *self._tasks, return_exceptions=True)
        for deployer in self.watched.values():
            await deployer.discard_staged()
        await self._checker.close()
        if self._builds.on_build in self.state.builds.listeners:
            self.state.builds.listeners.remove(self._builds.on_build)
        if self._on_execution in self.state.runner.listeners:
            self.state.runner.listeners.remove(self._on_execution)
        if self._on_build_output in self.state.builds.output_listeners:
            self.state.builds.output_listeners.remove(self._on_build_output)

    # -- functions ----------------------------------------------------------------------------
    def _add(self, fn: FunctionConfig) -> None:
        self._exclude_data_dir(fn)
        try:
            sync_function(self.state, self.pid, fn)
        except AppwriteError as exc:
            self.out.fn(fn.id, f"cannot create the function: {exc.message}", fg="red")
            return
        deployer = FunctionDeployer(fn, self._ctx)
        self.watched[fn.id] = deployer
        deployer.start()

    def _exclude_data_dir(self, fn: FunctionConfig) -> None:
        data_dir = Path(os.path.abspath(self.state.settings.data_dir))
        if data_dir == fn.path or fn.path in data_dir.parents:
            fn.extra_excludes = (data_dir,)

    def _changed(self, function_id: str) -> None:
        deployer = self.watched.get(function_id)
        if deployer is not None:
            deployer.wake.set()

    def _apply(self, project: Project) -> None:
        """Follow an edited config: new functions, changed settings, removed functions."""
        paths_changed = False
        for fn in project.functions:
            deployer = self.watched.get(fn.id)
            if deployer is None:
                self.out.fn(fn.id, "new in the config", fg="cyan")
                self._add(fn)
                paths_changed = True
                continue
            self._exclude_data_dir(fn)
            old = deployer.fn
            if (fn.function_params(), fn.environment()) == (old.function_params(), old.environment()) \
                    and fn.build_key() == old.build_key():
                deployer.fn = fn
                continue
            try:
                sync_function(self.state, self.pid, fn)
            except AppwriteError as exc:
                self.out.fn(fn.id, f"settings not applied: {exc.message}", fg="red")
                continue
            if fn.build_key() != old.build_key():
                deployer.force_full = "build settings changed"
                deployer.wake.set()
            else:
                self.out.fn(fn.id, "settings updated", fg="cyan")
            paths_changed |= fn.path != old.path
            deployer.fn = fn
        for fid in set(self.watched) - {fn.id for fn in project.functions}:
            self._retired += self.watched.pop(fid).cancel()
            self.out.fn(fid, "removed from the config: no longer watched (left in the emulator)", fg="yellow")
            paths_changed = True
        self.project.functions = project.functions
        if paths_changed:
            self._watcher.restart()

    # -- executions -----------------------------------------------------------------------------
    def _on_execution(self, project: str, function: dict, doc: dict) -> None:
        if project == self.pid:
            self.out.execution(function["$id"], doc)

    def _on_build_output(self, project: str, function_id: str, deployment_id: str, text: str) -> None:
        """Dependency installs and compiles print as they run (from a build thread)."""
        if project == self.pid:
            for line in self._build_lines.feed((function_id, deployment_id), text):
                self.out.build_output(function_id, line)

