"""Running one build step as a child process, its output streamed to the build log as it comes.

Shared by the host build (hostbuild.py) and the languages' compile steps (languages/*.py). A step
started inside a build (processes.build_scope) is marked as that build's, so deleting the
function, stopping the server or a crash ends it and whatever it started; what a step leaves
running when it ends is ended too.
"""
from __future__ import annotations

import codecs
import os
import select
import subprocess
import time
from pathlib import Path

from .processes import build_scope

CHUNK_BYTES = 64 * 1024


class BuildError(Exception):
    """A build step failed; the message is shown in the deployment's build logs."""


def run_streaming(argv: list[str], cwd: Path, env: dict[str, str] | None, log, timeout: float = 900) -> None:
    """Run one build step; `log(text)` gets its output (stdout and stderr) as it comes. Raises
    BuildError when it cannot start, times out or exits non-zero. The step ends when its own
    process exits: background children still holding the output pipe do not keep it open."""
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    scope = build_scope.get()
    if scope is not None:
        owner, unit = scope
        full_env.update(owner.env(unit))
    deadline = time.monotonic() + timeout
    try:
        if scope is not None:
            with owner.lock:
                proc = _spawn(argv, cwd, full_env)
                owner.add_root(unit, proc.pid)
        else:
            proc = _spawn(argv, cwd, full_env)
    except OSError as exc:
        raise BuildError(f"{argv[0]} could not start: {exc}")
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    ended_with_newline = True
    timed_out = False
    fd = proc.stdout.fileno()
    poller = select.poll()  # not select.select: a busy server's descriptors may be past 1024
    poller.register(fd, select.POLLIN)
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                timed_out = True
                break
            ready = poller.poll(min(remaining, 0.2) * 1000)
            chunk = os.read(fd, CHUNK_BYTES) if ready else b""
            if chunk:
                text = decoder.decode(chunk)
                if text:
                    log(text)
                    ended_with_newline = text.endswith("\n")
                continue
            if ready:
                break  # end of output: every writer closed the pipe
            if proc.poll() is not None:
                # Exited; take what is already in the pipe, but do not wait for background children.
                while poller.poll(0):
                    chunk = os.read(fd, CHUNK_BYTES)
                    if not chunk:
                        break
                    text = decoder.decode(chunk)
                    if text:
                        log(text)
                        ended_with_newline = text.endswith("\n")
                break
        if not timed_out and proc.poll() is None:  # closed its output but still running
            try:
                proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                timed_out = True
    finally:
        if scope is not None:
            owner.end(unit)  # the step is over (or timed out): nothing it started outlives it
        elif proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stdout.close()
        if scope is not None:
            owner.forget_root(unit, proc.pid)
    tail = decoder.decode(b"", final=True)
    if tail:
        log(tail)
        ended_with_newline = tail.endswith("\n")
    if not ended_with_newline:
        log("\n")
    if timed_out:
        raise BuildError(f"{argv[0]} timed out after {timeout:.0f}s")
    if proc.returncode != 0:
        raise BuildError(f"{' '.join(argv[:2])} exited with code {proc.returncode}")


def _spawn(argv: list[str], cwd: Path, env: dict[str, str]) -> subprocess.Popen:
    # A session of its own: a terminal's Ctrl+C reaches the emulator, which then ends the build.
    return subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
