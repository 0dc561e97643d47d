"""The emulator's plain state: the store, where files live, the executors and the settings.

Services take this object; nothing here knows about HTTP.
"""
from __future__ import annotations

import heapq
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..executors.base import Executor
from ..store import Store
from ..version import APPWRITE_VERSION


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
    docker_image_prefix: str = "openruntimes"  # images are <prefix>/<language>:v5-<version>
    # Browsers and host names (app.origin_guard): the address the server listens on (its name is an
    # accepted Host), and the page origins allowed beyond loopback ones (`*` allows any).
    host: str = "127.0.0.1"
    cors_origins: tuple[str, ...] = ()


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


@dataclass
class State:
    settings: Settings
    store: Store
    executors: dict[str, Executor] = field(default_factory=dict)
    builds: object = None  # BuildQueue, set by the app at start-up
    runner: object = None  # ExecutionRunner, set by the app at start-up
    # Per-execution API keys handed to functions (x-appwrite-key), accepted until they expire.
    ephemeral_keys: ExpiringKeys = field(default_factory=ExpiringKeys)
    # (project, function, deployment) -> (store versions it was made at, RuntimeSpec): see runtime_spec.
    runtime_specs: dict = field(default_factory=dict)

    # -- files ---------------------------------------------------------------------------------
    def function_dir(self, project: str, function_id: str) -> Path:
        return self.settings.data_dir / "projects" / _safe(project) / "functions" / function_id

    def deployment_dir(self, project: str, function_id: str, deployment_id: str) -> Path:
        return self.function_dir(project, function_id) / "deployments" / deployment_id

    def remove_tree(self, path: Path) -> None:
        shutil.rmtree(path, ignore_errors=True)

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
                              image_prefix=settings.docker_image_prefix)
    from ..executors.local import LocalExecutor
    return LocalExecutor(settings.data_dir / "run", pool_size=settings.pool_size,
                         startup_timeout=settings.startup_timeout)


def _safe(project: str) -> str:
    # Project ids are free text in headers; keep them to one path component.
    return "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in project)[:64] or "_"


def deployment_key(project: str, deployment_id: str) -> str:
    return f"{_safe(project)}-{deployment_id}"
