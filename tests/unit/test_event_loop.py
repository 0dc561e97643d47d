"""The server's event loop: uvloop where it is installed (a dependency on Linux and macOS)."""
from __future__ import annotations

import asyncio

import pytest

from emulator import event_loop


def test_the_server_runs_on_uvloop_where_it_is_installed():
    uvloop = pytest.importorskip("uvloop", reason="uvloop not installed: .venv/bin/pip install uvloop")

    async def running_loop():
        return type(asyncio.get_running_loop())

    assert event_loop.run(running_loop()) is uvloop.Loop


def test_without_uvloop_it_is_asyncios_own_loop(monkeypatch):
    monkeypatch.setattr(event_loop, "uvloop", None)

    async def running_loop():
        return asyncio.get_running_loop()

    assert type(event_loop.run(running_loop())).__module__.startswith("asyncio.")
