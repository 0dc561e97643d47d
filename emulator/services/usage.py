"""Usage of functions (Appwrite's `usageFunction` / `usageFunctions`), computed from what is stored.

Appwrite counts usage as it happens; the emulator derives the same figures from its rows: finished
executions (count, compute time), deployments (count, source size) and their builds (ready or
failed; size, compute time). Compute time is in milliseconds and MB-seconds are the specification's
memory times its cpus times the seconds spent, as Appwrite 1.9.6 meters them (execution figures use
the function's current runtime specification, builds its build specification). Series have one metric per period of the
range (hours for 24h, days for 30d and 90d), zero where nothing happened, oldest first.
"""
from __future__ import annotations

import time

from .functions import specification_of
from .lookup import get_function
from .state import State

# range -> (periods, seconds per period, characters of an ISO date naming the period)
RANGES = {"24h": (24, 3600, 13), "30d": (30, 86400, 10), "90d": (90, 86400, 10)}
DEFAULT_RANGE = "30d"


def _periods(range_: str) -> tuple[list[str], int]:
    """The keys (ISO date prefixes, UTC) of the range's periods, oldest first, and their length."""
    count, seconds, chars = RANGES[range_]
    now = int(time.time())
    current = now - now % seconds
    keys = [time.strftime("%Y-%m-%dT%H", time.gmtime(current - i * seconds))[:chars] for i in range(count)]
    return keys[::-1], chars


def _date(key: str) -> str:
    return f"{key}:00:00.000+00:00" if len(key) == 13 else f"{key}T00:00:00.000+00:00"


def _series(keys: list[str], values: dict[str, float]) -> list[dict]:
    return [{"value": int(round(values.get(k, 0))), "date": _date(k)} for k in keys]


class _Sums:
    """Totals and per-period sums of named figures."""

    def __init__(self):
        self.total: dict[str, float] = {}
        self.by_period: dict[str, dict[str, float]] = {}

    def add(self, name: str, value: float, period: str | None = None) -> None:
        if period is None:
            self.total[name] = self.total.get(name, 0) + (value or 0)
        else:
            bucket = self.by_period.setdefault(name, {})
            bucket[period] = bucket.get(period, 0) + (value or 0)


def _collect(state: State, project: str, function_id: str | None, keys: list[str], chars: int) -> _Sums:
    store = state.store
    build_factor: dict[str, float] = {}

    def mb_cpus(fid: str) -> float:  # memory (MB) times cpus of the function's build specification
        if fid not in build_factor:
            cpus, memory = specification_of(store.get("functions", project, "", fid) or {}, "build")
            build_factor[fid] = memory * cpus
        return build_factor[fid]

    sums = _Sums()
    since = keys[0]
    for rows, period in ((store.execution_usage(project, function_id), False),
                         (store.execution_usage(project, function_id, since, chars), True)):
        for row in rows:
            key, (count, milliseconds, mb_seconds) = row[1] if period else None, row[-3:]
            sums.add("executions", count, key)
            sums.add("executionsTime", milliseconds, key)
            sums.add("executionsMbSeconds", mb_seconds, key)
    for rows, period in ((store.deployment_usage(project, function_id), False),
                         (store.deployment_usage(project, function_id, since, chars), True)):
        for row in rows:
            fid, key = row[0], row[1] if period else None
            count, source, builds, ready, failed, build_bytes, build_seconds = row[-7:]
            sums.add("deployments", count, key)
            sums.add("deploymentsStorage", source, key)
            sums.add("builds", builds, key)
            sums.add("buildsSuccess", ready, key)
            sums.add("buildsFailed", failed, key)
            sums.add("buildsStorage", build_bytes, key)
            sums.add("buildsTime", build_seconds * 1000, key)
            sums.add("buildsMbSeconds", build_seconds * mb_cpus(fid), key)
    return sums


_FUNCTION_FIGURES = ("deployments", "deploymentsStorage", "builds", "buildsSuccess", "buildsFailed", "buildsStorage",
                     "buildsTime", "buildsMbSeconds", "executions", "executionsTime", "executionsMbSeconds")


def _usage(sums: _Sums, keys: list[str], range_: str) -> dict:
    out: dict = {"range": range_}
    for name in _FUNCTION_FIGURES:
        out[f"{name}Total"] = int(round(sums.total.get(name, 0)))
    builds = out["buildsTotal"]
    out["buildsTimeAverage"] = int(sums.total.get("buildsTime", 0) / builds) if builds else 0
    for name in _FUNCTION_FIGURES:
        out[name] = _series(keys, sums.by_period.get(name, {}))
    return out


def function_usage(state: State, project: str, function_id: str, range_: str = DEFAULT_RANGE) -> dict:
    """One function's usage (`usageFunction`)."""
    get_function(state, project, function_id)
    keys, chars = _periods(range_)
    return _usage(_collect(state, project, function_id, keys, chars), keys, range_)


def functions_usage(state: State, project: str, range_: str = DEFAULT_RANGE) -> dict:
    """The usage of all the project's functions together (`usageFunctions`)."""
    keys, chars = _periods(range_)
    sums = _collect(state, project, None, keys, chars)
    for _parent, count in state.store.function_usage(project):
        sums.add("functions", count)
    for _parent, key, count in state.store.function_usage(project, keys[0], chars):
        sums.add("functions", count, key)
    out = _usage(sums, keys, range_)
    out["functionsTotal"] = int(sums.total.get("functions", 0))
    out["functions"] = _series(keys, sums.by_period.get("functions", {}))
    del out["buildsTimeAverage"]  # usageFunction has it, usageFunctions not
    return out
