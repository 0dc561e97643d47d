"""A command that serves the emulator (`serve`, `dev`, `make run`, an installed console script), run
as a subprocess in its own session with its output going to a file, stopped with everything it
started. The tests of the package, of `serve`'s output and of the README's commands use it.

Imported as `from served import ServeProcess` (tests/ is on sys.path through tests/conftest.py).
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
from pathlib import Path

from support import wait_for, wait_for_output

LISTENING = re.compile(r"listening on (http://\S+/v1)")


class ServeProcess:
    """`with ServeProcess(argv, cwd, env, log_path) as served:` starts `argv` and returns once its
    output matches `ready` (by default the banner, `listening on <endpoint>`)."""

    def __init__(self, argv: list, cwd: Path, env: dict | None, log_path: Path, ready: str = LISTENING.pattern,
                 timeout: float = 120):
        self.argv, self.cwd, self.env, self.log_path = argv, cwd, env, log_path
        self.ready, self.timeout = ready, timeout  # a regex
        self.proc: subprocess.Popen | None = None
        self.endpoint = ""

    def __enter__(self) -> "ServeProcess":
        with open(self.log_path, "wb") as log:  # the child keeps its own descriptor
            self.proc = subprocess.Popen([str(a) for a in self.argv], cwd=self.cwd, env=self.env,
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        try:
            wait_for_output(self.proc, self.log_path, self.ready, timeout=self.timeout)
        except BaseException:
            self.stop()
            raise
        listening = LISTENING.search(self.output())
        self.endpoint = listening.group(1) if listening else ""
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def lines(self) -> list[str]:
        return self.output().splitlines()

    def wait_for_line(self, pattern: str, timeout: float = 120) -> re.Match:
        """The first output line matching the regex `pattern`, waiting until one is printed."""
        regex = re.compile(pattern)
        return wait_for(lambda: next((m for m in map(regex.search, self.lines()) if m), None),
                        timeout=timeout, message=f"a line matching {pattern!r} in:\n{self.output()[-2000:]}")

    def stop(self) -> None:
        """SIGTERM to its whole session (make, a shell and the server under them), waiting until every
        process of it is gone (the server stops its runtimes first); SIGKILL after a grace period."""
        if self.proc is None:
            return

        def group_gone() -> bool:
            self.proc.poll()  # reap the leader: a zombie still counts as a member
            try:
                os.killpg(self.proc.pid, 0)
            except ProcessLookupError:
                return True
            return False

        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                wait_for(group_gone, timeout=30, message="the served command to stop")
                break
            except AssertionError:
                continue
        self.proc.wait()
