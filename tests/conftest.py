"""Fixtures shared by every test package: a real emulator server on a free port."""
from __future__ import annotations

import re
from contextlib import contextmanager
from pathlib import Path

import pytest

from support import Server


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """When a test fails by a timeout, add the thread stacks of every emulator server still running: a test that
    timed out waiting for an answer then shows where the server was stuck."""
    outcome = yield
    report = outcome.get_result()
    if report.failed and call.when == "call" and re.search(r"Failed: Timeout|TimeoutError|ReadTimeout|timed out", report.longreprtext):
        for srv in list(Server.running):
            stacks = srv.thread_stacks()
            if stacks:
                report.sections.append((f"emulator server {srv.endpoint} thread stacks", stacks))


@contextmanager
def _servers(default_data_dir):
    """`make(*args, data_dir=None)` starting a Server (in `default_data_dir()` unless told); all stopped at the end."""
    servers = []

    def make(*args: str, data_dir: Path | None = None) -> Server:
        srv = Server(data_dir or default_data_dir(), *args).start()
        servers.append(srv)
        return srv

    try:
        yield make
    finally:
        for srv in servers:
            srv.stop()


@pytest.fixture
def server_factory(tmp_path):
    with _servers(lambda: tmp_path / "data") as make:
        yield make


@pytest.fixture(scope="module")
def module_server_factory(tmp_path_factory):
    """Servers that live as long as the test module, each in a data dir of its own unless told."""
    with _servers(lambda: tmp_path_factory.mktemp("emulator") / "data") as make:
        yield make


@pytest.fixture(scope="module")
def server(module_server_factory):
    return module_server_factory()
