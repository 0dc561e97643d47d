"""Terminal output of the dev loop: one line per event, prefixed with time and function id."""
from __future__ import annotations

import time
from datetime import datetime

import click

from ..devclient import execution_lines

# Words that mark a line of build output as worth showing when a build fails.
ERROR_KEYS = ("error", "Error", "ERR!", "failed", "Failed", "Traceback", "exception", "Exception", "No matching")


class Console:
    """One line per event, prefixed with time and function id; details indented below it."""

    def __init__(self):
        self.width = 0

    def _prefix(self, fid: str) -> str:
        self.width = max(self.width, len(fid))
        return f"[{datetime.now().strftime('%H:%M:%S')}] {fid:<{self.width}}"

    def info(self, text: str, **style) -> None:
        click.secho(text, **style)

    def fn(self, fid: str, text: str, **style) -> None:
        click.echo(click.style(self._prefix(fid), dim=True) + " " + click.style(text, **style))

    def build_output(self, fid: str, line: str) -> None:
        """A line a build printed (pip, npm, a compiler), as it comes."""
        click.echo(click.style(f"{self._prefix(fid)} | {line}", dim=True))

    def details(self, lines: list[str], **style) -> None:
        for line in lines:
            click.secho("    | " + line, **style)

    def execution(self, fid: str, doc: dict) -> None:
        """An execution the server ran, with its logs and errors below it."""
        lines = execution_lines(doc)
        head, style = lines[0]
        self.fn(fid, head, fg="green" if style == "ok" else "red")
        for text, style in lines[1:]:
            click.secho("    " + text, **({"fg": "red"} if style == "error" else {"dim": True}))


def failing_lines(text: str, limit: int = 25) -> list[str]:
    """The part of build output worth showing: lines that name an error (with the line before),
    else the tail."""
    lines = [ln for ln in text.rstrip().splitlines() if ln.strip()]
    picked: list[int] = []
    for i, line in enumerate(lines):
        if any(k in line for k in ERROR_KEYS):
            for j in (i - 1, i, i + 1):
                if 0 <= j < len(lines) and j not in picked:
                    picked.append(j)
    if not picked:
        return lines[-limit:]
    picked = sorted(picked)[-limit:]
    return [lines[i] for i in picked]


def elapsed(started: float) -> str:
    """Time since `started` (time.monotonic), as the terminal shows it."""
    seconds = time.monotonic() - started
    return f"{seconds * 1000:.0f} ms" if seconds < 10 else f"{seconds:.1f} s"


def phases(started: float, marks: dict[str, float]) -> str:
    """'pack 3, swap 12, ...': milliseconds each phase took, from consecutive time marks."""
    out, last = [], started
    for name, at in marks.items():
        out.append(f"{name} {(at - last) * 1000:.0f}")
        last = at
    return ", ".join(out)


def change_summary(changed: list[str]) -> str:
    if not changed:
        return "no file changes"
    shown = ", ".join(changed[:3])
    return shown + (f" and {len(changed) - 3} more" if len(changed) > 3 else "")
