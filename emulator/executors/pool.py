"""Warm instances per deployment, shared by both executors.

An executor supplies `start(spec) -> Instance`, `stop(instance)` and `alive(instance)`; the pool
decides when to reuse, start or replace. Each deployment keeps up to `size` instances; a
request goes to the least busy live one, and a new one starts only when all are busy and the pool
is not full (instances themselves serve concurrent requests).

An instance nobody used for `idle_timeout` seconds is stopped (0 keeps instances until their
deployment goes): a developer runs many functions over a day, and each warm runtime holds tens of
MB. The next request starts it again, as the first one did.
"""
from __future__ import annotations

import asyncio
import contextlib
import time
import logging
from typing import AsyncIterator, Awaitable, Callable

from .base import Capabilities, ExecutionRequest, ExecutionResult, Executor, ExecutorError, Instance, RuntimeSpec
from .runtime_client import ResponseTooLarge, RuntimeClient, RuntimeTimeout, RuntimeUnreachable

log = logging.getLogger("emulator.executors")


class InstancePool:
    def __init__(self, start: Callable[[RuntimeSpec], Awaitable[Instance]],
                 stop: Callable[[Instance], Awaitable[None]],
                 alive: Callable[[Instance], bool], size: int = 1, idle_timeout: float = 0):
        self._start, self._stop, self._alive = start, stop, alive
        self.size = max(1, size)
        self.idle_timeout = max(0.0, idle_timeout)
        self._instances: dict[str, list[Instance]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._reaper: asyncio.Task | None = None
        # Replaced while serving (its deployment's settings changed): stopped when its last call ends.
        self._retiring: list[Instance] = []
        self._stopping: set[asyncio.Task] = set()

    async def acquire(self, spec: RuntimeSpec) -> Instance:
        if self.idle_timeout and self._reaper is None:
            self._reaper = asyncio.ensure_future(self._reap_forever())
        key = spec.deployment_key
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            instances = self._instances.setdefault(key, [])
            for inst in list(instances):
                if not self._alive(inst):
                    instances.remove(inst)
                    await self._stop(inst)
                # (The same spec object, kept by the services between writes, needs no comparing.)
                elif inst.spec is not spec and inst.spec.fingerprint() != spec.fingerprint():
                    # Its settings changed (a variable, the timeout): new calls get an instance
                    # started with the new ones.
                    instances.remove(inst)
                    await self._retire(inst)
            idle = [i for i in instances if i.busy == 0]
            if idle or len(instances) >= self.size:
                inst = min(idle or instances, key=lambda i: i.busy)
            else:
                inst = await self._start(spec)
                instances.append(inst)
            inst.busy += 1
            return inst

    def release(self, inst: Instance) -> None:
        inst.busy = max(0, inst.busy - 1)
        inst.last_used = time.monotonic()
        if inst.busy == 0 and self._take_retiring(inst):
            task = asyncio.ensure_future(self._stop(inst))
            self._stopping.add(task)
            task.add_done_callback(self._stopping.discard)

    async def _retire(self, inst: Instance) -> None:
        """`inst` takes no new calls: stopped now if idle, else once the calls it serves end."""
        if inst.busy:
            self._retiring.append(inst)
        else:
            await self._stop(inst)

    def _take_retiring(self, inst: Instance) -> bool:
        for i, retiring in enumerate(self._retiring):
            if retiring is inst:
                del self._retiring[i]
                return True
        return False

    async def reap_idle(self) -> int:
        """Stop the instances idle for `idle_timeout` seconds or more. Returns how many stopped."""
        if not self.idle_timeout:
            return 0
        stopped = 0
        for key in list(self._instances):
            async with self._locks.setdefault(key, asyncio.Lock()):  # no acquire picks one meanwhile
                instances = self._instances.get(key, [])
                cutoff = time.monotonic() - self.idle_timeout
                for inst in [i for i in instances if i.busy == 0 and i.last_used <= cutoff]:
                    instances.remove(inst)
                    await self._stop(inst)
                    stopped += 1
                if not instances:
                    self._instances.pop(key, None)
        return stopped

    async def _reap_forever(self) -> None:
        # Checked often enough that an instance lives at most 1.5x the timeout past its last use.
        interval = min(max(self.idle_timeout / 2, 0.1), 30.0)
        while True:
            await asyncio.sleep(interval)
            try:
                await self.reap_idle()
            except Exception:  # a failed stop must not end reaping for good
                log.exception("stopping idle instances failed")

    async def discard(self, inst: Instance) -> None:
        """Remove an instance that hung or died; the next request starts a fresh one."""
        instances = self._instances.get(inst.spec.deployment_key, [])
        if inst in instances:
            instances.remove(inst)
        self._take_retiring(inst)
        await self._stop(inst)

    async def stop_deployment(self, key: str) -> None:
        """Stop every instance of the deployment, retired ones still serving calls included."""
        retired = [inst for inst in self._retiring if inst.spec.deployment_key == key]
        self._retiring = [inst for inst in self._retiring if inst.spec.deployment_key != key]
        for inst in self._instances.pop(key, []) + retired:
            await self._stop(inst)

    async def retire_deployment(self, key: str) -> None:
        """Stop the deployment's idle instances now and each busy one when its last call ends."""
        async with self._locks.setdefault(key, asyncio.Lock()):  # no acquire adds one meanwhile
            for inst in self._instances.pop(key, []):
                await self._retire(inst)

    async def close(self) -> None:
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
            self._reaper = None
        for key in list(self._instances):
            await self.stop_deployment(key)
        while self._retiring:
            await self._stop(self._retiring.pop())
        if self._stopping:
            await asyncio.gather(*self._stopping, return_exceptions=True)

    def instances(self) -> list[Instance]:
        return [i for lst in self._instances.values() for i in lst] + self._retiring


class PooledExecutor(Executor):
    """An executor whose instances live in an `InstancePool` and are reached with the shared
    `RuntimeClient`: how an execution recovers from a dead or stuck instance is the same for host
    processes and containers. Subclasses say how to tell an instance died and what it left."""

    pool: InstancePool
    client: RuntimeClient
    instance_label = "Runtime"  # how errors name an instance
    capabilities = Capabilities(warm_instances=True)

    @contextlib.asynccontextmanager
    async def acquire(self, spec: RuntimeSpec) -> AsyncIterator[Instance]:
        inst = await self.pool.acquire(spec)
        try:
            yield inst
        finally:
            self.pool.release(inst)

    async def prewarm(self, spec: RuntimeSpec) -> None:
        async with self.acquire(spec):
            pass

    async def _instance_died(self, inst: Instance) -> bool:
        raise NotImplementedError

    async def _death_report(self, inst: Instance) -> tuple[int | None, str]:
        """(exit code, last output) of an instance that died."""
        raise NotImplementedError

    async def execute(self, spec: RuntimeSpec, request: ExecutionRequest) -> ExecutionResult:
        try:
            return await self._execute_once(spec, request)
        except RuntimeUnreachable:
            # The instance died between executions (e.g. the last one called exit()) and the
            # request never reached a function: start a fresh instance and try once more.
            return await self._execute_once(spec, request)

    async def _execute_once(self, spec: RuntimeSpec, request: ExecutionRequest) -> ExecutionResult:
        async with self.acquire(spec) as inst:
            try:
                return await self.client.execute(inst, request)
            except (RuntimeUnreachable, RuntimeTimeout):
                # Unreachable, or it ignored its own soft timeout: the instance is dead or stuck.
                await self.pool.discard(inst)
                raise
            except ResponseTooLarge:
                raise  # the function answered; the instance is fine
            except ExecutorError as exc:
                if await self._instance_died(inst):
                    code, output = await self._death_report(inst)
                    await self.pool.discard(inst)
                    raise ExecutorError(f"{self.instance_label} exited with code {code} during the execution. "
                                        f"Last output:\n{output}", 500) from exc
                raise

    async def stop_deployment(self, deployment_key: str) -> None:
        await self.pool.stop_deployment(deployment_key)

    async def retire_deployment(self, deployment_key: str) -> None:
        await self.pool.retire_deployment(deployment_key)
