"""Command line: `python -m emulator serve | runtimes | ...`."""
from __future__ import annotations

import asyncio
import logging
import socket
import sys
from pathlib import Path

import click
from aiohttp import web

from .app import create_app
from .services.state import Settings


@click.group()
def main() -> None:
    """Local Appwrite Functions emulator."""


def serve_options(fn):
    fn = click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")(fn)
    fn = click.option("--port", default=8080, show_default=True, type=int, help="Port (0 picks a free one).")(fn)
    fn = click.option("--data-dir", default=".emulator", show_default=True, type=click.Path(file_okay=False),
                      help="Where state (SQLite) and deployments are kept.")(fn)
    fn = click.option("--api-key", default=None, help="Require this X-Appwrite-Key on every request.")(fn)
    fn = click.option("--executor", type=click.Choice(["local", "docker"]), default="local", show_default=True,
                      help="Run functions as host processes or in openruntimes containers.")(fn)
    return fn


async def run_server(settings: Settings, host: str, port: int) -> None:
    app = create_app(settings)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    actual_port = sock.getsockname()[1]
    settings.endpoint = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{actual_port}/v1"
    site = web.SockSite(runner, sock)
    await site.start()
    click.echo(f"Appwrite emulator listening on {settings.endpoint}", err=False)
    sys.stdout.flush()
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


@main.command()
@serve_options
@click.option("--min-schedule-delay", default=60.0, show_default=True, type=float,
              help="Seconds a scheduledAt must be ahead (Appwrite: 60).")
def serve(host, port, data_dir, api_key, executor, min_schedule_delay):
    """Serve the Appwrite Functions API under /v1."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Settings(data_dir=Path(data_dir), api_key=api_key, executor=executor,
                        min_schedule_delay=min_schedule_delay)
    try:
        asyncio.run(run_server(settings, host, port))
    except KeyboardInterrupt:
        pass


@main.command()
def runtimes():
    """List runtimes, and whether this machine can run them locally."""
    from .languages import LANGUAGES
    for lang in sorted(LANGUAGES.values(), key=lambda l: l.key):
        tool = lang.toolchain()
        status = f"available ({tool.version})" if tool.available else f"missing: {tool.hint}"
        click.echo(f"{lang.key:<10} {', '.join(lang.versions):<50} {status}")
