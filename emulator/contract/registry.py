"""The check registry: `Check`s are registered with `@check` (v5 wire) or `@v2check` (v2 wire) by
`checks.py`, then picked for a driver and run by `run_suite`."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

from .results import CheckResult


@dataclass(frozen=True)
class Check:
    name: str
    fn: Callable[[object], None]
    apis: tuple[str, ...] = ("context",)
    level: str = "runtime"  # "emulator": only run by drivers whose level is "emulator"
    direct: bool = False  # needs wire-level control (secret, log ids, log files): DirectDriver only
    description: str = ""


CHECKS: list[Check] = []
BOTH = ("context", "legacy")


def check(name: str, apis: tuple[str, ...] = ("context",), level: str = "runtime", direct: bool = False):
    def register(fn):
        CHECKS.append(Check(name, fn, apis, level, direct, (fn.__doc__ or "").strip()))
        return fn
    return register


# v2 wire (INTERNAL_RUNTIME_KEY) checks, run by run_suite on a DirectDriver started with wire="v2".
V2_CHECKS: list[Check] = []


def v2check(name: str):
    def register(fn):
        V2_CHECKS.append(Check(name, fn, ("legacy",), "runtime", True, (fn.__doc__ or "").strip()))
        return fn
    return register


def checks_for_api(api: str, level: str | None = "runtime") -> list[Check]:
    """The v5 checks that apply to `api` ("context"/"legacy"), for pytest parametrization; `level`
    None keeps emulator-level checks too."""
    return [c for c in CHECKS if api in c.apis and (level is None or c.level == level)]


def checks_for(driver, only: Iterable[str] | None = None) -> list[Check]:
    pool = V2_CHECKS if getattr(driver, "wire", "v5") == "v2" else CHECKS
    wanted = set(only) if only is not None else None
    return [c for c in pool if driver.api in c.apis and (wanted is None or c.name in wanted)]


def run_check(driver, chk: Check) -> CheckResult:
    if chk.level == "emulator" and driver.level != "emulator":
        return CheckResult(chk.name, False, "emulator-level check", skipped=True)
    if chk.direct and driver.level == "emulator":
        return CheckResult(chk.name, False, "needs direct wire access", skipped=True)
    try:
        chk.fn(driver)
    except AssertionError as exc:
        return CheckResult(chk.name, False, str(exc))
    except Exception as exc:  # a crash of the check is a failure of the runtime under test
        return CheckResult(chk.name, False, f"{type(exc).__name__}: {exc}")
    return CheckResult(chk.name, True)


def run_suite(driver, only: Iterable[str] | None = None) -> list[CheckResult]:
    return [run_check(driver, c) for c in checks_for(driver, only)]
