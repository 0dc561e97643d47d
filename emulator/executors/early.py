"""Instances started before the server exists: `dev` starts each function's first instance while
the server's modules are still importing.

A first deployment's instance start (an interpreter and the adapter's own imports) came after the
server's imports, and was the longest step of `dev`'s launch after them. So `dev` starts, per
function whose language has an early launcher (`Language.early_server`: Python and Node), a spare
that loads the interpreter and the adapter's modules, then waits on its stdin. Once the local
executor exists it adopts them (`LocalExecutor.adopt_early`) and releases one as a deployment's
first instance, with the environment, folder and port it would have been started with (the
launchers' `go PORT JSON`). The ones no deployment took are stopped once the first deployments are
done; a spare whose stdin closes (`dev` died) exits by itself.

Light on imports (no asyncio): it runs on `dev`'s toolchain warm-up threads, beside the imports.
"""
from __future__ import annotations

import os
import secrets
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

from ..processes import ProcessOwner
from ..runtime_env import host_env
from .logs_dirs import make_logs_dir, remove_instance_dir

EARLY_PREFIX = "early-"  # instance dirs of early spares: run/early-<dev's pid>-<random>
MAX_EARLY = 4  # spares per `dev` start: the first deployments of a bigger project start the usual way


@dataclass
class EarlyProcess:
    """A spare started early, not yet adopted by an executor."""
    language: object  # the Language (bound to its runtime version) it was started for
    command: object  # the ServerCommand it runs (`Language.early_server`)
    popen: subprocess.Popen
    unit: str  # its ProcessOwner unit
    inst_dir: Path
    logs_dir: Path
    env: dict[str, str]  # what it was started with


def local_run_dir(data_dir: Path) -> Path:
    """The local executor's run dir: one folder per instance."""
    return Path(data_dir) / "run"


def own_early_dir(name: str) -> bool:
    """Whether an instance dir of the run dir is an early spare of this process (the executor's
    start-up sweep of a dead server's instances must leave those)."""
    return name.startswith(f"{EARLY_PREFIX}{os.getpid()}-")


class EarlyStarts:
    """The spares one `dev` start made; `start` may be called from several threads."""

    def __init__(self, data_dir: Path, limit: int = MAX_EARLY):
        self.run_dir = local_run_dir(data_dir)
        self.limit = limit
        self._lock = threading.Lock()
        self._started: list[EarlyProcess] = []
        self._taken = False
        self._owner = ProcessOwner(self.run_dir.parent)  # the executor's owner will name them alike

    def start(self, language) -> None:
        """Start a spare for one function of `language`, unless it has no early launcher, the limit
        is reached or the spares were already handed over. Failures are left to the usual start."""
        try:
            command = language.early_server()
        except Exception:  # noqa: BLE001 - an optimisation: the instance starts the usual way
            return
        if command is None:
            return
        with self._lock:
            if self._taken or len(self._started) >= self.limit:
                return
            name = f"{EARLY_PREFIX}{os.getpid()}-{secrets.token_hex(4)}"
            inst_dir = self.run_dir / name
            try:
                logs_dir = make_logs_dir(inst_dir, language.logs_on_tmpfs)
                unit = f"instance:{name}"
                # The logs dir names the data dir, as in every instance's environment (the next
                # server's sweep of a dead one's instances looks for it).
                env = {**host_env(), **command.env, **self._owner.env(unit), "OPEN_RUNTIMES_LOGS_DIR": str(logs_dir)}
                popen = subprocess.Popen(command.argv, cwd=str(inst_dir), env=env, stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
            except OSError:
                remove_instance_dir(inst_dir)
                return
            (inst_dir / "pid").write_text(str(popen.pid))
            self._started.append(EarlyProcess(language, command, popen, unit, inst_dir, logs_dir, env))

    def take(self) -> list[EarlyProcess]:
        """The spares started so far, handed over once (later `start`s start nothing)."""
        with self._lock:
            self._taken = True
            started, self._started = self._started, []
        return started
