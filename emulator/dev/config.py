"""Following edits of the project config file (appwrite.config.json).

Polled, not watched: editors replace the file rather than write it, and the project root may hold
big trees (node_modules, venvs) a recursive watch would have to walk.
"""
from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Callable

from ..project import Project, ProjectError, load_project

CONFIG_POLL_SECONDS = 0.5


class ConfigPoller:
    """Calls `on_change(project)` with the re-read project after each edit of `config_file`, or
    `on_error(message)` when the edited file cannot be used (the previous settings stay)."""

    def __init__(self, config_file: Path | None, project_id: str, on_change: Callable[[Project], None],
                 on_error: Callable[[str], None], interval: float = CONFIG_POLL_SECONDS):
        self.config_file = config_file
        self.project_id = project_id
        self.on_change, self.on_error = on_change, on_error
        self.interval = interval
        self._stat = self._read_stat()

    def _read_stat(self) -> tuple[int, int] | None:
        try:
            st = self.config_file.stat() if self.config_file else None
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size) if st else None

    def poll(self) -> None:
        """Check once."""
        stat = self._read_stat()
        if stat is None or stat == self._stat:
            return
        self._stat = stat
        try:
            project = load_project(self.config_file, self.project_id)
        except ProjectError as exc:
            self.on_error(f"{self.config_file.name}: {exc} (keeping the previous settings)")
            return
        self.on_change(project)

    async def run(self) -> None:
        if self.config_file is None:
            return
        while True:
            await asyncio.sleep(self.interval)
            self.poll()
