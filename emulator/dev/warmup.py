"""The toolchain probes of a project's first builds, run while `dev` is still starting.

Which host binary runs a runtime, and its version, are found by running binaries (`python3
--version`): a version manager's shim, such as pyenv's chain of bash scripts, costs ~0.3 s a run.
The answers are cached per process (languages/base.py), so `dev` starts the probes in threads as
soon as it has read the project, while the server's modules import (the probes are processes,
the imports Python code: they share no core), and the first builds find them done.
"""
from __future__ import annotations

import threading
from concurrent.futures import Future
from typing import Iterable

from ..languages import language_for_runtime


def warm_toolchains(runtimes: Iterable[str], toolchains: dict[str, str]) -> Future:
    """Probe the toolchains of `runtimes` in the background; the future resolves when all are done.
    Failures are left for the builds to report, with their own messages."""
    languages = [lang for lang in (language_for_runtime(r, toolchains) for r in sorted(set(runtimes))) if lang]
    done: Future = Future()
    if not languages:
        done.set_result(None)
        return done
    remaining = [len(languages)]
    lock = threading.Lock()

    def probe(language) -> None:
        try:
            language.warm_up()
        except Exception:  # noqa: BLE001 - the build that needs the toolchain says what is wrong
            pass
        finally:
            with lock:
                remaining[0] -= 1
                last = remaining[0] == 0
            if last:
                done.set_result(None)

    for language in languages:
        # Daemon: a probe still running when dev is stopped must not hold up its exit.
        threading.Thread(target=probe, args=(language,), name=f"warm-up {language.runtime_id}", daemon=True).start()
    return done
