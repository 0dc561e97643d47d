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
Changes are debounced (a quiet window, 100 ms by default). A hot swap is prepared while the window
runs and goes live when it ends quietly, so the window costs no extra time; a change inside it
throws that work away. Changes that arrive during a deployment are kept and coalesced into one
follow-up deployment.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import signal
import sys
import time
import traceback
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
from .services.hotswap import discard_hotswap, hotswap_deployment, prepare_hotswap
from .services.state import Settings, State, deployment_key

log = logging.getLogger("emulator.dev")
KEEP_DEPLOYMENTS = 3  # per function, besides the active one; older ones this session made are deleted
CONFIG_POLL_SECONDS = 0.5
WATCH_STEP_MS = 10
MAX_CHECKED_FILES = 200
# Syntax checks run before a deployment goes live: an adapter reports a function that does not
# load only in the response to the next execution (a 503), too late to keep the old one serving.
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


# A resident node process that only parses files (vm.compileFunction as CommonJS, as an ES module
# when the code needs it): a `node --check` process per file costs 50-150 ms on a busy machine,
# which would dominate a hot swap. `node --check` still runs when a file fails, for its message.
NODE_PARSER = r"""
const vm = require('vm'), fs = require('fs'), readline = require('readline');
const ESM_ONLY = /Cannot use import statement|Unexpected token 'export'|import\.meta|await is only valid/;
function parses(file) {
  let src = fs.readFileSync(file, 'utf8');
  if (src.startsWith('#!')) src = '//' + src.slice(2);
  const asModule = () => new vm.SourceTextModule(src, { identifier: file });
  if (file.endsWith('.mjs')) return asModule();
  try {
    vm.compileFunction(src, ['exports', 'require', 'module', '__filename', '__dirname'], { filename: file });
  } catch (e) {
    if (file.endsWith('.cjs') || !(e instanceof SyntaxError) || !ESM_ONLY.test(e.message)) throw e;
    asModule();
  }
}
readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const { id, file } = JSON.parse(line);
  let error = '';
  try { parses(file); } catch (e) { error = String((e && e.stack) || e).split('\n    at ')[0] || 'SyntaxError'; }
  process.stdout.write(JSON.stringify({ id, error }) + '\n');
});
"""


class NodeParser:
    def __init__(self):
        self.proc: asyncio.subprocess.Process | None = None
        self.pending: dict[int, asyncio.Future] = {}
        self.next_id = 0
        self.reader: asyncio.Task | None = None

    async def error(self, path: Path) -> str:
        """'' when the file parses, else the parser's message."""
        if self.proc is None or self.proc.returncode is not None:
            self.proc = await asyncio.create_subprocess_exec(
                "node", "--experimental-vm-modules", "--no-warnings", "-e", NODE_PARSER,
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
            self.reader = asyncio.ensure_future(self._read(self.proc))
        self.next_id += 1
        future = asyncio.get_running_loop().create_future()
        self.pending[self.next_id] = future
        self.proc.stdin.write(json.dumps({"id": self.next_id, "file": str(path)}).encode() + b"\n")
        await self.proc.stdin.drain()
        return await asyncio.wait_for(future, 10)

    async def _read(self, proc) -> None:
        async for line in proc.stdout:
            msg = json.loads(line)
            future = self.pending.pop(msg["id"], None)
            if future is not None and not future.done():
                future.set_result(msg["error"])
        for future in self.pending.values():
            if not future.done():
                future.set_exception(ConnectionError("node parser exited"))
        self.pending.clear()

    async def close(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
        if self.reader is not None:
            self.reader.cancel()


_node_parser = NodeParser()


async def _check_node(code_dir: Path, rel: str) -> tuple[int, str]:
    try:
        error = await _node_parser.error(code_dir / rel)
    except (OSError, ConnectionError, asyncio.TimeoutError, ValueError):
        return await _run(["node", "--check", rel], code_dir)
    if not error:
        return 0, ""
    code, output = await _run(["node", "--check", rel], code_dir)
    # `node --check` names the line; it misses some ES module errors, which the parser reports.
    return 1, output.replace(f"{code_dir}/", "") if code else f"{rel}: {error}"


def _clean_node(output: str) -> str:
    keep = [ln for ln in output.splitlines()
            if ln.strip() and not ln.startswith("    at ") and not ln.startswith("Node.js v")]
    return "\n".join(keep)


def _same_python(code_dir: Path) -> bool:
    """Whether the function's venv runs this interpreter's Python version (then it parses the same)."""
    try:
        text = (code_dir / "runtime-env" / "pyvenv.cfg").read_text()
    except OSError:
        return False
    for line in text.splitlines():
        key, _, value = line.partition("=")
        if key.strip() in ("version", "version_info"):
            return value.strip().split(".")[:2] == [str(sys.version_info[0]), str(sys.version_info[1])]
    return False


def _compile_here(code_dir: Path, files: list[str]) -> tuple[int, str]:
    # In this process: spawning an interpreter would compete with the new instance for the CPU.
    errors = []
    for rel in files:
        try:
            compile((code_dir / rel).read_bytes(), rel, "exec", dont_inherit=True)
        except (SyntaxError, ValueError) as exc:
            errors.append("".join(traceback.format_exception_only(type(exc), exc)))
        except OSError:
            pass  # removed meanwhile: the next change deploys again
    return (1 if errors else 0), "".join(errors)


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
        if _same_python(code_dir):
            tools.append("python")
            jobs.append(asyncio.to_thread(_compile_here, code_dir, by_tool["python"]))
        elif python:
            tools.append("python")
            jobs.append(_run([python, "-c", PY_CHECK, *by_tool["python"]], code_dir))
    if "node" in by_tool and shutil.which("node"):
        tools += ["node"] * len(by_tool["node"])
        jobs += [_check_node(code_dir, rel) for rel in by_tool["node"]]
    for tool, argv in (("php", ["php", "-l"]), ("ruby", ["ruby", "-c"])):
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
        self._tasks: list[asyncio.Task] = []
        state.builds.listeners.append(self._on_build)
        state.runner.listeners.append(self._on_execution)

    # -- start, stop ------------------------------------------------------------------------------
    async def start(self) -> None:
        """Create the functions, start watching, and start their first deployments."""
        for note in self.project.notes:
            self.out.info(note, fg="yellow")
        for fn in self.project.functions:
            self._add(fn)
        self._tasks = [asyncio.ensure_future(self._watch()), asyncio.ensure_future(self._poll_config())]

    async def initial_deploys(self) -> None:
        await asyncio.gather(*[w.attempted.wait() for w in self.watched.values()])

    async def watch_forever(self) -> None:
        await asyncio.gather(*self._tasks)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for w in self.watched.values():
            if w.task:
                w.task.cancel()
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*[w.task for w in self.watched.values() if w.task], *self._background, *self._tasks,
                             return_exceptions=True)
        for w in self.watched.values():
            await discard_hotswap(self.state, self.pid, w.fn.id)
        await _node_parser.close()
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
            used = None
            try:
                if w.attempted.is_set():
                    used = await self._after_change(w)
                else:
                    used = await self._deploy(w)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # keep watching whatever one deployment does
                log.exception("deployment of %s failed", w.fn.id)
                self.out.fn(w.fn.id, f"failed: {type(exc).__name__}: {exc}", fg="red")
            w.attempted.set()
            # Changes made before the watcher ran, or events it lost, still get deployed.
            if used is not None and not w.wake.is_set() and await asyncio.to_thread(w.fn.files) != used:
                w.wake.set()

    async def _quiet(self, w: Watched) -> bool:
        """Wait one debounce window; False (and the flag cleared) when another change came in it."""
        try:
            await asyncio.wait_for(w.wake.wait(), self.debounce_ms / 1000)
        except asyncio.TimeoutError:
            return True
        w.wake.clear()
        return False

    async def _after_change(self, w: Watched) -> dict | None:
        """Debounce, then deploy. A hot swap is prepared during the debounce window (speculatively)
        and goes live only if the window stays quiet and the files are still the ones it packed;
        otherwise it is thrown away and the change is handled after the files settle."""
        speculation = asyncio.ensure_future(self._prepare(w, allow_full=False))
        quiet = await self._quiet(w)
        candidate = await speculation
        if quiet and candidate is not None and not candidate.needs_full:
            if await asyncio.to_thread(w.fn.files) == candidate.files:
                return await self._commit(w, candidate)
        if candidate is not None and candidate.doc is not None:
            await self._drop(w, candidate)
        while not quiet:  # editors write in bursts: wait for the end of this one
            quiet = await self._quiet(w)
        return await self._deploy(w)

    async def _deploy(self, w: Watched) -> dict | None:
        """Deploy the folder as it is now. Returns the files it deployed (None: nothing to do)."""
        candidate = await self._prepare(w, allow_full=True)
        return None if candidate is None else await self._commit(w, candidate)

    def _on_build(self, project: str, function_id: str, doc: dict | None) -> None:
        if doc is not None:
            future = self._builds.pop(doc["$id"], None)
            if future is not None and not future.done():
                future.set_result(doc)

    async def _prepare(self, w: Watched, allow_full: bool) -> Candidate | None:
        """Build (or hot-swap), syntax-check and start a new deployment of the folder as it is now,
        without activating it. None when nothing changed."""
        fn, language = w.fn, w.fn.language
        started = time.monotonic()
        files = await asyncio.to_thread(fn.files)
        previous = w.snapshot or {}
        changed = sorted({p for p in files if previous.get(p) != files[p]} | (set(previous) - set(files)))
        if w.snapshot is not None and not changed and not w.force_full:
            return None  # e.g. an editor touched a file without changing it
        deps = [p for p in changed if PurePosixPath(p).name in language.dependency_files]
        reason = (w.force_full or ("compiled runtime" if language.compiled else "")
                  or (f"{', '.join(deps)} changed" if deps else ""))
        c = Candidate(files=files, started=started, what=_summary(changed) if w.snapshot is not None else f"{len(files)} files",
                      kind="full build" if reason else "hot swap")
        if reason and not allow_full:
            c.needs_full = True
            return c
        source = await asyncio.to_thread(fn.pack, files)
        c.phases["pack"] = time.monotonic()
        if reason:
            self.out.fn(fn.id, f"building ({reason}): {c.what} ...", fg="cyan")
            await self._discard_staged(w)
            doc = await upload_deployment(
                self.state, self.pid, fn.id, {"activate": False, "entrypoint": fn.entrypoint, "commands": fn.commands},
                UploadedFile("code.tar.gz", source), None, None, "cli")
            future = asyncio.get_running_loop().create_future()
            self._builds[doc["$id"]] = future
            c.doc = await future
        else:
            c.doc = await hotswap_deployment(self.state, self.pid, fn.id, w.deployment_id, source)
        c.phases["build" if reason else "swap"] = time.monotonic()
        w.created.append(c.doc["$id"])
        dep_dir = self.state.deployment_dir(self.pid, fn.id, c.doc["$id"])
        if c.doc.get("status") != "ready":
            c.failure = "build error"
            logs = (c.doc.get("buildLogs") or "no build output").replace(f"{os.path.abspath(dep_dir / 'build')}/", "")
            c.details = failing_lines(logs)
            return c
        # The docker executor keeps only output.tar.gz: check the folder the source was packed from.
        in_build = (dep_dir / "build").is_dir() and self.state.executor_for(self._function(fn.id)).name != "docker"
        code_dir = dep_dir / "build" if in_build else fn.path
        to_check = list(files) if reason else [p for p in changed if p in files]
        # The instance first: its process start is the longer of the two.
        warm_error, errors = await asyncio.gather(self._prewarm(fn.id, c.doc),
                                                  check_syntax(code_dir, to_check[:MAX_CHECKED_FILES]))
        c.phases["check+start"] = time.monotonic()
        if errors or warm_error:
            c.failure = "syntax error" if errors else "runtime did not start"
            c.details = (errors or warm_error).splitlines()[:40]
            self._mark_failed(fn.id, c.doc, errors or warm_error)
            await self._stop_instances(fn.id, c.doc["$id"])
        return c

    async def _commit(self, w: Watched, c: Candidate) -> dict:
        """Make a prepared deployment live, or report why it cannot be. Returns the files it holds."""
        fn = w.fn
        keeping = f"still serving {w.deployment_id}" if w.deployment_id else "nothing deployed yet"
        if c.failure:
            self.out.fn(fn.id, f"failed ({c.kind}: {c.what}) after {_ms(c.started)}: {c.failure}; {keeping}",
                        fg="red", bold=True)
            self.out.details(c.details, fg="red")
        else:
            await activate_deployment(self.state, self.pid, fn.id, c.doc["$id"])
            c.phases["switch"] = time.monotonic()
            w.deployment_id, w.snapshot, w.force_full = c.doc["$id"], c.files, ""
            self.out.fn(fn.id, f"deployed {c.doc['$id']} ({c.kind}: {c.what}) in {_ms(c.started)} "
                               f"[{_phases(c.started, c.phases)}]", fg="green")
        self._after_deploy(w)
        return c.files

    async def _drop(self, w: Watched, c: Candidate) -> None:
        """A speculative deployment the files moved on from: never activated, pruned later."""
        await self._stop_instances(w.fn.id, c.doc["$id"])
        if c.doc.get("status") == "ready":
            self._mark_failed(w.fn.id, c.doc, "superseded by a newer change before it went live")

    async def _stop_instances(self, function_id: str, deployment_id: str) -> None:
        await self.state.executor_for(self._function(function_id)).stop_deployment(deployment_key(self.pid, deployment_id))

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

    async def _discard_staged(self, w: Watched) -> None:
        await discard_hotswap(self.state, self.pid, w.fn.id)

    def _after_deploy(self, w: Watched) -> None:
        """In the background, once the new deployment serves: stage the next hot swap (so a source
        edit only has to overlay files), then delete old deployments."""
        # No instance of the staged deployment is started early: adapters may load the function's
        # code as soon as they start (the Python one preloads it), before the overlay.
        async def prune():
            await asyncio.sleep(0.2)  # after the first requests to the new deployment
            if w.deployment_id and not w.fn.language.compiled:
                await prepare_hotswap(self.state, self.pid, w.fn.id, w.deployment_id)
            await asyncio.sleep(1.5)
            active = (self._function(w.fn.id) or {}).get("deploymentId")
            old = [d for d in w.created if d not in (active, w.deployment_id)]
            for deployment_id in old[:max(0, len(old) - KEEP_DEPLOYMENTS)]:
                w.created.remove(deployment_id)
                # The big part (a venv, node_modules) goes in a thread, not on the server's loop.
                build = self.state.deployment_dir(self.pid, w.fn.id, deployment_id) / "build"
                await asyncio.to_thread(shutil.rmtree, build, True)
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
            # A short step hands events over quickly; the debounce window is the worker's.
            async for changes in awatch(*paths, watch_filter=self._relevant, step=WATCH_STEP_MS,
                                        debounce=1600, stop_event=self._restart_watch,
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
            if (fn.function_params(), fn.environment()) == (w.fn.function_params(), w.fn.environment()) \
                    and fn.build_key() == w.fn.build_key():
                w.fn = fn
                continue
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


def _phases(started: float, marks: dict[str, float]) -> str:
    out, last = [], started
    for name, at in marks.items():
        out.append(f"{name} {(at - last) * 1000:.0f}")
        last = at
    return ", ".join(out)


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
