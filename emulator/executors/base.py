"""The executor interface: build a deployment, run executions on warm instances of it.

Two executors implement it: `LocalExecutor` (host processes) and `DockerExecutor` (openruntimes
images). Both forward requests through the same `RuntimeClient` (runtime_client.py) and keep
instances in the same `InstancePool`; they differ only in how a build runs and how an instance is
started and stopped.
"""
from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import AsyncContextManager

# A response body larger than this never reaches the caller (Appwrite's documented 1 MB limit).
MAX_RESPONSE_BYTES = 1_000_000


class ExecutorError(Exception):
    """The executor could not run the request. Becomes a failed execution whose errors read
    '<message>\\nError Code: <code>' like Appwrite's."""

    def __init__(self, message: str, code: int = 500):
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass
class BuildJob:
    deployment_key: str  # unique per project+deployment, used for names
    runtime: str  # "python-3.11"
    version: str  # contract version: "v5" or "v2"
    source_archive: Path  # validated tar.gz uploaded by the user
    build_dir: Path  # local: where the code is extracted and built; docker: scratch
    output_archive: Path  # the built artifact (served by download?type=output)
    entrypoint: str
    commands: str
    env: dict[str, str]
    timeout: float = 900
    cpus: float = 1
    memory: int = 512


@dataclass
class RuntimeSpec:
    """Everything needed to start a warm instance of one built deployment."""
    deployment_key: str
    runtime: str
    version: str
    entrypoint: str
    build_dir: Path
    output_archive: Path
    env: dict[str, str]
    cpus: float = 1
    memory: int = 512
    _fingerprint: tuple | None = field(default=None, init=False, repr=False, compare=False)

    def fingerprint(self) -> tuple:
        # An instance is reused only while what it was started with is unchanged. Computed once:
        # specs are not changed after they are made, and this is asked on every execution.
        if self._fingerprint is None:
            self._fingerprint = (self.runtime, self.version, self.entrypoint, str(self.build_dir),
                                 tuple(sorted(self.env.items())))
        return self._fingerprint


@dataclass
class ExecutionRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    timeout: float  # the function's timeout in seconds
    logging: bool = True


@dataclass
class ExecutionResult:
    status_code: int
    headers: list[tuple[str, str]]
    body: bytes
    logs: str
    errors: str
    duration: float


@dataclass
class Instance:
    """A started runtime server reachable on 127.0.0.1:port."""
    spec: RuntimeSpec
    port: int
    secret: str
    logs_dir: Path
    handle: object = None  # executor-specific (process, container)
    started_at: float = field(default_factory=time.monotonic)
    busy: int = 0
    last_used: float = field(default_factory=time.monotonic)  # when the last request ended (idle reaping)


@dataclass(frozen=True)
class Capabilities:
    """What callers may rely on, so none has to ask which executor it holds."""
    # Instances start from `output_archive`; the build directory is scratch and not kept.
    runs_from_archive: bool = False
    # Instances stay warm between executions: `prewarm` starts one, `acquire` holds one.
    warm_instances: bool = False


class Executor(ABC):
    name = ""
    capabilities = Capabilities()

    async def prepare(self) -> None:
        """Called once at server start, e.g. to remove what a crashed run left behind."""

    @abstractmethod
    async def build(self, job: BuildJob, log) -> None:
        """Build the deployment; `log(text)` streams build output. Raise BuildError on failure."""

    @abstractmethod
    async def execute(self, spec: RuntimeSpec, request: ExecutionRequest) -> ExecutionResult:
        """Run one request on a warm instance of `spec` (starting one when needed)."""

    async def prewarm(self, spec: RuntimeSpec) -> None:
        """Start an instance of `spec` before it takes traffic, so that a runtime that cannot start
        fails now (raises ExecutorError) rather than on the first execution. Without warm
        instances there is nothing to start."""

    async def start_ahead(self, spec: RuntimeSpec) -> None:
        """Start an instance of `spec` ahead of need, as far as it goes without loading the
        function's code (whose files may still change), for `prewarm` or an execution to finish
        starting. Best effort: executors and runtimes that cannot do nothing."""

    def acquire(self, spec: RuntimeSpec) -> AsyncContextManager[Instance]:
        """`async with executor.acquire(spec) as instance:` a started instance of `spec`, counted
        busy until the block ends. Only with `capabilities.warm_instances`."""
        raise NotImplementedError(f"{type(self).__name__} keeps no instances to acquire")

    @abstractmethod
    async def stop_deployment(self, deployment_key: str) -> None:
        """Stop every instance of a deployment (it is no longer active, or was deleted), and its
        build if one is running: nothing started for a deployment outlives it."""

    async def retire_deployment(self, deployment_key: str) -> None:
        """The deployment takes no new calls (another one of its function was activated): stop its
        instances, each once the calls it is serving end. Without warm instances: stop_deployment."""
        await self.stop_deployment(deployment_key)

    @abstractmethod
    async def close(self) -> None:
        """Stop everything this executor started."""
