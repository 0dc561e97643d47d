"""The `dev` command's session: start the server in this process, keep the project deployed in it,
stop everything on Ctrl+C or SIGTERM."""
from __future__ import annotations

import asyncio
import signal
import subprocess

import click

from ..api.common import STATE_KEY
from ..executors.early import EarlyStarts
from ..project import Project
from ..server import start_server
from ..services.state import Settings
from . import DEBOUNCE_MS
from .loop import DevLoop
from .warmup import WarmUp


async def run_dev(project: Project, settings: Settings, host: str, port: int, debounce_ms: int = DEBOUNCE_MS,
                  ready: asyncio.Event | None = None, warm_up: WarmUp | None = None,
                  early: EarlyStarts | None = None, node_parser: subprocess.Popen | None = None) -> None:
    """`warm_up`: the toolchain probes started before the server (dev/warmup.py); the first builds
    wait for them rather than run the same probes again. `early`: the instances those started for
    the first deployments (executors/early.py), handed to the local executor.
    `node_parser`: the syntax checker's node process, started alike (dev/syntax.py)."""
    # SIGTERM ends the session like Ctrl+C, so the function processes it started are stopped too.
    main_task = asyncio.current_task()
    try:
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)
    except (NotImplementedError, RuntimeError):
        pass
    runner = await start_server(settings, host, port)
    loop = None
    try:
        state = runner.app[STATE_KEY]
        loop = DevLoop(project, state, debounce_ms, node_parser=node_parser)
        where = project.config_file or project.root
        click.secho(f"Appwrite emulator listening on {settings.endpoint}", bold=True)
        click.echo(f"Project '{project.project_id}' from {where}: {len(project.functions)} function(s). "
                   f"Data in {settings.data_dir}.")
        for fn in project.functions:
            click.echo(f"  {fn.id:<20} {fn.runtime:<14} {fn.entrypoint:<24} {fn.path}")
        if warm_up is not None:
            await asyncio.wrap_future(warm_up.started)
            loop.builds_wait_for(asyncio.wrap_future(warm_up.done))
        local = state.executor_for({"executor": "local"}) if early is not None else None
        if local is not None:
            await local.adopt_early(early.take())
        await loop.start()
        await loop.initial_deploys()
        if local is not None:
            await local.discard_early()  # the ones no first deployment took
        ids = next(iter(loop.watched), "FUNCTION_ID")
        # The command as it was typed: `appwrite-emulator` or `python -m emulator`.
        context = click.get_current_context(silent=True)
        command = context.find_root().info_name if context is not None else "appwrite-emulator"
        click.secho(f"Watching for changes (Ctrl+C to stop). Try: {command} exec {ids} "
                    f"--endpoint {settings.endpoint} --project {project.project_id}", bold=True)
        if ready is not None:
            ready.set()
        await loop.watch_forever()
    finally:
        if loop is not None:
            await loop.stop()
        await runner.cleanup()
