"""The toolchain probes of a project's first builds, run while `dev` is still starting.

Which host binary runs a runtime, and its version, are found by running binaries (`python3
--version`): a version manager's shim, such as pyenv's chain of bash scripts, costs ~0.3 s a run.
The answers are cached per process (languages/base.py), so `dev` starts the probes in threads as
soon as it has read the project, while the server's modules import (the probes are processes,
the imports Python code: they share no core), and the first builds find them done. Each
language's thread also starts the functions' first instances (executors/early.py), before the
probes when the language can tell its interpreter without them.
"""
from __future__ import annotations

import threading
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Iterable

from ..executors.early import EarlyStarts
from ..languages import language_for_runtime


@dataclass
class WarmUp:
    """What `warm_toolchains` started: `started` resolves once every early instance was started (or
    not), `done` once the probes are done too."""
    started: Future
    done: Future


def warm_toolchains(runtimes: Iterable[str], toolchains: dict[str, str], early: EarlyStarts | None = None) -> WarmUp:
    """Probe the toolchains of `runtimes` (one per function) in the background, and start an early
    instance per function with `early`. Failures are left for the builds to report, with their
    own messages."""
    runtimes = list(runtimes)
    languages = [lang for lang in (language_for_runtime(r, toolchains) for r in sorted(set(runtimes))) if lang]
    warm = WarmUp(Future(), Future())
    counts = {"started": len(languages), "done": len(languages)}
    lock = threading.Lock()

    def count_down(which: str) -> None:
        with lock:
            counts[which] -= 1
            last = counts[which] == 0
        if last:
            getattr(warm, which).set_result(None)

    def probe(language) -> None:
        try:
            if early is not None:  # first: a language may have what it needs without the probes
                for _ in range(runtimes.count(language.runtime_id)):
                    early.start(language)
        finally:
            count_down("started")
        try:
            language.warm_up()
        except Exception:  # noqa: BLE001 - the build that needs the toolchain says what is wrong
            pass
        finally:
            count_down("done")

    if not languages:
        warm.started.set_result(None)
        warm.done.set_result(None)
    for language in languages:
        # Daemon: a probe still running when dev is stopped must not hold up its exit.
        threading.Thread(target=probe, args=(language,), name=f"warm-up {language.runtime_id}", daemon=True).start()
    return warm
