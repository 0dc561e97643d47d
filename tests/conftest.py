"""Fixtures shared by every test package: a real emulator server on a free port."""
from __future__ import annotations

from pathlib import Path

import pytest

from support import Server


@pytest.fixture
def server_factory(tmp_path):
    servers = []

    def make(*args: str, data_dir: Path | None = None) -> Server:
        srv = Server(data_dir or tmp_path / "data", *args).start()
        servers.append(srv)
        return srv

    yield make
    for srv in servers:
        srv.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("emulator") / "data").start()
    yield srv
    srv.stop()
