"""What `serve` prints while it runs, like a web server's access log: a line per execution and per
build, the build's output as it comes, and (with `--logs`) each execution's logs and errors.

The services only publish what happened (ExecutionRunner.listeners, BuildQueue.listeners and
output_listeners); this module formats it. Colour only on a terminal (click strips it elsewhere).
Build output lines are also what `dev` shows (`BuildOutputLines`).
"""
from __future__ import annotations

import sys
import threading
import time
from datetime import datetime

import click

MAX_LINE_CHARS = 200  # a build output line beyond this is cut (npm and pip print very long ones)
MAX_LOG_LINES = 50  # function logs/errors shown per execution with --logs
BUILD_FAILED = "Build failed: "  # how services/builds.py states a failed build's reason in its log


def trim(line: str, limit: int = MAX_LINE_CHARS) -> str:
    """One line as a console shows it: what a carriage return last redrew, no trailing blanks, cut."""
    line = line.rstrip().rsplit("\r", 1)[-1].rstrip()
    return line if len(line) <= limit else line[:limit - 1] + "…"


class BuildOutputLines:
    """Build output arrives in pieces that do not end at line ends (from a build thread): this
    gives back the complete, trimmed, non-blank lines of each build as they are completed."""

    def __init__(self):
        self._partial: dict[tuple, str] = {}
        self._lock = threading.Lock()

    def feed(self, key: tuple, text: str) -> list[str]:
        with self._lock:
            *complete, rest = (self._partial.pop(key, "") + text).split("\n")
            if rest:
                self._partial[key] = rest
        return [line for line in map(trim, complete) if line]

    def flush(self, key: tuple) -> list[str]:
        """The last line of a build that ended without a line end."""
        with self._lock:
            line = trim(self._partial.pop(key, ""))
        return [line] if line else []


def duration_text(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def failure_reason(build_logs: str) -> str:
    """The reason a failed build gives in its last `Build failed: ` line."""
    for line in reversed((build_logs or "").splitlines()):
        if line.startswith(BUILD_FAILED):
            return trim(line[len(BUILD_FAILED):])
    return ""


class AccessLog:
    """Prints what a server's services publish. `attach(state)` once the server runs."""

    def __init__(self, logs: bool = False, out=None):
        self.logs = logs
        self.out = out  # a text stream; None: sys.stdout at the time of printing
        self._lines = BuildOutputLines()
        self._started: dict[tuple, float] = {}  # (project, function, deployment) -> monotonic start
        self._print_lock = threading.Lock()  # build output comes from build threads
        self._strip: dict[int, bool] = {}  # id(stream) -> no colour on it (not a terminal)
        self._second: tuple[int, str] = (-1, "")  # (epoch second, its styled time)

    def attach(self, state) -> None:
        state.runner.listeners.append(self.execution)
        state.builds.listeners.append(self.build_done)
        state.builds.output_listeners.append(self.build_output)

    # -- printing -------------------------------------------------------------------------------
    def _echo(self, lines: list[str]) -> None:
        out = self.out or sys.stdout
        text = "".join(line + "\n" for line in lines)
        # click.echo would ask whether `out` is a terminal on every line: once per stream is enough.
        strip = self._strip.get(id(out))
        if strip is None:
            strip = self._strip[id(out)] = not (hasattr(out, "isatty") and out.isatty())
        with self._print_lock:
            out.write(click.unstyle(text) if strip else text)
            out.flush()  # a line per event even when stdout is a file or a pipe

    def _head(self, kind: str, project: str, function_id: str) -> str:
        return f"{self._when()} {kind:<9} {project}/{function_id}"

    def _when(self) -> str:
        """The time, styled; formatted once a second (a line per execution can come thousands of times)."""
        second = int(time.time())
        if self._second[0] != second:
            when = datetime.fromtimestamp(second).strftime("%Y-%m-%d %H:%M:%S")
            self._second = (second, click.style(when, dim=True))
        return self._second[1]

    # -- executions -----------------------------------------------------------------------------
    def execution(self, project: str, function: dict, doc: dict) -> None:
        """time, function, trigger, method path, status code, duration, execution status."""
        ok = doc.get("status") == "completed"
        code = doc.get("responseStatusCode", 0)
        line = (f"{self._head('execution', project, function['$id'])} {doc.get('trigger', '')} "
                f"{doc.get('requestMethod', '')} {doc.get('requestPath', '')} "
                f"{click.style(str(code), fg='green' if ok and code < 400 else 'yellow' if ok else 'red')} "
                f"{duration_text(float(doc.get('duration') or 0))} "
                f"{click.style(str(doc.get('status', '')), fg='green' if ok else 'red', bold=not ok)}")
        lines = [line]
        if self.logs:
            for key, prefix, style in (("logs", "log", {"dim": True}), ("errors", "error", {"fg": "red"})):
                text = (doc.get(key) or "").rstrip("\n").splitlines()
                lines += [click.style(f"    {prefix} | {trim(ln)}", **style) for ln in text[:MAX_LOG_LINES]]
                if len(text) > MAX_LOG_LINES:
                    lines.append(click.style(f"    {prefix} | ... {len(text) - MAX_LOG_LINES} more lines", **style))
        self._echo(lines)

    # -- builds ---------------------------------------------------------------------------------
    def build_output(self, project: str, function_id: str, deployment_id: str, text: str) -> None:
        key = (project, function_id, deployment_id)
        lines = []
        if key not in self._started:
            self._started[key] = time.monotonic()
            lines.append(f"{self._head('build', project, function_id)} {deployment_id} started")
        prefix = click.style(f"    {function_id} |", dim=True)
        lines += [f"{prefix} {line}" for line in self._lines.feed(key, text)]
        self._echo(lines)

    def build_done(self, project: str, function_id: str, doc: dict | None) -> None:
        if doc is None:  # deleted while it was queued or built
            return
        key = (project, function_id, doc["$id"])
        started = self._started.pop(key, None)
        prefix = click.style(f"    {function_id} |", dim=True)
        lines = [f"{prefix} {line}" for line in self._lines.flush(key)]
        status = doc.get("status", "")
        took = f" in {duration_text(time.monotonic() - started)}" if started is not None else ""
        end = f"{self._head('build', project, function_id)} {doc['$id']} "
        if status == "ready":
            end += click.style(f"ready{took}", fg="green")
        else:
            reason = failure_reason(doc.get("buildLogs", "")) if status == "failed" else ""
            end += click.style(f"{status}{took}" + (f": {reason}" if reason else ""), fg="red", bold=True)
        self._echo(lines + [end])
