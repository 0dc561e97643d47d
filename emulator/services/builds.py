"""Builds run in the background: `waiting -> processing -> building -> ready | failed`.

A bounded set of workers takes deployments from a queue and asks the function's executor to build
them. Build output goes to `build.log` in the deployment's directory as it is printed (`BuildLog`),
never accumulated in memory, and cut to its last MAX_BUILD_LOG_CHARS characters like Appwrite's;
every half second the deployment's `buildLogs` is refreshed from it, so a polling client sees
progress. A ready deployment that was uploaded with `activate=true` becomes the function's active one.

A build runs with the function's build specification (CPUs and memory, at least MIN_BUILD_MEMORY MB,
as Appwrite's builds worker) in the environment both executors start it with (`build_environment`).
A cancel (services/deployments.py) is final: it stops the build's processes, and a build that ends
afterwards only adds Appwrite's "Build has been canceled." line, never its own status.
"""
from __future__ import annotations

import asyncio
import logging
import math
import os
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

from ..executors.base import BuildJob
from ..ids import now_iso
from ..languages.base import BuildError
from ..processes import ProcessOwner
from ..runtime_env import build_env
from .functions import activate_deployment, function_env, refresh_latest_deployment, specification_of
from .state import State, deployment_key

log = logging.getLogger("emulator.builds")
MAX_BUILD_LOG_CHARS = 1_000_000
BUILD_LOG_NAME = "build.log"
# UTF-8 needs at most 4 bytes a character: this many trailing bytes always hold the kept characters.
_TAIL_BYTES = 4 * MAX_BUILD_LOG_CHARS
_COMPACT_AT_BYTES = 4 * _TAIL_BYTES  # the file is cut back to its tail when it grows past this
# Appwrite's builds worker gives a function build at least this much memory, whatever its specification.
MIN_BUILD_MEMORY = 1024
# The deployment fields Appwrite's builds worker hands a build as APPWRITE_VCS_* variables.
VCS_VARIABLES = {
    "APPWRITE_VCS_REPOSITORY_ID": "providerRepositoryId", "APPWRITE_VCS_REPOSITORY_NAME": "providerRepositoryName",
    "APPWRITE_VCS_REPOSITORY_OWNER": "providerRepositoryOwner", "APPWRITE_VCS_REPOSITORY_URL": "providerRepositoryUrl",
    "APPWRITE_VCS_REPOSITORY_BRANCH": "providerBranch", "APPWRITE_VCS_REPOSITORY_BRANCH_URL": "providerBranchUrl",
    "APPWRITE_VCS_COMMIT_HASH": "providerCommitHash", "APPWRITE_VCS_COMMIT_MESSAGE": "providerCommitMessage",
    "APPWRITE_VCS_COMMIT_URL": "providerCommitUrl", "APPWRITE_VCS_COMMIT_AUTHOR_NAME": "providerCommitAuthor",
    "APPWRITE_VCS_COMMIT_AUTHOR_URL": "providerCommitAuthorUrl", "APPWRITE_VCS_ROOT_DIRECTORY": "providerRootDirectory",
}


def canceled_logs(logs: str) -> str:
    """A canceled build's logs: what it printed, then the line Appwrite's builds worker adds."""
    now = datetime.now(timezone.utc).strftime("%H:%M:%S")
    line = f"\033[90m[{now}] \033[90m[\033[0mappwrite\033[90m]\033[33m Build has been canceled. \033[0m\n"
    return (logs + line)[-MAX_BUILD_LOG_CHARS:]


def build_environment(state: State, project: str, function: dict, deployment: dict) -> tuple[dict[str, str], float, int]:
    """(environment, CPUs, memory in MB) of a deployment's build, for either executor: the function's
    variables and Appwrite's, with CPUS/MEMORY of its *build* specification, then the open-runtimes
    block (entrypoint, limits, an empty secret). The docker executor only adds its hostname."""
    cpus, memory = specification_of(function, "build")
    memory = max(memory, MIN_BUILD_MEMORY)
    variables = function_env(state, project, function, deployment["$id"])
    variables.update({name: str(deployment.get(field) or "") for name, field in VCS_VARIABLES.items()})
    variables.update({"APPWRITE_FUNCTION_CPUS": f"{cpus:g}", "APPWRITE_FUNCTION_MEMORY": str(memory),
                      "APPWRITE_DEPLOYMENT_TYPE": deployment.get("type", "")})
    env = build_env(variables, version=function.get("version", "v5"), entrypoint=deployment.get("entrypoint", ""),
                    cpus=cpus, memory=memory)
    return env, cpus, memory


class BuildLog:
    """A build's output on disk, appended as it is printed (from any thread), kept bounded: the
    file is cut back to its last characters whenever it grows past _COMPACT_AT_BYTES."""

    def __init__(self, path: Path, echo=None):
        self.path = path
        self.echo = echo  # also gets every piece of output as it is written (BuildQueue.echo)
        self._lock = threading.Lock()
        self._file = open(path, "wb")
        self._size = 0
        self.writes = 0  # changes when there is something new to show

    def write(self, text: str) -> None:
        if self.echo is not None:
            self.echo(text)
        data = text.encode("utf-8", "replace")
        with self._lock:
            if self._file.closed:
                return
            self._file.write(data)
            self._size += len(data)
            self.writes += 1
            if self._size > _COMPACT_AT_BYTES:
                try:
                    self._compact()
                except OSError:  # the deployment was deleted under the build: stop writing
                    self._file.close()

    def _compact(self) -> None:
        self._file.close()
        self._size = len(self._rewrite_to_tail())
        self._file = open(self.path, "ab")

    def _rewrite_to_tail(self) -> bytes:
        """Replace the (closed) file by its last MAX_BUILD_LOG_CHARS characters; what it now holds."""
        kept = _tail_of_file(self.path).encode("utf-8")
        partial = self.path.with_name(self.path.name + ".partial")
        partial.write_bytes(kept)
        os.replace(partial, self.path)
        return kept

    def tail(self) -> str:
        """The last MAX_BUILD_LOG_CHARS characters written so far."""
        with self._lock:
            if not self._file.closed:
                self._file.flush()
            return _tail_of_file(self.path)

    def close(self) -> None:
        """Flush and leave the file holding exactly what `tail` returns."""
        with self._lock:
            if self._file.closed:
                return
            self._file.close()
            if self._size > _TAIL_BYTES:
                self._rewrite_to_tail()


def _tail_of_file(path: Path) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - _TAIL_BYTES))
            data = fh.read()
    except OSError:
        return ""
    if size > _TAIL_BYTES:
        data = data.lstrip(bytes(range(0x80, 0xC0)))  # start on a character boundary
    return data.decode("utf-8", "replace")[-MAX_BUILD_LOG_CHARS:]


class BuildQueue:
    def __init__(self, state: State, workers: int = 2):
        self.state = state
        self.queue: asyncio.Queue[tuple[str, str, str]] = asyncio.Queue()
        self.workers = [asyncio.ensure_future(self._work()) for _ in range(max(1, workers))]
        self.listeners: list = []  # callables(project, function_id, deployment doc) on completion
        # callables(project, function_id, deployment_id, text): build output as it is printed, from any
        # thread; the first piece comes as the build starts (serve's and dev's console show them).
        self.output_listeners: list = []

    def echo(self, project: str, function_id: str, deployment_id: str):
        """What a build's BuildLog hands its output to: every output listener, or None when there is none."""
        if not self.output_listeners:
            return None

        def echo(text: str) -> None:
            for listener in list(self.output_listeners):
                try:
                    listener(project, function_id, deployment_id, text)
                except Exception:  # an observer must never fail the build
                    log.exception("build output listener failed")
        return echo

    def enqueue(self, project: str, function_id: str, deployment_id: str) -> None:
        self.queue.put_nowait((project, function_id, deployment_id))

    def recover(self) -> None:
        """After a restart: builds that were running are failed, queued ones are queued again.
        A crashed server's build processes (and runtimes) on this data dir are ended first."""
        ProcessOwner(self.state.settings.data_dir).end_leftovers()
        store = self.state.store
        for project, function_id, doc in store.unfinished_deployments():
            if doc.get("chunksUploaded", 1) < doc.get("chunksTotal", 1):
                continue  # an upload still in progress; the client may resume it
            if doc["status"] == "waiting":
                self.enqueue(project, function_id, doc["$id"])
            else:
                doc["status"] = "failed"
                written = self.state.deployment_dir(project, function_id, doc["$id"]) / BUILD_LOG_NAME
                logs = _tail_of_file(written) if written.is_file() else (doc.get("buildLogs") or "")
                note = "\nBuild interrupted: the emulator stopped during the build.\n"
                doc["buildLogs"] = (logs + note)[-MAX_BUILD_LOG_CHARS:]
                store.update("deployments", project, function_id, doc)
                refresh_latest_deployment(self.state, project, function_id)

    async def close(self) -> None:
        for worker in self.workers:
            worker.cancel()
        await asyncio.gather(*self.workers, return_exceptions=True)

    async def _work(self) -> None:
        while True:
            project, function_id, deployment_id = await self.queue.get()
            try:
                await build_deployment(self.state, project, function_id, deployment_id)
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug in one build must not stop the queue
                log.exception("build of %s failed unexpectedly", deployment_id)
            finally:
                self.queue.task_done()
            doc = self.state.store.get("deployments", project, function_id, deployment_id)
            for listener in self.listeners:
                listener(project, function_id, doc)


def _dir_size(path: Path) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


async def build_deployment(state: State, project: str, function_id: str, deployment_id: str) -> None:
    store = state.store
    dep = store.get("deployments", project, function_id, deployment_id)
    function = store.get("functions", project, "", function_id)
    if dep is None or function is None or dep.get("status") not in ("waiting", "processing"):
        return
    dep["status"] = "processing"
    store.update("deployments", project, function_id, dep)
    refresh_latest_deployment(state, project, function_id)

    ddir = state.deployment_dir(project, function_id, deployment_id)
    env, cpus, memory = build_environment(state, project, function, dep)
    job = BuildJob(
        deployment_key=deployment_key(project, deployment_id), runtime=function["runtime"],
        version=function.get("version", "v5"), source_archive=ddir / "source.tar.gz", build_dir=ddir / "build",
        output_archive=ddir / "output.tar.gz", entrypoint=dep.get("entrypoint", ""),
        commands=dep.get("commands", ""), env=env, timeout=state.settings.build_timeout, cpus=cpus, memory=memory)
    ddir.mkdir(parents=True, exist_ok=True)
    output = BuildLog(ddir / BUILD_LOG_NAME, echo=state.builds.echo(project, function_id, deployment_id))
    output.write(f"Building {function['runtime']} deployment {deployment_id} with the {state.executor_for(function).name} executor.\n")

    def running() -> bool:
        current = store.get("deployments", project, function_id, deployment_id)
        return current is not None and current.get("status") != "canceled"

    async def flush_periodically():
        shown = 0
        while True:
            await asyncio.sleep(0.5)
            if not running():
                # Deleted or canceled (which stop the build themselves): also what it started after that.
                await state.executor_for(function).stop_deployment(job.deployment_key)
                return
            if output.writes != shown:
                shown = output.writes
                text = await asyncio.to_thread(output.tail)
                current = store.get("deployments", project, function_id, deployment_id)
                if current is not None and current.get("status") == "building":
                    current["buildLogs"] = text
                    store.update("deployments", project, function_id, current)

    dep["status"] = "building"
    dep["buildStartedAt"] = now_iso()  # not in the model; a cancel counts its buildDuration from it
    store.update("deployments", project, function_id, dep)
    refresh_latest_deployment(state, project, function_id)
    started = time.monotonic()
    flusher = asyncio.ensure_future(flush_periodically())
    try:
        await state.executor_for(function).build(job, output.write)
        ok = True
    except BuildError as exc:
        if running():  # a canceled build's processes were killed: that is no failure of its own
            output.write(f"\nBuild failed: {exc}\n")
        ok = False
    except Exception as exc:  # noqa: BLE001 - any executor failure is a failed build, with its reason
        log.exception("executor build error")
        output.write(f"\nBuild failed: {type(exc).__name__}: {exc}\n")
        ok = False
    except BaseException:  # cancelled (the server stops): the output written so far stays on disk
        output.close()
        raise
    finally:
        flusher.cancel()
    elapsed = time.monotonic() - started
    if running():
        output.write(f"Build {'finished' if ok else 'failed'} in {elapsed:.2f}s.\n")
    await asyncio.to_thread(output.close)
    logs = await asyncio.to_thread(output.tail)
    build_size = 0
    if ok:
        artifact = job.output_archive if job.output_archive.exists() else job.build_dir
        build_size = artifact.stat().st_size if artifact.is_file() else await asyncio.to_thread(_dir_size, artifact)
    # From here to the update nothing awaits: a cancel accepted while the build ran (or while its
    # log was read above) is seen, and is final.
    dep = store.get("deployments", project, function_id, deployment_id)
    if dep is None:
        return
    if dep.get("status") == "canceled":
        dep["buildLogs"] = canceled_logs(logs)
        store.update("deployments", project, function_id, dep)
        return
    dep["buildLogs"] = logs
    dep["buildDuration"] = max(1, math.ceil(elapsed)) if ok else math.ceil(elapsed)
    dep["status"] = "ready" if ok else "failed"
    if ok:
        dep["buildSize"] = build_size
        dep["totalSize"] = dep.get("sourceSize", 0) + build_size
    store.update("deployments", project, function_id, dep)
    refresh_latest_deployment(state, project, function_id)
    if ok and dep.get("activate"):
        await activate_deployment(state, project, function_id, deployment_id)
