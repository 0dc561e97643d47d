"""Starting the HTTP server: the one place that binds the socket and sets the real endpoint.

`serve`, `dev` (emulator/dev/session.py) and `BackgroundServer` (background.py) all start here.
"""
from __future__ import annotations

import socket

from aiohttp import web

from .app import create_app, make_runner
from .services.state import Settings


async def start_server(settings: Settings, host: str, port: int) -> web.AppRunner:
    """Create the app and listen; `settings.endpoint` becomes the real URL. Caller cleans up the runner."""
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
    # A wildcard address is not something a function can call back on.
    settings.endpoint = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{actual_port}/v1"
    await web.SockSite(runner, sock).start()
    return runner


def bound_port(runner: web.AppRunner) -> int:
    """The port a runner from `start_server` listens on."""
    return runner.addresses[0][1]
