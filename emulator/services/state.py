"""The emulator's plain state: the store, where files live, the executors and the settings.

Services take this object; nothing here knows about HTTP.
"""
from __future__ import annotations

import asyncio
import heapq
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from ..errors import AppwriteError
from ..executors.base import Executor
from ..ids import check_uid
from ..store import Store
from ..version import APPWRITE_VERSION

if TYPE_CHECKING:  # both import this module
    from .builds import BuildQueue
    from .executions import ExecutionRunner


@dataclass
class Settings:
    data_dir: Path
    api_key: str | None = None
    endpoint: str = "http://127.0.0.1:8080/v1"  # APPWRITE_FUNCTION_API_ENDPOINT given to functions
    executor: str = "local"
    min_schedule_delay: float = 60.0  # Appwrite requires scheduledAt >= 1 minute ahead
    sync_timeout: float = 30.0  # Appwrite's hard cap on synchronous executions
    build_timeout: float = 900.0
    build_workers: int = 2
    async_workers: int = 4
    async_queue_size: int = 1000
    # The Appwrite version emulated: before 1.4 new functions use the v2 runtime contract
    # (openruntimes v2 images, `req`/`res` only), from 1.4 on the current one.
    appwrite_version: str = APPWRITE_VERSION
    pool_size: int = 1  # warm instances per deployment (each serves concurrent requests)
    startup_timeout: float = 30.0  # seconds a runtime may take to start listening
    idle_timeout: float = 0.0  # seconds before an unused warm instance is stopped (0: kept; `serve` sets 300)
    docker_image_prefix: str = "openruntimes"  # images are <prefix>/<language>:v5-<version>
    # Browsers and host names (middlewares.origin_guard): the address the server listens on (its name is an
    # accepted Host), and the page origins allowed beyond loopback ones (`*` allows any).
    host: str = "127.0.0.1"  # start_server sets it to the address actually bound
    cors_origins: tuple[str, ...] = ()  # each may be a comma-separated list; stored lower-case, no `/` at the end
    # Runtime id -> host binary that runs it on the local executor (`--toolchain python-3.12=/usr/bin/python3.12`).
    toolchains: dict[str, str] = field(default_factory=dict)
    # Function domains (api/function_domains.py): `<functionId>.<this>[:port]` runs that function.
    functions_domain: str = "functions.localhost"

    def __post_init__(self) -> None:
        # Normalised once here, not on every request that carries an Origin.
        self.cors_origins = tuple(origin.strip().rstrip("/").lower() for value in self.cors_origins
                                  for origin in value.split(",") if origin.strip())
        self.functions_domain = self.functions_domain.strip().strip(".").lower()


class ExpiringKeys(dict):
    """key -> expiry (epoch seconds). An expired key is not `in` it; `purge` drops expired keys in
    O(log n) each, so handing out a key per execution stays cheap however many are live."""

    def __init__(self):
        super().__init__()
        self._heap: list[tuple[float, str]] = []

    def __setitem__(self, key: str, expires: float) -> None:
        super().__setitem__(key, expires)
        heapq.heappush(self._heap, (expires, key))

    def __contains__(self, key) -> bool:
        expires = self.get(key)
        return expires is not None and expires >= time.time()

    def purge(self, now: float | None = None) -> None:
        now = time.time() if now is None else now
        while self._heap and self._heap[0][0] < now:
            expires, key = heapq.heappop(self._heap)
            if self.get(key) == expires:
                del self[key]


class StagedSwap(NamedTuple):
    """A hot swap prepared ahead: `staged_id`'s build dir is already linked from `base_id`'s build."""
    base_id: str
    staged_id: str


@dataclass
class State:
    settings: Settings
    store: Store
    executors: dict[str, Executor] = field(default_factory=dict)
    builds: BuildQueue | None = None  # set by the app at start-up
    runner: ExecutionRunner | None = None  # set by the app at start-up
    # Per-execution API keys handed to functions (x-appwrite-key), accepted until they expire.
    ephemeral_keys: ExpiringKeys = field(default_factory=ExpiringKeys)
    # (project, function, deployment) -> (store versions it was made at, RuntimeSpec): see runtime_spec.
    runtime_specs: dict = field(default_factory=dict)
    # Hot swaps (services/hotswap.py), per (project, function): the lock that serialises them and
    # the one swap staged ahead of time, if any.
    hotswap_locks: dict[tuple[str, str], asyncio.Lock] = field(default_factory=dict)
    staged_swaps: dict[tuple[str, str], StagedSwap] = field(default_factory=dict)
    # (project, function, deployment) -> [lock, holders]: serialises the chunks of one upload;
    # the entry goes with its last holder (services/deployments.upload_lock).
    upload_locks: dict[tuple[str, str, str], list] = field(default_factory=dict)

    # -- files ---------------------------------------------------------------------------------
    # Paths are built only from valid ids (one plain path component each, and distinct ids give
    # distinct folders), and every one is checked to stay inside the data dir before it is used.
    def function_dir(self, project: str, function_id: str) -> Path:
        check_uid("projectId", project)
        check_uid("functionId", function_id)
        return self.inside_data_dir(self.settings.data_dir / "projects" / project / "functions" / function_id)

    def deployment_dir(self, project: str, function_id: str, deployment_id: str) -> Path:
        check_uid("deploymentId", deployment_id)
        return self.inside_data_dir(self.function_dir(project, function_id) / "deployments" / deployment_id)

    def inside_data_dir(self, path: Path) -> Path:
        """`path` if it lies strictly inside the data dir (symlinks followed), else PathOutsideDataDir."""
        root = os.path.realpath(self.settings.data_dir)
        real = os.path.realpath(path)
        if os.path.commonpath([root, real]) != root or real == root:
            raise PathOutsideDataDir(str(path))
        return Path(path)

    def remove_tree(self, path: Path) -> None:
        shutil.rmtree(self.inside_data_dir(path), ignore_errors=True)

    def executor_for(self, function: dict) -> Executor:
        """The function's own executor choice (an emulator extension), else the server's."""
        name = function.get("executor") or self.settings.executor
        if name not in self.executors:
            self.executors[name] = make_executor(name, self.settings)
        return self.executors[name]


def make_executor(name: str, settings: Settings) -> Executor:
    if name == "docker":
        from ..executors.docker import DockerExecutor  # imported only when asked for: needs a Docker engine
        return DockerExecutor(settings.data_dir / "run-docker", pool_size=settings.pool_size,
                              image_prefix=settings.docker_image_prefix, idle_timeout=settings.idle_timeout)
    from ..executors.early import local_run_dir
    from ..executors.local import LocalExecutor
    return LocalExecutor(local_run_dir(settings.data_dir), pool_size=settings.pool_size,
                         startup_timeout=settings.startup_timeout, idle_timeout=settings.idle_timeout,
                         toolchains=settings.toolchains)


class PathOutsideDataDir(AppwriteError):
    """A path derived from request data that would leave the data dir: never used."""

    def __init__(self, path: str):
        super().__init__("general_argument_invalid", "Invalid request: the resource's path is outside the data dir.")
        self.path = path


def deployment_key(project: str, deployment_id: str) -> str:
    # `+` is in neither id alphabet, so distinct (project, deployment) pairs never share a key.
    return f"{check_uid('projectId', project)}+{check_uid('deploymentId', deployment_id)}"
