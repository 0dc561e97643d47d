"""Owning the host processes the emulator starts, and every process they start in turn.

A process group is not enough: a function may start children with `setsid` (start_new_session),
which leave the group. Cgroups would hold them, but need root or delegation. Instead:

- Every process started for a function, an instance or a build step, gets the environment variable
  APPWRITE_EMULATOR_OWNER=<data dir id>:<server pid>.<server start time>:<unit>. Children inherit
  it, including the ones that call setsid; `unit` names the instance or the build.
- The server marks itself a child subreaper (prctl PR_SET_CHILD_SUBREAPER), so a descendant whose
  parent exits is re-parented to the server rather than to init, and the server can reap the ones
  it kills.
- Ending a unit sends SIGKILL to every process carrying its marker and to every descendant of its
  processes (found through the ppid links in /proc/*/stat: this catches children that cleared their
  environment), and scans again until nothing is left (a fork racing the kill is caught next round).
- A normal stop ends every unit of this server. After a crash (kill -9), the next start on the
  same data dir ends every process whose marker names this data dir and a server that is no longer
  running (pid and start time together: a reused pid does not count as the old server).

What escapes: a process that both clears its environment and gets re-parented away from its
unit's tree (its parent died first) before the kill. Without /proc (macOS), ending a unit falls
back to killing the process groups of its own processes (each starts a session of its own), which
misses children that call setsid.
"""
from __future__ import annotations

import contextvars
import ctypes
import hashlib
import os
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path

OWNER_ENV = "APPWRITE_EMULATOR_OWNER"
_ENV_PREFIX = f"\0{OWNER_ENV}=".encode()
PR_SET_CHILD_SUBREAPER = 36
_HAVE_PROC = os.path.isdir("/proc/self")

# The build a thread is running for: (owner, unit). Set by the executor around a build; build
# steps started from that context (build_steps.run_streaming) are marked and registered with it.
build_scope: contextvars.ContextVar[tuple["ProcessOwner", str] | None] = \
    contextvars.ContextVar("build_scope", default=None)


@dataclass
class _Proc:
    pid: int
    ppid: int
    state: str
    start: int
    session: int
    marker: str | None


def _stat(pid: int) -> tuple[int, str, int, int] | None:
    """(ppid, state, start time in clock ticks, session id) of a process, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            data = fh.read()
    except OSError:
        return None
    fields = data[data.rindex(b")") + 2:].split()
    return int(fields[1]), fields[0].decode(), int(fields[19]), int(fields[3])


def _marker_of(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/environ", "rb") as fh:
            env = b"\0" + fh.read()
    except OSError:  # gone, or another user's process: not ours either way
        return None
    at = env.find(_ENV_PREFIX)
    if at < 0:
        return None
    start = at + len(_ENV_PREFIX)
    end = env.find(b"\0", start)
    return env[start:end if end >= 0 else len(env)].decode("utf-8", "replace")


def _scan() -> dict[int, _Proc]:
    procs: dict[int, _Proc] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return procs
    for entry in entries:
        if not entry.isdigit():
            continue
        pid = int(entry)
        stat = _stat(pid)
        if stat is None:
            continue
        ppid, state, start, session = stat
        procs[pid] = _Proc(pid, ppid, state, start, session, _marker_of(pid) if state != "Z" else None)
    return procs


def _alive(proc: _Proc) -> bool:
    return proc.state not in ("Z", "X", "x")


def become_subreaper() -> bool:
    """Make orphaned descendants re-parent to this process instead of init. Returns success."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _server_identity() -> str:
    stat = _stat(os.getpid())
    return f"{os.getpid()}.{stat[2] if stat else 0}"


class ProcessOwner:
    """The processes one server process starts for one data dir."""

    def __init__(self, data_dir: Path):
        self.scope = hashlib.sha256(str(Path(data_dir).absolute()).encode()).hexdigest()[:16]
        self.prefix = f"{self.scope}:{_server_identity()}:"
        # Held while a process is started and registered, and while a kill decides what to reap:
        # a marked direct child that is not a registered root is then surely an adopted orphan.
        self.lock = threading.Lock()
        self._roots: dict[str, dict[int, int]] = {}  # unit -> {pid: start time}
        # Roots start sessions of their own: a zombie child of ours in one of them is an orphan
        # of a unit that exited by itself, ours to reap.
        self._sessions: set[int] = set()

    def marker(self, unit: str) -> str:
        return self.prefix + unit

    def env(self, unit: str) -> dict[str, str]:
        return {OWNER_ENV: self.marker(unit)}

    def add_root(self, unit: str, pid: int) -> None:
        """Record a process we started (and someone waits for). Call with `lock` held."""
        stat = _stat(pid)
        self._roots.setdefault(unit, {})[pid] = stat[2] if stat else -1
        if len(self._sessions) > 100_000:  # bounded; losing old ones only leaves a zombie or two
            self._sessions.clear()
        self._sessions.add(pid)

    def forget_root(self, unit: str, pid: int) -> None:
        with self.lock:
            roots = self._roots.get(unit)
            if roots is not None:
                roots.pop(pid, None)
                if not roots:
                    del self._roots[unit]

    # -- ending processes -----------------------------------------------------------------------
    def end(self, unit: str) -> int:
        """Kill every process of `unit`. Returns how many were killed."""
        marker = self.marker(unit)
        return self._end(lambda m: m == marker, [unit])

    def end_all(self) -> int:
        """Kill every process this server started for this data dir (normal stop)."""
        prefix = self.prefix
        return self._end(lambda m: m.startswith(prefix), None)

    def end_leftovers(self) -> int:
        """Kill processes a previous server on this data dir left running (it was killed)."""
        scope_prefix = f"{self.scope}:"
        owners_alive: dict[str, bool] = {}

        def stale(marker: str) -> bool:
            if not marker.startswith(scope_prefix) or marker.startswith(self.prefix):
                return False
            owner = marker[len(scope_prefix):].split(":", 1)[0]
            if owner not in owners_alive:
                pid, _, start = owner.partition(".")
                stat = _stat(int(pid)) if pid.isdigit() else None
                owners_alive[owner] = stat is not None and str(stat[2]) == start and stat[1] not in ("Z", "X")
            return not owners_alive[owner]

        return self._end(stale, [])

    def _end(self, match, units: list[str] | None) -> int:
        if not _HAVE_PROC:
            return self._end_groups(units)
        me = os.getpid()
        killed: set[int] = set()
        with self.lock:
            for _ in range(200):
                procs = _scan()
                if not killed:
                    killed |= {p.pid for p in procs.values() if p.state == "Z" and p.ppid == me
                               and p.session in self._sessions}
                roots = self._live_roots(procs, units)
                targets = {p.pid for p in procs.values() if _alive(p) and p.marker is not None and match(p.marker)}
                targets |= roots
                targets |= _descendants(procs, targets)
                targets.discard(me)
                if not targets:
                    break
                for pid in targets:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except (ProcessLookupError, PermissionError):
                        pass
                killed |= targets
                time.sleep(0.005)  # SIGKILL is delivered asynchronously: let them die before rescanning
            # Roots are waited for by whoever started them (and stay registered until then:
            # `forget_root`); anything else that is our child was adopted (subreaper) and is ours
            # to reap, or it would stay a zombie.
            all_roots = {pid for unit_roots in self._roots.values() for pid in unit_roots}
        _reap(killed - all_roots)
        return len(killed)

    def _end_groups(self, units: list[str] | None) -> int:
        with self.lock:
            selected = self._roots.values() if units is None else [self._roots.get(u, {}) for u in units]
            pids = [pid for unit_roots in selected for pid in unit_roots]
        for pid in pids:
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        return len(pids)

    def _live_roots(self, procs: dict[int, _Proc], units: list[str] | None) -> set[int]:
        selected = self._roots.values() if units is None else [self._roots.get(u, {}) for u in units]
        return {pid for unit_roots in selected for pid, start in unit_roots.items()
                if pid in procs and procs[pid].start == start and _alive(procs[pid])}


def _descendants(procs: dict[int, _Proc], roots: set[int]) -> set[int]:
    children: dict[int, list[int]] = {}
    for proc in procs.values():
        children.setdefault(proc.ppid, []).append(proc.pid)
    found: set[int] = set()
    stack = list(roots)
    while stack:
        for child in children.get(stack.pop(), ()):
            if child not in found and _alive(procs[child]):
                found.add(child)
                stack.append(child)
    return found


def _reap(pids: set[int], timeout: float = 5.0) -> None:
    """Collect the exit status of killed processes that were re-parented to us."""
    pending = set(pids)
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        for pid in list(pending):
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:  # not our child: its own parent (or init) reaps it
                pending.discard(pid)
                continue
            if done:
                pending.discard(pid)
        if pending:
            time.sleep(0.01)
