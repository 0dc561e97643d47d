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


@main.command("contract-test")
@click.option("--runtime", "runtimes", multiple=True, help="Runtime id(s), e.g. node-18.0 (default: one per language).")
@click.option("--api", type=click.Choice(["context", "legacy", "both"]), default="both", show_default=True)
@click.option("--executor", type=click.Choice(["local", "docker"]), default="local", show_default=True)
@click.option("--endpoint", default=None, help="Use a running emulator instead of starting one.")
def contract_test(runtimes, api, executor, endpoint):
    """Deploy each runtime's canonical test function and check the contract point by point."""
    import tempfile

    from .background import BackgroundServer
    from .contract import format_table
    from .contract_api import run_contract
    from .languages import LANGUAGES

    selected = list(runtimes) or [f"{lang.key}-{lang.versions[-1]}" for lang in
                                  sorted(LANGUAGES.values(), key=lambda l: l.key)]
    apis = ["context", "legacy"] if api == "both" else [api]
    server = None
    if endpoint is None:
        server = BackgroundServer(Settings(data_dir=Path(tempfile.mkdtemp(prefix="contract-")), executor=executor)).start()
        endpoint = server.endpoint
    try:
        results, missing = run_contract(endpoint, selected, apis)
    finally:
        if server:
            server.stop()
    click.echo(format_table(results))
    for runtime, hint in missing.items():
        click.echo(f"skipped {runtime}: {hint}")
    failed = {label: [r for r in rs if not r.passed and not r.skipped] for label, rs in results.items()}
    failed = {k: v for k, v in failed.items() if v}
    for label, rs in failed.items():
        for r in rs:
            click.echo(f"FAILED {label} {r.name}: {r.detail}")
    sys.exit(1 if failed else 0)
