"""Command line: `python -m emulator serve | runtimes | ...`."""
from __future__ import annotations

import gc
import signal
import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ._resources import STARTERS_DIR
from .dev import DEBOUNCE_MS
from .devclient import Client, ClientError, client_options, default_project, parse_headers, run_exec, run_trigger
from .version import APPWRITE_VERSION

# The server's modules (aiohttp, the API, the services), asyncio and the event loop are imported by
# the commands that serve, not here: `exec` and `trigger` never need them, and `dev` starts its
# toolchain probes and first instances first.
if TYPE_CHECKING:
    from .access_log import AccessLog
    from .services.state import Settings


SERVING = ("serve", "dev")  # the commands that turn the collector on after their imports (`imports_done`)


@click.group()
@click.pass_context
def main(ctx: click.Context) -> None:
    """Local Appwrite Functions emulator."""
    if ctx.invoked_subcommand not in SERVING:
        gc.enable()  # off since __main__


def imports_done() -> None:
    """The server's modules are imported: what they made lives as long as the process, so it goes
    out of the collector's sight (a full collection during the first deployment then costs ~1 ms
    instead of ~20), and the collector, off while they imported, runs again."""
    gc.freeze()
    gc.enable()


def _toolchain_mapping(ctx, param, value) -> dict[str, str]:
    from .languages import parse_toolchain_mapping
    try:
        return parse_toolchain_mapping(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc))


def toolchain_option(fn):
    return click.option("--toolchain", "toolchains", multiple=True, metavar="RUNTIME=PATH", callback=_toolchain_mapping,
                        envvar="APPWRITE_EMULATOR_TOOLCHAINS",
                        help="Run RUNTIME on this host binary with the local executor, e.g. "
                             "python-3.12=/usr/bin/python3.12 or node-18.0=/opt/node18/bin/node (repeatable; "
                             "APPWRITE_EMULATOR_TOOLCHAINS takes a space-separated list). Unmapped runtimes use "
                             "an installed binary of their version when found, else the default one.")(fn)


def serve_options(fn):
    fn = click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")(fn)
    fn = click.option("--port", default=8080, show_default=True, type=int, help="Port (0 picks a free one).")(fn)
    fn = click.option("--data-dir", default=".emulator", show_default=True, type=click.Path(file_okay=False),
                      help="Where state (SQLite) and deployments are kept.")(fn)
    fn = click.option("--api-key", default=None, envvar="APPWRITE_EMULATOR_API_KEY",
                      help="Require this X-Appwrite-Key on every request (or set APPWRITE_EMULATOR_API_KEY, "
                           "which keeps it out of `ps`).")(fn)
    fn = click.option("--cors-origin", "cors_origins", multiple=True, envvar="APPWRITE_EMULATOR_CORS_ORIGINS",
                      help="A web page origin allowed to call the API, e.g. http://myapp.test:3000 (repeatable; "
                           "APPWRITE_EMULATOR_CORS_ORIGINS takes a comma-separated list). Loopback pages "
                           "always are.")(fn)
    fn = click.option("--executor", type=click.Choice(["local", "docker"]), default="local", show_default=True,
                      help="Run functions as host processes or in openruntimes containers.")(fn)
    fn = click.option("--docker-image-prefix", default="openruntimes", show_default=True,
                      help="Docker executor images are <prefix>/<language>:v5-<version>.")(fn)
    fn = click.option("--functions-domain", default="functions.localhost", show_default=True,
                      envvar="APPWRITE_EMULATOR_FUNCTIONS_DOMAIN",
                      help="Requests whose Host is <functionId>.<this>[:port] run that function (Appwrite's "
                           "function domains); *.localhost names reach loopback without DNS.")(fn)
    fn = toolchain_option(fn)
    return fn


async def run_server(settings: Settings, host: str, port: int, access_log: AccessLog | None = None) -> None:
    import asyncio

    from .api.common import STATE_KEY
    from .server import start_server
    runner = await start_server(settings, host, port)
    if access_log is not None:
        access_log.attach(runner.app[STATE_KEY])
    click.echo(f"Appwrite emulator listening on {settings.endpoint}", err=False)
    sys.stdout.flush()
    # SIGTERM/SIGINT shut down cleanly: the executors stop every runtime they started.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


@main.command()
@serve_options
@click.option("--min-schedule-delay", default=60.0, show_default=True, type=float,
              help="Seconds a scheduledAt must be ahead (Appwrite: 60).")
@click.option("--pool-size", default=1, show_default=True, type=int,
              help="Warm instances per deployment; each also serves concurrent requests.")
@click.option("--startup-timeout", default=30.0, show_default=True, type=float,
              help="Seconds a runtime may take to start listening before the execution fails.")
@click.option("--idle-timeout", default=300.0, show_default=True, type=click.FloatRange(min=0),
              help="Seconds before a warm runtime nobody calls is stopped (0: never); the next call starts it.")
@click.option("--sync-timeout", default=30.0, show_default=True, type=click.FloatRange(min=0.1),
              help="Cap in seconds on a synchronous execution, then 408 (Appwrite: 30).")
@click.option("--appwrite-version", default=APPWRITE_VERSION, show_default=True,
              help="Appwrite version emulated: below 1.4 new functions use the v2 runtime contract.")
@click.option("--logs", "show_logs", is_flag=True, help="Print each execution's logs and errors under its line.")
@click.option("--quiet", is_flag=True, help="Print no line per execution or build (only the banner and warnings).")
def serve(host, port, data_dir, api_key, executor, cors_origins, functions_domain, min_schedule_delay, pool_size,
          startup_timeout, idle_timeout, sync_timeout, docker_image_prefix, appwrite_version, show_logs, quiet,
          toolchains):
    """Serve the Appwrite Functions API under /v1.

    Prints a line per execution (time, function, trigger, method and path, status code, duration,
    status) and per build (start, its output as it comes, end with duration or failure reason)."""
    gc.disable()  # while the server's modules import (also when not started through __main__)
    from .aiohttp_import import import_aiohttp
    import_aiohttp()  # before any server module: aiohttp_import.py says why
    from .access_log import AccessLog
    from .services.state import Settings
    imports_done()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Absolute: builds and function processes run in their own directories.
    settings = Settings(data_dir=Path(data_dir).absolute(), api_key=api_key, executor=executor,
                        min_schedule_delay=min_schedule_delay, pool_size=pool_size,
                        startup_timeout=startup_timeout, idle_timeout=idle_timeout, sync_timeout=sync_timeout,
                        docker_image_prefix=docker_image_prefix,
                        appwrite_version=appwrite_version, cors_origins=cors_origins,
                        functions_domain=functions_domain, toolchains=toolchains)
    from . import event_loop
    try:
        event_loop.run(run_server(settings, host, port, None if quiet else AccessLog(logs=show_logs)))
    except KeyboardInterrupt:
        pass


@main.command()
@toolchain_option
def runtimes(toolchains):
    """List runtimes, and whether this machine can run them locally.

    Below each language whose toolchain is versioned: what each runtime id runs on here, marked
    `NOT <version>` when no toolchain of its version is installed (the docker executor runs the
    exact image)."""
    from .languages import LANGUAGES, language_for_runtime
    for lang in sorted(LANGUAGES.values(), key=lambda l: l.key):
        tool = lang.toolchain()
        status = f"available ({tool.version})" if tool.available else f"missing: {tool.hint}"
        click.echo(f"{lang.key:<10} {', '.join(lang.versions):<50} {status}")
        if not tool.available or not lang.versioned_toolchain:
            continue
        for version in lang.versions:
            bound = language_for_runtime(f"{lang.key}-{version}", toolchains)
            runs = bound.toolchain()
            where = f" ({bound.versioned_binary()})" if bound.versioned_binary() else ""
            if not runs.available:
                click.echo(f"  {bound.runtime_id:<18} missing: {runs.hint}")
            elif bound.version_note():
                mapping = (f"; map one with --toolchain {bound.runtime_id}=PATH"
                           if lang.primary_binary and not bound.toolchain_override else "")
                click.echo(f"  {bound.runtime_id:<18} NOT {bound.wanted_version()}: runs on {runs.version}{where}{mapping}")
            else:
                click.echo(f"  {bound.runtime_id:<18} {runs.version}{where}")


@main.command("contract-test")
@click.option("--runtime", "runtimes", multiple=True, help="Runtime id(s), e.g. node-18.0 (default: one per language).")
@click.option("--api", type=click.Choice(["context", "legacy", "both"]), default="both", show_default=True)
@click.option("--executor", type=click.Choice(["local", "docker"]), default="local", show_default=True)
@click.option("--endpoint", default=None, help="Use a running emulator instead of starting one.")
@toolchain_option
def contract_test(runtimes, api, executor, endpoint, toolchains):
    """Deploy each runtime's canonical test function and check the contract point by point."""
    import tempfile

    from .background import BackgroundServer
    from .contract import format_table, run_contract
    from .languages import LANGUAGES
    from .services.state import Settings

    selected = list(runtimes) or [f"{lang.key}-{lang.versions[-1]}" for lang in
                                  sorted(LANGUAGES.values(), key=lambda l: l.key)]
    apis = ["context", "legacy"] if api == "both" else [api]
    server = None
    if endpoint is None:
        server = BackgroundServer(Settings(data_dir=Path(tempfile.mkdtemp(prefix="contract-")), executor=executor,
                                           toolchains=toolchains)).start()
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


@main.command()
@serve_options
@click.argument("project_dir", default=".", type=click.Path(exists=True, file_okay=True))
@click.option("--project", "project_id", default=None,
              help="Project id the functions live under [default: the config's projectId, else 'default'].")
@click.option("--debounce", default=DEBOUNCE_MS, show_default=True, type=click.IntRange(10, 5000),
              help="Milliseconds of quiet after a change before reloading.")
def dev(host, port, data_dir, api_key, executor, cors_origins, functions_domain, project_dir, project_id, debounce,
        docker_image_prefix, toolchains):
    """Serve, deploy the project's functions and redeploy them on every change.

    PROJECT_DIR holds appwrite.config.json (or appwrite.json), or is a single function folder.
    Source edits of interpreted functions are hot-swapped onto the last build (no reinstall);
    a dependency file change, a compiled runtime or a config change rebuilds fully. The old
    deployment serves until the new one is ready; a failed build keeps it and prints why."""
    gc.disable()  # while the modules import (also when not started through __main__)
    from .dev.warmup import warm_toolchains
    from .executors.early import EarlyStarts
    from .project import ProjectError, load_project
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        project = load_project(project_dir, project_id)
    except ProjectError as exc:
        raise click.ClickException(str(exc))
    early = warm_up = None
    if executor == "local":
        # Each function's first instance starts beside the imports below (executors/early.py).
        early = EarlyStarts(Path(data_dir).absolute())
        warm_up = warm_toolchains([fn.runtime for fn in project.functions], toolchains, early)
    from .dev.syntax import start_node_parser_early  # asyncio: after the probes are on their way
    node_parser = start_node_parser_early([fn.entrypoint for fn in project.functions])
    from .aiohttp_import import import_aiohttp
    import_aiohttp()  # before any server module: aiohttp_import.py says why
    from .dev.session import run_dev  # the server's modules: imported while the probes run
    from .services.state import Settings
    imports_done()
    # Absolute: function processes start in their build directories.
    settings = Settings(data_dir=Path(data_dir).absolute(), api_key=api_key, executor=executor,
                        docker_image_prefix=docker_image_prefix,
                        cors_origins=cors_origins, functions_domain=functions_domain, toolchains=toolchains)
    import asyncio

    from . import event_loop
    try:
        event_loop.run(run_dev(project, settings, host, port, debounce_ms=debounce, warm_up=warm_up, early=early,
                               node_parser=node_parser))
    except (KeyboardInterrupt, asyncio.CancelledError):
        pass


@main.command("exec")
@click.argument("function")
@click.option("--body", default="", help="Request body.")
@click.option("--path", default="/", show_default=True, help="Request path.")
@click.option("--method", default="POST", show_default=True,
              type=click.Choice(["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"], case_sensitive=False))
@click.option("--header", "headers", multiple=True, metavar="KEY:VALUE", help="Request header (repeatable).")
@click.option("--async", "is_async", is_flag=True, help="Queue it asynchronously and wait for the result.")
@client_options
def exec_(function, body, path, method, headers, is_async, endpoint, project, key):
    """Run FUNCTION once on a running emulator; print status, response, logs and errors.

    FUNCTION is the function's folder (as `init` and `dev` know it, the project then coming from
    its appwrite.config.json), its id, or its name."""
    client = Client(endpoint, project or default_project(), key)
    try:
        function_id = find_function(client, function, project_given=project is not None)
        code = run_exec(client, function_id, body, path, method.upper(), parse_headers(headers), is_async)
    except ClientError as exc:
        raise click.ClickException(exc.message)
    sys.exit(code)


def find_function(client: Client, ref: str, project_given: bool) -> str:
    """The id of the function `ref` names: a folder with a function's code, else an id, else a
    name. A folder also sets the client's project, unless one was given."""
    import urllib.parse

    from .ids import ID_PATTERN
    from .project import function_in_folder

    if Path(ref).is_dir():
        found = function_in_folder(ref)
        if found is not None:
            if not project_given:
                client.project = found[0]
            return found[1]
    if ID_PATTERN.match(ref):
        try:
            return client.call("GET", f"/functions/{ref}")["$id"]
        except ClientError as exc:
            if exc.status != 404:
                raise
    query = json.dumps({"method": "equal", "attribute": "name", "values": [ref]})
    named = client.call("GET", "/functions?" + urllib.parse.urlencode({"queries[]": query}))["functions"]
    if len(named) == 1:
        return named[0]["$id"]
    if named:
        raise ClientError(f"{len(named)} functions are named {ref!r} in project {client.project!r}: "
                          f"{', '.join(f['$id'] for f in named)}. Pass the id instead.")
    raise ClientError(f"404: No function with the id, name or folder {ref!r} in project {client.project!r} "
                      f"at {client.endpoint}.", 404)


@main.command()
@click.argument("event")
@click.option("--data", default="{}", show_default=True, help="Event payload (JSON), sent as the body.")
@click.option("--wait/--no-wait", default=False, show_default=True, help="Wait for the executions and print them.")
@client_options
def trigger(event, data, wait, endpoint, project, key):
    """Deliver an Appwrite event (e.g. users.u1.create) to every function subscribed to it."""
    try:
        payload = json.loads(data)
    except ValueError as exc:
        raise click.BadParameter(f"not valid JSON: {exc}", param_hint="--data")
    client = Client(endpoint, project or default_project(), key)
    try:
        code = run_trigger(client, event, payload, wait)
    except ClientError as exc:
        raise click.ClickException(exc.message)
    sys.exit(code)


# ---------------------------------------------------------------- init



def load_starters() -> dict:
    """starters/index.json: for each starter directory, the entrypoint and build commands of its
    current (`context`) and legacy (`req`, `res`) variant, and the files the Appwrite CLI ignores."""
    import json
    return json.loads((STARTERS_DIR / "index.json").read_text(encoding="utf-8"))


def starter_for(runtime: str, legacy: bool) -> tuple[Path, dict, list[str]]:
    """(starter directory, {"entrypoint", "commands"}, ignore list) for a runtime id.
    Like the Appwrite CLI, the starter is picked by the id's first segment (python-ml -> python)."""
    from .languages import LANGUAGES, language_for_runtime
    starters = load_starters()
    name = runtime.split("-", 1)[0]
    if language_for_runtime(runtime) is None or name not in starters:
        known = [f"  {lang.key}: {', '.join(f'{lang.key}-{v}' for v in lang.versions)}"
                 for lang in sorted(LANGUAGES.values(), key=lambda l: l.key)
                 if lang.key.split("-", 1)[0] in starters]
        raise click.ClickException(f"Unknown runtime {runtime!r}. Known runtimes:\n" + "\n".join(known))
    variant = "legacy" if legacy else "context"
    source = STARTERS_DIR / name / ("legacy" if legacy else "")
    return source, starters[name][variant], list(starters[name].get("ignore", []))


def starter_files(source: Path, legacy: bool) -> list[Path]:
    """Files of a starter, relative to it; the current starter's folder also holds `legacy/`."""
    files = []
    for path in sorted(source.rglob("*")):
        rel = path.relative_to(source)
        if path.is_file() and (legacy or rel.parts[0] != "legacy"):
            files.append(rel)
    return files


def copy_starter(source: Path, directory: Path, files: list[Path]) -> None:
    import shutil
    for rel in files:
        target = directory / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / rel, target)


def find_config(directory: Path) -> Path:
    """The appwrite.config.json that DIR belongs to: in DIR or, when DIR is inside the working
    directory, in a folder between them (as the CLI searches upwards); else a new one in DIR."""
    from .project import CONFIG_NAMES, find_config as find_existing
    return find_existing(directory, within=Path.cwd().resolve()) or directory / CONFIG_NAMES[0]


@main.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--runtime", required=True, help="Runtime id, e.g. node-18.0 or python-3.12.")
@click.option("--legacy", is_flag=True, help="The Appwrite 1.0-1.3 example (req, res) instead of the current one.")
@click.option("--function-id", default=None, help="Function id (default: a unique id, as the Appwrite CLI makes).")
@click.option("--name", default=None, help="Function name (default: the directory's name).")
@click.option("--project-id", default="default", show_default=True,
              help="projectId written to a new appwrite.config.json.")
@click.option("--event", "events", multiple=True, metavar="EVENT",
              help="An event the function is subscribed to, e.g. 'users.*.create' (repeatable).")
def init(directory, runtime, legacy, function_id, name, project_id, events):
    """Create a starter function in DIRECTORY and register it in appwrite.config.json.

    The files are Appwrite's starter for the runtime (/ping answers Pong, any other path a JSON
    greeting). The function is added to the appwrite.config.json found in DIRECTORY or a parent
    up to the working directory, or to a new one in DIRECTORY, so the Appwrite CLI
    (`appwrite push function`) and the emulator can deploy it. Existing files are never overwritten.
    Run again on a directory it already set up for the same runtime, it changes nothing (a missing
    starter file is copied again) and says so.
    """
    import json
    import os

    from .ids import ID_PATTERN, unique_id

    source, variant, ignore = starter_for(runtime, legacy)
    directory = directory.resolve()
    if directory.exists() and not directory.is_dir():
        raise click.ClickException(f"{directory} exists and is not a directory.")
    if function_id is not None and not ID_PATTERN.match(function_id):
        raise click.ClickException(f"Invalid function id {function_id!r}: at most 36 chars of a-z, A-Z, 0-9, "
                                   "period, hyphen and underscore, not starting with a special char.")
    name = name or directory.name
    if not 1 <= len(name) <= 128:
        raise click.ClickException("The function name must be 1 to 128 characters long.")

    config_path = find_config(directory)
    config = {"projectId": project_id, "functions": []}
    if config_path.is_file():
        try:
            config = json.loads(config_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise click.ClickException(f"Cannot read {config_path}: {exc}")
        if not isinstance(config, dict) or not isinstance(config.get("functions", []), list):
            raise click.ClickException(f"{config_path} is not an Appwrite CLI config (no functions list).")
    functions = config.setdefault("functions", [])
    rel_path = Path(os.path.relpath(directory, config_path.parent)).as_posix()
    files = starter_files(source, legacy)
    for existing in functions:
        if not isinstance(existing, dict):
            continue
        same_folder = Path(existing.get("path", "")).as_posix() == rel_path
        if same_folder and function_id in (None, existing.get("$id")) and existing.get("runtime") == runtime \
                and existing.get("entrypoint") == variant["entrypoint"]:
            # Set up by an earlier run (the README's tour run twice): reuse it.
            missing = [rel for rel in files if not (directory / rel).exists()]
            copy_starter(source, directory, missing)
            click.echo(f"Function {existing.get('name')!r} is already set up in {directory} "
                       f"(registered in {config_path}); nothing changed"
                       + (f" but the missing starter files {', '.join(r.as_posix() for r in missing)}." if missing else "."))
            click.echo(f"Function id: {existing.get('$id')}")
            return
        if function_id is not None and existing.get("$id") == function_id:
            raise click.ClickException(f"{config_path} already has a function with id {function_id!r} "
                                       f"(in {existing.get('path')!r}): choose another --function-id.")
        if same_folder:
            raise click.ClickException(f"{config_path} already has a function in {rel_path!r} ({existing.get('$id')}, "
                                       f"{existing.get('runtime')}): choose another directory, or remove that "
                                       "entry from the config first.")

    clashes = [str(directory / f) for f in files if (directory / f).exists()]
    if clashes:
        raise click.ClickException("Refusing to overwrite existing files:\n  " + "\n  ".join(clashes)
                                   + "\nChoose another directory, or move those files away.")
    copy_starter(source, directory, files)
    function_id = function_id or unique_id()

    functions.append({
        "$id": function_id,
        "name": name,
        "runtime": runtime,
        "execute": ["any"],
        "events": list(events),
        "scopes": ["users.read"],
        "schedule": "",
        "timeout": 15,
        "enabled": True,
        "logging": True,
        "entrypoint": variant["entrypoint"],
        "commands": variant["commands"],
        "ignore": ignore,
        "path": rel_path,
    })
    config_path.parent.mkdir(parents=True, exist_ok=True)
    config_path.write_text(json.dumps(config, indent=4, ensure_ascii=False) + "\n", encoding="utf-8")

    kind = "legacy (req, res)" if legacy else "starter"
    click.echo(f"Created {kind} function {name!r} ({function_id}, {runtime}) in {directory}")
    for rel in files:
        click.echo(f"  {rel.as_posix()}")
    click.echo(f"Registered in {config_path} (entrypoint {variant['entrypoint']}"
               + (f", build: {variant['commands']}" if variant["commands"] else "") + ")")
    click.echo(f"Function id: {function_id}")
