"""Warm instances per deployment, shared by both executors.

An executor supplies `start(spec) -> Instance`, `stop(instance)` and `alive(instance)`; the pool
decides when to reuse, start, replace or reap. Each deployment keeps up to `size` instances; a
request goes to the least busy live one, and a new one starts only when all are busy and the pool
is not full (instances themselves serve concurrent requests).
"""
from __future__ import annotations

import asyncio
import time
from typing import Awaitable, Callable

from .base import Instance, RuntimeSpec


class InstancePool:
    def __init__(self, start: Callable[[RuntimeSpec], Awaitable[Instance]],
                 stop: Callable[[Instance], Awaitable[None]],
                 alive: Callable[[Instance], bool], size: int = 1, idle_seconds: float = 900):
        self._start, self._stop, self._alive = start, stop, alive
        self.size = max(1, size)
        self.idle_seconds = idle_seconds
        self._instances: dict[str, list[Instance]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def acquire(self, spec: RuntimeSpec) -> Instance:
        key = spec.deployment_key
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            instances = self._instances.setdefault(key, [])
            for inst in list(instances):
                if not self._alive(inst) or inst.spec.fingerprint() != spec.fingerprint():
                    instances.remove(inst)
                    await self._stop(inst)
            idle = [i for i in instances if i.busy == 0]
            if idle or len(instances) >= self.size:
                inst = min(idle or instances, key=lambda i: i.busy)
            else:
                inst = await self._start(spec)
                instances.append(inst)
            inst.busy += 1
            inst.last_used = time.monotonic()
            return inst

    def release(self, inst: Instance) -> None:
        inst.busy = max(0, inst.busy - 1)
        inst.last_used = time.monotonic()

    async def discard(self, inst: Instance) -> None:
        """Remove an instance that hung or died; the next request starts a fresh one."""
        instances = self._instances.get(inst.spec.deployment_key, [])
        if inst in instances:
            instances.remove(inst)
        await self._stop(inst)

    async def stop_deployment(self, key: str) -> None:
        for inst in self._instances.pop(key, []):
            await self._stop(inst)

    async def reap_idle(self) -> None:
        now = time.monotonic()
        for key, instances in list(self._instances.items()):
            for inst in list(instances):
                if inst.busy == 0 and now - inst.last_used > self.idle_seconds:
                    instances.remove(inst)
                    await self._stop(inst)

    async def close(self) -> None:
        for key in list(self._instances):
            await self.stop_deployment(key)

    def instances(self) -> list[Instance]:
        return [i for lst in self._instances.values() for i in lst]
