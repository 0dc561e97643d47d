"""The emulator's plain state: the store, where files live, the executors and the settings.

Services take this object; nothing here knows about HTTP.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from ..executors.base import Executor
from ..store import Store


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


@dataclass
class State:
    settings: Settings
    store: Store
    executors: dict[str, Executor] = field(default_factory=dict)
    builds: object = None  # BuildQueue, set by the app at start-up
    runner: object = None  # ExecutionRunner, set by the app at start-up
    # Per-execution API keys handed to functions (x-appwrite-key), accepted until they expire.
    ephemeral_keys: dict[str, float] = field(default_factory=dict)

    # -- files ---------------------------------------------------------------------------------
    def function_dir(self, project: str, function_id: str) -> Path:
        return self.settings.data_dir / "projects" / _safe(project) / "functions" / function_id

    def deployment_dir(self, project: str, function_id: str, deployment_id: str) -> Path:
        return self.function_dir(project, function_id) / "deployments" / deployment_id

    def remove_tree(self, path: Path) -> None:
        shutil.rmtree(path, ignore_errors=True)

    def executor_for(self, function: dict) -> Executor:
        name = function.get("executor") or self.settings.executor
        return self.executors.get(name) or self.executors[self.settings.executor]


def _safe(project: str) -> str:
    # Project ids are free text in headers; keep them to one path component.
    return "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in project)[:64] or "_"


def deployment_key(project: str, deployment_id: str) -> str:
    return f"{_safe(project)}-{deployment_id}"
