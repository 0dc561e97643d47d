"""Serving the app: the one place that binds the socket and sets the real endpoint, and the
runner whose connections (connection.py) answer executions directly and even unparsable requests
in Appwrite's error envelope.

`serve`, `dev` (emulator/dev/session.py) and `BackgroundServer` (background.py) all start here.
"""
from __future__ import annotations

import faulthandler
import signal
import socket
import sys

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from .api.common import STATE_KEY
from .app import create_app
from .connection import Connection
from .services.state import Settings, State

# Connections the kernel may hold before the server accepts them. aiohttp's 128 overflows when a
# burst (a load test, a script firing hundreds of executions) meets a busy loop: the kernel then
# drops the handshakes, and a client can wait minutes on a connection the server never sees.
LISTEN_BACKLOG = 2048


class _EmulatorServer(web.Server):
    """aiohttp's server whose connections are `Connection`s (connection.py)."""
    state: State

    def __call__(self) -> RequestHandler:
        return Connection(self, loop=self._loop, state=self.state, **self._kwargs)


class EmulatorRunner(web.AppRunner):
    """web.AppRunner whose connections answer protocol-level errors in Appwrite's envelope and
    executions directly (connection.py)."""

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        server.__class__ = _EmulatorServer  # same state, only the connection factory differs
        server.state = self.app[STATE_KEY]
        return server


def make_runner(app: web.Application, **kwargs) -> web.AppRunner:
    """The runner every way of serving the app uses (serve, dev, BackgroundServer)."""
    return EmulatorRunner(app, access_log=None, **kwargs)


def dump_stacks_on_sigusr1() -> None:
    """`kill -USR1 <server pid>` prints every thread's stack to stderr: how a server that stopped
    answering shows where it waits, without stopping it (the test suite does this on a failure)."""
    if hasattr(signal, "SIGUSR1"):
        faulthandler.register(signal.SIGUSR1, file=sys.stderr, all_threads=True)


async def start_server(settings: Settings, host: str, port: int) -> web.AppRunner:
    """Create the app and listen; `settings.endpoint` becomes the real URL. Caller cleans up the runner."""
    dump_stacks_on_sigusr1()
    app = create_app(settings)
    runner = make_runner(app)  # answers even unparsable requests in Appwrite's error envelope
    await runner.setup()
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        await runner.cleanup()
        raise
    actual_port = sock.getsockname()[1]
    settings.host = host  # the origin/host guard accepts the bound address as a Host
    # A wildcard address is not something a function can call back on.
    settings.endpoint = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{actual_port}/v1"
    await web.SockSite(runner, sock, backlog=LISTEN_BACKLOG).start()
    return runner


def bound_port(runner: web.AppRunner) -> int:
    """The port a runner from `start_server` listens on."""
    return runner.addresses[0][1]
