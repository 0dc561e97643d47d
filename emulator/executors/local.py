"""LocalExecutor: builds on the host and runs each deployment's adapter as a host process.

No Docker needed. Each warm instance is our own adapter for the language (runtimes/<lang>/),
listening on a free 127.0.0.1 port, with its own logs directory.

Instances and builds are units of a `ProcessOwner` (emulator/processes.py): stopping an instance,
deleting its function, stopping the server or starting again after a crash ends the instance's
process and everything it started, `setsid` children included; the same for a build's steps.
"""
from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import os
import secrets
import signal
import time
from pathlib import Path

from ..archives import extract_archive
from ..hostbuild import build_on_host
from ..languages import language_for_runtime
from ..languages.base import BuildError
from ..adopted_process import AdoptedProcess
from ..processes import ProcessOwner, become_subreaper, build_scope
from ..runtime_env import free_port, host_env, server_env
from .base import BuildJob, ExecutorError, Instance, RuntimeSpec
from .early import EarlyProcess, own_early_dir
from .pool import InstancePool, PooledExecutor
from .logs_dirs import make_logs_dir, remove_instance_dir
from .runtime_client import RuntimeClient

OUTPUT_TAIL_BYTES = 16 * 1024
# Instances started ahead of need kept at once (`dev` starts one for the function last deployed).
MAX_AHEAD = 1


class _Process:
    """A running adapter process and the tail of what it printed (for crash reports)."""

    def __init__(self, proc: asyncio.subprocess.Process, unit: str):
        self.proc = proc
        self.unit = unit  # its ProcessOwner unit
        self.tail: collections.deque[bytes] = collections.deque()
        self.tail_size = 0
        # Set on output: adapters print a line once they listen, so start-up is checked right then.
        self.printed = asyncio.Event()
        self.reader = asyncio.ensure_future(self._drain())

    async def _drain(self) -> None:
        # Always drain: a function that floods stdout must never block on a full pipe.
        while True:
            chunk = await self.proc.stdout.read(65536)
            self.printed.set()
            if not chunk:
                return
            self.tail.append(chunk)
            self.tail_size += len(chunk)
            while self.tail_size > OUTPUT_TAIL_BYTES and len(self.tail) > 1:
                self.tail_size -= len(self.tail.popleft())

    def output(self) -> str:
        return b"".join(self.tail)[-OUTPUT_TAIL_BYTES:].decode("utf-8", "replace")


class LocalExecutor(PooledExecutor):
    name = "local"

    def __init__(self, run_dir: Path, pool_size: int = 1, startup_timeout: float = 30.0,
                 client: RuntimeClient | None = None, idle_timeout: float = 0,
                 toolchains: dict[str, str] | None = None):
        self.run_dir = Path(run_dir)
        self.toolchains = dict(toolchains or {})  # runtime id -> the binary the user mapped it to
        self.startup_timeout = startup_timeout
        self.client = client or RuntimeClient()
        self.pool = InstancePool(self._start, self._stop, self._alive, size=pool_size, idle_timeout=idle_timeout)
        self._ahead: dict[tuple, Instance] = {}  # spec fingerprint -> instance started ahead (start_ahead)
        self._early: list[tuple[EarlyProcess, _Process]] = []  # adopted early spares (adopt_early)
        # The data dir (run_dir's parent) names the processes; the server adopts their orphans.
        self.owner = ProcessOwner(self.run_dir.parent)
        become_subreaper()

    async def prepare(self) -> None:
        """Stop runtimes a previous emulator on this data dir left running (it was killed) that carry
        no owner marker (started by an older version); marked leftovers, runtimes and builds alike,
        are ended once at start-up by BuildQueue.recover."""
        await asyncio.to_thread(self._kill_stale)

    def _kill_stale(self) -> None:
        if not self.run_dir.is_dir():
            return
        marker = f"OPEN_RUNTIMES_LOGS_DIR={self.run_dir}".encode()
        for inst_dir in self.run_dir.iterdir():
            if own_early_dir(inst_dir.name):
                continue  # started by this process before the executor existed (adopt_early)
            try:
                pid = int((inst_dir / "pid").read_text())
                # Only a process whose environment names our run dir is ours to kill.
                if marker in Path(f"/proc/{pid}/environ").read_bytes():
                    os.killpg(pid, signal.SIGKILL)
            except (OSError, ValueError):
                pass
            remove_instance_dir(inst_dir)

    # -- builds ---------------------------------------------------------------------------------
    async def build(self, job: BuildJob, log) -> None:
        language = language_for_runtime(job.runtime, self.toolchains)
        if language is None:
            raise BuildError(f'Runtime "{job.runtime}" is not supported by the local executor.')
        await asyncio.to_thread(extract_archive, job.source_archive, job.build_dir)
        unit = _build_unit(job.deployment_key)
        token = build_scope.set((self.owner, unit))  # to_thread carries it into the build's thread
        try:
            await asyncio.to_thread(build_on_host, language, job.build_dir, job.entrypoint, job.commands,
                                    job.env, log, job.timeout)
        finally:
            build_scope.reset(token)
            await asyncio.to_thread(self.owner.end, unit)

    # -- instances ------------------------------------------------------------------------------
    def _language(self, spec: RuntimeSpec):
        language = language_for_runtime(spec.runtime, self.toolchains)
        if language is None:
            raise ExecutorError(f'Runtime "{spec.runtime}" is not supported by the local executor.', 404)
        toolchain = language.toolchain()
        if not toolchain.available:
            raise ExecutorError(f"The {language.name} toolchain is not installed: {toolchain.hint}", 500)
        return language

    async def _start(self, spec: RuntimeSpec) -> Instance:
        ahead = self._ahead.pop(spec.fingerprint(), None)
        if ahead is not None and await self._release(ahead):
            return ahead
        language = self._language(spec)
        command = language.server(spec.build_dir, spec.entrypoint)
        early = self._take_early(spec, language, command)
        if early is not None:
            inst = await self._release_early(spec, command, *early)
            if inst is not None:
                return inst
        port = free_port()
        inst = await self._spawn(spec, command, language, port, str(port))
        await self._wait_listening(inst)
        return inst

    async def start_ahead(self, spec: RuntimeSpec) -> None:
        """Start an instance of `spec` as far as it goes without the function's code (Language.
        server_ahead); the next `_start` of the same spec releases it. At most MAX_AHEAD are kept,
        oldest stopped first; `stop_deployment` and `close` stop them like any instance."""
        if spec.fingerprint() in self._ahead:
            return
        language = self._language(spec)
        command = language.server_ahead(language.server(spec.build_dir, spec.entrypoint))
        if command is None:
            return
        while len(self._ahead) >= MAX_AHEAD:
            await self._stop(self._ahead.pop(next(iter(self._ahead))))
        inst = await self._spawn(spec, command, language, 0, "ahead-" + secrets.token_hex(4))
        self._ahead[spec.fingerprint()] = inst

    async def adopt_early(self, spares: list[EarlyProcess]) -> None:
        """Take over spares `dev` started before this executor existed (executors/early.py): the
        next `_start` of a spec whose command they fit releases one instead of starting a process."""
        for spare in spares:
            async with self._owner_locked():
                self.owner.add_root(spare.unit, spare.popen.pid)
            handle = _Process(await AdoptedProcess.adopt(spare.popen), spare.unit)
            self._early.append((spare, handle))

    async def discard_early(self) -> None:
        """Stop the adopted spares no deployment took."""
        while self._early:
            spare, handle = self._early.pop()
            await self._stop_process(handle, spare.inst_dir)

    def _take_early(self, spec: RuntimeSpec, language, command) -> tuple[EarlyProcess, _Process] | None:
        for i, (spare, handle) in enumerate(self._early):
            if spare.language.key == language.key and language.early_fits(spare.command, command) \
                    and handle.proc.returncode is None:
                del self._early[i]
                return spare, handle
        return None

    async def _release_early(self, spec: RuntimeSpec, command, spare: EarlyProcess, handle: _Process) -> Instance | None:
        """Release an early spare as an instance of `spec`: the environment, folder and port `_spawn`
        would have given it. None when it cannot serve (it is stopped; the caller starts one)."""
        secret = secrets.token_hex(16)
        port = free_port()
        env = self._instance_env(spec, command, secret, port, spare.logs_dir, spare.unit)
        # Variables read while the interpreter starts were fixed when the spare started.
        prefixes = spare.language.startup_env_prefixes
        startup = {k for k in (*env, *spare.env) if k.startswith(prefixes)}
        if any(env.get(k) != spare.env.get(k) for k in startup):
            await self._stop_process(handle, spare.inst_dir)
            return None
        inst = Instance(spec=spec, port=port, secret=secret, logs_dir=spare.logs_dir, handle=handle)
        start = json.dumps({"env": env, "cwd": command.cwd or str(spec.build_dir), "executable": command.argv[0]})
        return inst if await self._let_go(inst, f"go {port} {start}\n") else None

    async def _release(self, inst: Instance) -> bool:
        """Let an instance started ahead load the function and listen, on a port picked now.
        False when it cannot (it is stopped; the caller starts one the usual way)."""
        inst.port = free_port()
        if not await self._let_go(inst, f"go {inst.port}\n"):
            return False
        inst.started_at = inst.last_used = time.monotonic()
        return True

    async def _let_go(self, inst: Instance, line: str) -> bool:
        """Write a spare's release line (the launchers in emulator/dev/ read it) and wait until it
        listens; False, and the spare stopped, when it does not."""
        handle: _Process = inst.handle
        try:
            if handle.proc.returncode is not None or handle.proc.stdin is None:
                raise ConnectionResetError("exited while waiting")
            handle.proc.stdin.write(line.encode())
            await handle.proc.stdin.drain()
            handle.proc.stdin.close()
        except OSError:
            await self._stop(inst)
            return False
        try:
            await self._wait_listening(inst)  # stops it when it fails
        except ExecutorError:
            return False
        return True

    async def _spawn(self, spec: RuntimeSpec, command, language, port: int, name: str) -> Instance:
        """Start `command` as an instance of `spec`, registered with the process owner; port 0:
        started ahead, its stdin a pipe that releases it (`_release`)."""
        secret = secrets.token_hex(16)
        inst_dir = self.run_dir / f"{spec.deployment_key}-{name}"
        logs_dir = make_logs_dir(inst_dir, language.logs_on_tmpfs)  # tmpfs: logs_dirs.py says why
        unit = f"instance:{inst_dir.name}"
        env = self._instance_env(spec, command, secret, port, logs_dir, unit)
        async with self._owner_locked():  # started and registered as one step
            try:
                proc = await asyncio.create_subprocess_exec(
                    *command.argv, cwd=command.cwd or str(spec.build_dir), env=env,
                    stdin=asyncio.subprocess.PIPE if port == 0 else asyncio.subprocess.DEVNULL,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.STDOUT, start_new_session=True)
                self.owner.add_root(unit, proc.pid)
            except OSError as exc:
                raise ExecutorError(f"Runtime could not start: {exc}", 500)
        (inst_dir / "pid").write_text(str(proc.pid))
        return Instance(spec=spec, port=port, secret=secret, logs_dir=logs_dir, handle=_Process(proc, unit))

    @contextlib.asynccontextmanager
    async def _owner_locked(self):
        """The process owner's lock, for registering a process: a thread lock that a /proc rescan may
        hold for long, so it is polled, never waited on, from the loop."""
        while not self.owner.lock.acquire(blocking=False):
            await asyncio.sleep(0.005)
        try:
            yield
        finally:
            self.owner.lock.release()

    def _instance_env(self, spec: RuntimeSpec, command, secret: str, port: int, logs_dir: Path, unit: str) -> dict:
        env = server_env({**host_env(), **spec.env, **command.env}, version=spec.version, entrypoint=spec.entrypoint,
                         secret=secret, cpus=spec.cpus, memory=spec.memory, host="127.0.0.1", port=port,
                         code_dir=spec.build_dir, logs_dir=logs_dir)
        env.update(self.owner.env(unit))
        return env

    async def _wait_listening(self, inst: Instance) -> None:
        handle: _Process = inst.handle
        deadline = time.monotonic() + self.startup_timeout
        delay = 0.01
        while time.monotonic() < deadline:
            if handle.proc.returncode is not None:
                with contextlib.suppress(asyncio.TimeoutError):  # children may still hold the pipe
                    await asyncio.wait_for(asyncio.shield(handle.reader), 2)
                await self._stop(inst)  # whatever it started before exiting goes too
                raise ExecutorError(
                    f"Runtime exited with code {handle.proc.returncode} before it started listening. "
                    f"Output:\n{handle.output()}", 500)
            handle.printed.clear()  # before the attempt: a line printed after it wakes the next one
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", inst.port)
                writer.close()
                return
            except OSError:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(handle.printed.wait(), delay)
                delay = min(delay * 1.5, 0.02)  # a start is usually ~100 ms: poll finely
        await self._stop(inst)
        raise ExecutorError(
            f"Runtime did not start listening on its port within {self.startup_timeout:.0f}s. "
            f"Output:\n{handle.output()}", 500)

    def _alive(self, inst: Instance) -> bool:
        return inst.handle.proc.returncode is None

    async def _stop(self, inst: Instance) -> None:
        self.client.forget(inst)
        await self._stop_process(inst.handle, inst.logs_dir.parent)

    async def _stop_process(self, handle: _Process, inst_dir: Path) -> None:
        # The adapter, whatever it started (setsid or not) and whatever that started.
        await asyncio.to_thread(self.owner.end, handle.unit)
        try:
            await asyncio.wait_for(handle.proc.wait(), 5)
        except asyncio.TimeoutError:
            pass
        # The owner's lock is a thread lock that a /proc rescan may hold for long: never wait on it here.
        await asyncio.to_thread(self.owner.forget_root, handle.unit, handle.proc.pid)
        handle.reader.cancel()
        remove_instance_dir(inst_dir)

    # -- executions (PooledExecutor.execute) ---------------------------------------------------
    async def _instance_died(self, inst: Instance) -> bool:
        try:  # a process that just crashed may not have been reaped yet
            await asyncio.wait_for(asyncio.shield(inst.handle.proc.wait()), 0.5)
        except asyncio.TimeoutError:
            pass
        return not self._alive(inst)

    async def _death_report(self, inst: Instance) -> tuple[int | None, str]:
        await asyncio.sleep(0)  # let the drain task collect the last output
        return inst.handle.proc.returncode, inst.handle.output()

    async def stop_deployment(self, deployment_key: str) -> None:
        """Stop the deployment's instances and its build, if one is running."""
        await self._stop_ahead(deployment_key)
        await self.pool.stop_deployment(deployment_key)
        await asyncio.to_thread(self.owner.end, _build_unit(deployment_key))

    async def retire_deployment(self, deployment_key: str) -> None:
        await self._stop_ahead(deployment_key)  # started ahead, never serving: stopped now
        await self.pool.retire_deployment(deployment_key)

    async def _stop_ahead(self, deployment_key: str) -> None:
        for key, inst in list(self._ahead.items()):
            if inst.spec.deployment_key == deployment_key:
                await self._stop(self._ahead.pop(key))

    async def close(self) -> None:
        await self.discard_early()
        while self._ahead:
            await self._stop(self._ahead.pop(next(iter(self._ahead))))
        await self.pool.close()
        # Builds still running, and anything else started for this data dir by this server.
        await asyncio.to_thread(self.owner.end_all)
        await self.client.close()


def _build_unit(deployment_key: str) -> str:
    return f"build:{deployment_key}"
