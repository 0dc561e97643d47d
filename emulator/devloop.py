"""`python -m emulator dev`: serve, deploy the project's functions, redeploy them as files change.

The server runs in this process; functions are created, updated and deployed through the
services (no HTTP). The reloader stays outside the server, like uvicorn's: it watches the function
folders with watchfiles and turns each burst of changes into one new deployment.

Per change, per function (what `appwrite run function` does, shared/reference/openruntimes-contract.md
§8, with the old deployment serving throughout):
- source edit of an interpreted runtime -> hot swap (services/hotswap.py): the last build with the
  new sources laid over it, dependencies not reinstalled;
- dependency file (`Language.dependency_files`), compiled runtime, or a build setting changed in
  the config -> full build through the build queue;
- either way the new deployment is syntax-checked and its instance started before it becomes the
  active one. A failure leaves the old deployment active and prints the failing lines.
Changes that arrive during a deployment are kept and coalesced into one follow-up deployment.
"""
from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath

import click
from watchfiles import awatch

from .devclient import execution_lines
from .errors import AppwriteError
from .params import UploadedFile
from .project import FunctionConfig, Project, ProjectError, load_project
from .services import variables as variables_svc
from .services.deployments import delete_deployment, upload_deployment
from .services.executions import runtime_spec
from .services.functions import activate_deployment, create_function, update_function
from .services.hotswap import hotswap_deployment
from .services.state import Settings, State, deployment_key

log = logging.getLogger("emulator.dev")
KEEP_DEPLOYMENTS = 3  # per function, besides the active one; older ones this session made are deleted
CONFIG_POLL_SECONDS = 0.5
MAX_CHECKED_FILES = 200
# Syntax checks run before a deployment goes live: the adapters load user code lazily, so a
# syntax error would otherwise only show up as a 503 on the next execution.
CHECKERS = {".py": "python", ".js": "node", ".mjs": "node", ".cjs": "node", ".php": "php", ".rb": "ruby"}
SKIP_PARTS = {"node_modules", "runtime-env", "vendor", ".venv", "venv", "__pycache__"}
PY_CHECK = ("import sys, traceback\n"
            "bad = 0\n"
            "for f in sys.argv[1:]:\n"
            "    try:\n"
            "        compile(open(f, 'rb').read(), f, 'exec', dont_inherit=True)\n"
            "    except (SyntaxError, ValueError) as e:\n"
            "        bad = 1\n"
            "        sys.stderr.write(''.join(traceback.format_exception_only(type(e), e)))\n"
            "sys.exit(bad)\n")


# -- terminal -----------------------------------------------------------------------------------
class Console:
    """One line per event, prefixed with time and function id; details indented below it."""

    def __init__(self):
        self.width = 0

    def _prefix(self, fid: str) -> str:
        self.width = max(self.width, len(fid))
        return f"[{datetime.now().strftime('%H:%M:%S')}] {fid:<{self.width}}"

    def info(self, text: str, **style) -> None:
        click.secho(text, **style)

    def fn(self, fid: str, text: str, **style) -> None:
        click.echo(click.style(self._prefix(fid), dim=True) + " " + click.style(text, **style))

    def details(self, lines: list[str], **style) -> None:
        for line in lines:
            click.secho("    | " + line, **style)


def failing_lines(text: str, limit: int = 25) -> list[str]:
    """The part of build output worth showing: lines that name an error (with the line before),
    else the tail."""
    lines = [ln for ln in text.rstrip().splitlines() if ln.strip()]
    keys = ("error", "Error", "ERR!", "failed", "Failed", "Traceback", "exception", "Exception", "No matching")
    picked: list[int] = []
    for i, line in enumerate(lines):
        if any(k in line for k in keys):
            for j in (i - 1, i, i + 1):
                if 0 <= j < len(lines) and j not in picked:
                    picked.append(j)
    if not picked:
        return lines[-limit:]
    picked = sorted(picked)[-limit:]
    return [lines[i] for i in picked]


# -- syntax checks ------------------------------------------------------------------------------
async def _run(argv: list[str], cwd: Path) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(*argv, cwd=str(cwd), stdin=asyncio.subprocess.DEVNULL,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await proc.communicate()
    return proc.returncode, out.decode("utf-8", "replace")


def _clean_node(output: str) -> str:
    keep = [ln for ln in output.splitlines()
            if ln.strip() and not ln.startswith("    at ") and not ln.startswith("Node.js v")]
    return "\n".join(keep)


async def check_syntax(code_dir: Path, files: list[str]) -> str:
    """'' when every file parses, else the errors (paths relative to the function folder)."""
    code_dir = Path(os.path.abspath(code_dir))
    by_tool: dict[str, list[str]] = {}
    for rel in files:
        parts = PurePosixPath(rel).parts
        tool = CHECKERS.get(PurePosixPath(rel).suffix)
        if tool and not SKIP_PARTS.intersection(parts) and (code_dir / rel).is_file():
            by_tool.setdefault(tool, []).append(rel)
    tools, jobs = [], []
    if "python" in by_tool:
        venv_python = code_dir / "runtime-env" / "bin" / "python"
        python = str(venv_python) if venv_python.exists() else shutil.which("python3")
        if python:
            tools.append("python")
            jobs.append(_run([python, "-c", PY_CHECK, *by_tool["python"]], code_dir))
    for tool, argv in (("node", ["node", "--check"]), ("php", ["php", "-l"]), ("ruby", ["ruby", "-c"])):
        if tool in by_tool and shutil.which(argv[0]):
            tools += [tool] * len(by_tool[tool])
            jobs += [_run([*argv, rel], code_dir) for rel in by_tool[tool]]
    errors = []
    for tool, (code, output) in zip(tools, await asyncio.gather(*jobs)):
        if code != 0:
            errors.append(_clean_node(output) if tool == "node" else output.strip())
    return "\n".join(e for e in errors if e)


# -- the loop -----------------------------------------------------------------------------------
@dataclass
class Watched:
    fn: FunctionConfig
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    snapshot: dict | None = None  # files of the active deployment this session made
    deployment_id: str = ""
    force_full: str = "first deployment"  # why the next deployment must be a full build ("" = no need)
    rules: object = None  # cached ignore rules; None = re-read
    created: list[str] = field(default_factory=list)
    task: asyncio.Task | None = None
    attempted: asyncio.Event = field(default_factory=asyncio.Event)  # the first deployment was tried


class DevLoop:
    def __init__(self, project: Project, state: State, debounce_ms: int = 100, console: Console | None = None):
        self.project = project
        self.state = state
        self.pid = project.project_id
        self.debounce_ms = debounce_ms
        self.out = console or Console()
        self.watched: dict[str, Watched] = {}
        self._builds: dict[str, asyncio.Future] = {}
        self._restart_watch = asyncio.Event()
        self._config_stat = self._stat_config()
        self._background: set[asyncio.Task] = set()
        state.builds.listeners.append(self._on_build)
        state.runner.listeners.append(self._on_execution)

    # -- start, stop ------------------------------------------------------------------------------
    async def start(self) -> None:
        for note in self.project.notes:
            self.out.info(note, fg="yellow")
        for fn in self.project.functions:
            self._add(fn)

    async def initial_deploys(self) -> None:
        await asyncio.gather(*[w.attempted.wait() for w in self.watched.values()])

    async def watch_forever(self) -> None:
        tasks = [asyncio.ensure_future(self._watch()), asyncio.ensure_future(self._poll_config())]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()

    async def stop(self) -> None:
        for w in self.watched.values():
            if w.task:
                w.task.cancel()
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*[w.task for w in self.watched.values() if w.task], *self._background,
                             return_exceptions=True)
        if self._on_build in self.state.builds.listeners:
            self.state.builds.listeners.remove(self._on_build)
        if self._on_execution in self.state.runner.listeners:
            self.state.runner.listeners.remove(self._on_execution)

    def _add(self, fn: FunctionConfig) -> None:
        self._exclude_data_dir(fn)
        try:
            self._sync_function(fn)
        except AppwriteError as exc:
            self.out.fn(fn.id, f"cannot create the function: {exc.message}", fg="red")
            return
        w = Watched(fn=fn)
        self.watched[fn.id] = w
        w.task = asyncio.ensure_future(self._worker(w))
        w.wake.set()

    def _exclude_data_dir(self, fn: FunctionConfig) -> None:
        data_dir = Path(os.path.abspath(self.state.settings.data_dir))
        if data_dir == fn.path or fn.path in data_dir.parents:
            fn.extra_excludes = (data_dir,)

    # -- functions in the emulator --------------------------------------------------------------
    def _sync_function(self, fn: FunctionConfig) -> None:
        existing = self.state.store.get("functions", self.pid, "", fn.id)
        if existing is None:
            create_function(self.state, self.pid, fn.function_params())
        else:
            update_function(self.state, self.pid, fn.id, fn.function_params())
        wanted = fn.environment()
        current = {v["key"]: v for v in self.state.store.select("variables", self.pid, fn.id)}
        for key, value in wanted.items():
            if key not in current:
                variables_svc.create_variable(self.state, self.pid, fn.id, {"key": key, "value": value, "secret": False})
            elif str(current[key].get("value")) != value:
                variables_svc.update_variable(self.state, self.pid, fn.id, current[key]["$id"], {"value": value})
        for key, doc in current.items():
            if key not in wanted:
                variables_svc.delete_variable(self.state, self.pid, fn.id, doc["$id"])

    # -- deployments ----------------------------------------------------------------------------
    async def _worker(self, w: Watched) -> None:
        while True:
            await w.wake.wait()
            w.wake.clear()
            try:
                await self._deploy(w)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # keep watching whatever one deployment does
                log.exception("deployment of %s failed", w.fn.id)
                self.out.fn(w.fn.id, f"failed: {type(exc).__name__}: {exc}", fg="red")
            w.attempted.set()

    def _on_build(self, project: str, function_id: str, doc: dict | None) -> None:
        if doc is not None:
            future = self._builds.pop(doc["$id"], None)
            if future is not None and not future.done():
                future.set_result(doc)

    async def _deploy(self, w: Watched) -> None:
        fn, language = w.fn, w.fn.language
        started = time.monotonic()
        files = await asyncio.to_thread(fn.files)
        previous = w.snapshot or {}
        changed = sorted({p for p in files if previous.get(p) != files[p]} | (set(previous) - set(files)))
        if w.snapshot is not None and not changed and not w.force_full:
            return  # e.g. an editor touched a file without changing it
        deps = [p for p in changed if PurePosixPath(p).name in language.dependency_files]
        reason = (w.force_full or ("compiled runtime" if language.compiled else "")
                  or (f"{', '.join(deps)} changed" if deps else ""))
        what = _summary(changed) if w.snapshot is not None else f"{len(files)} files"
        source = await asyncio.to_thread(fn.pack, files)
        if reason:
            self.out.fn(fn.id, f"building ({reason}): {what} ...", fg="cyan")
            doc = await upload_deployment(
                self.state, self.pid, fn.id, {"activate": False, "entrypoint": fn.entrypoint, "commands": fn.commands},
                UploadedFile("code.tar.gz", source), None, None, "cli")
            future = asyncio.get_running_loop().create_future()
            self._builds[doc["$id"]] = future
            doc = await future
            kind = "full build"
        else:
            doc = await hotswap_deployment(self.state, self.pid, fn.id, w.deployment_id, source)
            kind = "hot swap"
        w.created.append(doc["$id"])
        keeping = f"still serving {w.deployment_id}" if w.deployment_id else "nothing deployed yet"
        if doc.get("status") != "ready":
            self.out.fn(fn.id, f"failed ({kind}: {what}) after {_ms(started)}; {keeping}", fg="red", bold=True)
            self.out.details(failing_lines(doc.get("buildLogs") or "no build output"), fg="red")
            self._prune_later(w)
            return
        dep_dir = self.state.deployment_dir(self.pid, fn.id, doc["$id"])
        code_dir = dep_dir / "build" if (dep_dir / "build").is_dir() else fn.path
        to_check = list(files) if reason else [p for p in changed if p in files]
        errors, warm_error = await asyncio.gather(check_syntax(code_dir, to_check[:MAX_CHECKED_FILES]),
                                                  self._prewarm(fn.id, doc))
        if errors or warm_error:
            self._mark_failed(fn.id, doc, errors or warm_error)
            await self.state.executor_for(self._function(fn.id)).stop_deployment(deployment_key(self.pid, doc["$id"]))
            self.out.fn(fn.id, f"failed ({kind}: {what}): {'syntax error' if errors else 'runtime did not start'}; "
                               f"{keeping}", fg="red", bold=True)
            self.out.details((errors or warm_error).splitlines()[:40], fg="red")
            self._prune_later(w)
            return
        await activate_deployment(self.state, self.pid, fn.id, doc["$id"])
        w.deployment_id, w.snapshot, w.force_full = doc["$id"], files, ""
        self.out.fn(fn.id, f"deployed {doc['$id']} ({kind}: {what}) in {_ms(started)}", fg="green")
        self._prune_later(w)

    def _function(self, function_id: str) -> dict:
        return self.state.store.get("functions", self.pid, "", function_id) or {"runtime": "", "$id": function_id}

    async def _prewarm(self, function_id: str, doc: dict) -> str:
        """Start the new deployment's instance before it takes traffic. Returns an error or ''."""
        function = self._function(function_id)
        executor = self.state.executor_for(function)
        pool = getattr(executor, "pool", None)
        if pool is None:
            return ""
        try:
            inst = await pool.acquire(runtime_spec(self.state, self.pid, function, doc))
            pool.release(inst)
        except Exception as exc:  # noqa: BLE001 - reported as the deployment's failure
            return getattr(exc, "message", None) or str(exc)
        return ""

    def _mark_failed(self, function_id: str, doc: dict, reason: str) -> None:
        current = self.state.store.get("deployments", self.pid, function_id, doc["$id"]) or doc
        current["status"] = "failed"
        current["buildLogs"] = (current.get("buildLogs") or "") + f"\nNot activated: {reason}\n"
        self.state.store.update("deployments", self.pid, function_id, current)

    def _prune_later(self, w: Watched) -> None:
        # Deleting a build tree takes a moment: not on the path of the first requests.
        async def prune():
            await asyncio.sleep(2)
            active = (self._function(w.fn.id) or {}).get("deploymentId")
            old = [d for d in w.created if d not in (active, w.deployment_id)]
            for deployment_id in old[:max(0, len(old) - KEEP_DEPLOYMENTS)]:
                w.created.remove(deployment_id)
                try:
                    await delete_deployment(self.state, self.pid, w.fn.id, deployment_id)
                except AppwriteError:
                    pass
        task = asyncio.ensure_future(prune())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # -- executions -----------------------------------------------------------------------------
    def _on_execution(self, project: str, function: dict, doc: dict) -> None:
        if project != self.pid:
            return
        lines = execution_lines(doc)
        head, style = lines[0]
        self.out.fn(function["$id"], head, fg="green" if style == "ok" else "red")
        for text, style in lines[1:]:
            click.secho("    " + text, **({"fg": "red"} if style == "error" else {"dim": True}))

    # -- watching -------------------------------------------------------------------------------
    def _owners(self, path: str) -> list[Watched]:
        p = Path(path)
        return [w for w in self.watched.values() if p == w.fn.path or w.fn.path in p.parents]

    def _relevant(self, change, path: str) -> bool:
        hit = False
        for w in self._owners(path):
            if os.path.basename(path) == ".gitignore":
                w.rules = None
            if w.rules is None:
                w.rules = w.fn.ignore_rules()
            if not w.fn.is_ignored(Path(path), w.rules):
                hit = True
        return hit

    async def _watch(self) -> None:
        while True:
            self._restart_watch.clear()
            paths = sorted({str(w.fn.path) for w in self.watched.values()})
            if not paths:
                await self._restart_watch.wait()
                continue
            async for changes in awatch(*paths, watch_filter=self._relevant, step=self.debounce_ms,
                                        debounce=max(1600, self.debounce_ms * 4), stop_event=self._restart_watch,
                                        ignore_permission_denied=True):
                for _, path in changes:
                    for w in self._owners(path):
                        w.wake.set()

    def _stat_config(self):
        config = self.project.config_file
        try:
            st = config.stat() if config else None
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size) if st else None

    async def _poll_config(self) -> None:
        # Polled, not watched: editors replace the file, and the project root may hold big trees.
        if self.project.config_file is None:
            return
        while True:
            await asyncio.sleep(CONFIG_POLL_SECONDS)
            stat = self._stat_config()
            if stat is None or stat == self._config_stat:
                continue
            self._config_stat = stat
            try:
                project = load_project(self.project.config_file, self.pid)
            except ProjectError as exc:
                self.out.info(f"{self.project.config_file.name}: {exc} (keeping the previous settings)", fg="red")
                continue
            self._apply(project)

    def _apply(self, project: Project) -> None:
        paths_changed = False
        for fn in project.functions:
            w = self.watched.get(fn.id)
            if w is None:
                self.out.fn(fn.id, "new in the config", fg="cyan")
                self._add(fn)
                paths_changed = True
                continue
            self._exclude_data_dir(fn)
            try:
                self._sync_function(fn)
            except AppwriteError as exc:
                self.out.fn(fn.id, f"settings not applied: {exc.message}", fg="red")
                continue
            if fn.build_key() != w.fn.build_key():
                w.force_full = "build settings changed"
                w.wake.set()
            else:
                self.out.fn(fn.id, "settings updated", fg="cyan")
            paths_changed |= fn.path != w.fn.path
            w.fn, w.rules = fn, None
        for fid in set(self.watched) - {fn.id for fn in project.functions}:
            w = self.watched.pop(fid)
            if w.task:
                w.task.cancel()
            self.out.fn(fid, "removed from the config: no longer watched (left in the emulator)", fg="yellow")
            paths_changed = True
        self.project.functions = project.functions
        if paths_changed:
            self._restart_watch.set()


def _ms(started: float) -> str:
    elapsed = time.monotonic() - started
    return f"{elapsed * 1000:.0f} ms" if elapsed < 10 else f"{elapsed:.1f} s"


def _summary(changed: list[str]) -> str:
    if not changed:
        return "no file changes"
    shown = ", ".join(changed[:3])
    return shown + (f" and {len(changed) - 3} more" if len(changed) > 3 else "")


async def run_dev(project: Project, settings: Settings, host: str, port: int, debounce_ms: int = 100,
                  ready: asyncio.Event | None = None) -> None:
    from .api.common import STATE_KEY
    from .cli import start_server

    # SIGTERM ends the session like Ctrl+C, so the function processes it started are stopped too.
    main_task = asyncio.current_task()
    try:
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)
    except (NotImplementedError, RuntimeError):
        pass
    runner = await start_server(settings, host, port)
    loop = None
    try:
        state = runner.app[STATE_KEY]
        loop = DevLoop(project, state, debounce_ms)
        where = project.config_file or project.root
        click.secho(f"Appwrite emulator listening on {settings.endpoint}", bold=True)
        click.echo(f"Project '{project.project_id}' from {where}: {len(project.functions)} function(s). "
                   f"Data in {settings.data_dir}.")
        for fn in project.functions:
            click.echo(f"  {fn.id:<20} {fn.runtime:<14} {fn.entrypoint:<24} {fn.path}")
        await loop.start()
        await loop.initial_deploys()
        ids = next(iter(loop.watched), "FUNCTION_ID")
        click.secho(f"Watching for changes (Ctrl+C to stop). Try: python -m emulator exec {ids} "
                    f"--endpoint {settings.endpoint} --project {project.project_id}", bold=True)
        if ready is not None:
            ready.set()
        await loop.watch_forever()
    finally:
        if loop is not None:
            await loop.stop()
        await runner.cleanup()
