"""What `dev` does before its first reply: the toolchain probes, the first Python build, the imports.

Each test runs a real `python -m emulator dev` (or a real interpreter) and checks the effect:
which processes ran, what the build left on disk, which modules a command loaded.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .devproc import ROOT, DevProcess, edit, write, write_config, write_function

pytestmark = pytest.mark.timeout(300)
RUNTIME = f"python-{sys.version_info[0]}.{sys.version_info[1]}"  # the version of the interpreter below


def test_cli_import_loads_no_server_modules():
    """`exec` and `trigger` need none of the server, and `dev` starts its toolchain probes before
    importing it: importing the command line must not pull in aiohttp, the API or the schemas."""
    heavy = ("aiohttp", "jsonschema", "emulator.server", "emulator.app", "emulator.api", "emulator.services.state")
    code = f"import sys, emulator.cli; print(','.join(m for m in {heavy!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"imported by `import emulator.cli`: {out.stdout.strip()}"


@pytest.fixture
def logged_python(tmp_path) -> tuple[Path, Path]:
    """A `python3` first on PATH that logs each of its command lines, then runs this interpreter's
    base Python (the version RUNTIME names). Returns (its folder, its log)."""
    folder, log = tmp_path / "bin", tmp_path / "python3-calls.log"
    real = getattr(sys, "_base_executable", sys.executable)
    write(folder / "python3", f'#!/bin/sh\nprintf "%s\\n" "$*" >> "{log}"\nexec "{real}" "$@"\n')
    (folder / "python3").chmod(0o755)
    return folder, log


@pytest.mark.parametrize("mapped", [False, True], ids=["own-interpreter", "mapped-python3"])
def test_first_python_build_probes_once_and_copies_no_pip_for_empty_requirements(tmp_path, logged_python, mapped):
    """A runtime of the emulator's own Python version runs on the emulator's base interpreter,
    known without running `python3` (often a version manager's shim); one mapped to a `python3`
    runs that once."""
    folder, log = logged_python
    root = tmp_path / "project"
    config = write_function(root, "hello", "python", "ok", runtime=RUNTIME)  # requirements.txt: empty
    write_config(root, "startup", [config])
    env = {"PATH": f"{folder}{os.pathsep}{os.environ['PATH']}"}
    args = ("--toolchain", f"{RUNTIME}={folder / 'python3'}") if mapped else ()
    dev = DevProcess(root, tmp_path / "data", *args, env=env).start(timeout=120)
    try:
        doc = dev.execute("hello", "startup")
        assert doc["status"] == "completed" and doc["responseBody"] == "ok", doc
        deployment = dev.call("GET", "/functions/hello", "startup")["deploymentId"]
    finally:
        dev.stop()
    calls = log.read_text().splitlines() if log.exists() else []
    # Each probe is a process start (~0.1-0.3 s through a version manager's shim): the venv's base
    # interpreter is asked once, and that answer's version serves the version match and the
    # toolchain check, so no `--version` runs; unmapped, `python3` is not asked at all.
    assert calls.count("--version") == 0, calls
    assert len([c for c in calls if c.startswith("-c ")]) == (1 if mapped else 0), calls
    build = tmp_path / "data/projects/startup/functions/hello/deployments" / deployment / "build"
    home = next(line.split("=", 1)[1].strip() for line in (build / "runtime-env/pyvenv.cfg").read_text().splitlines()
                if line.startswith("home"))
    own = Path(getattr(sys, "_base_executable", sys.executable)).resolve()
    assert Path(home).resolve() == own.parent, "the venv is not made from the emulator's own interpreter"
    site = next((build / "runtime-env/lib").glob("python3*/site-packages"))
    assert not (site / "pip").exists(), "pip was copied into the venv of a function that declares no dependencies"
    # The venv's pip wrapper still brings pip in on first use (a build command that runs `pip`).
    out = subprocess.run([str(build / "runtime-env/bin/pip"), "--version"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and str(site) in out.stdout, out.stdout + out.stderr


def test_a_build_command_finds_pip_in_the_venv_even_with_empty_requirements(tmp_path):
    """The other side of the empty-requirements case: when a build command runs and the function
    has a dependency file, pip is in the venv before it runs, also for `python -m pip`, which the
    venv's `pip` wrapper never sees."""
    from emulator.hostbuild import build_on_host
    from emulator.languages import language_for_runtime

    build = tmp_path / "build"
    write(build / "requirements.txt", "")
    write(build / "main.py", "def main(context):\n    return context.res.text('ok')\n")
    output: list[str] = []
    build_on_host(language_for_runtime(RUNTIME), build, "main.py", "python -m pip --version", {}, output.append)
    site = next((build / "runtime-env/lib").glob("python3*/site-packages"))
    assert f"from {site}/pip" in "".join(output), "".join(output)


def _ahead_pids(data_dir: Path) -> set[int]:
    """Live processes of instances started ahead (LocalExecutor.start_ahead) in a data dir."""
    pids = set()
    for pid_file in (data_dir / "run").glob("*-ahead-*/pid"):
        try:
            pid = int(pid_file.read_text())
            if b"/dev/python_spare.py" in (cmd := Path(f"/proc/{pid}/cmdline").read_bytes()) \
                    or b"/dev/node_spare.cjs" in cmd:
                pids.add(pid)
        except (OSError, ValueError):
            pass
    return pids


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[-1][0] not in "ZX"
    except OSError:
        return False


# A function that notes each load of its code in a file and answers its tag and process id.
NOTING = {
    "python": ("main.py", "import os\nopen({marker!r}, 'a').write('{tag}\\n')\n\n"
                          "def main(context):\n    return context.res.text(f'{tag} {{os.getpid()}}')\n"),
    "node": ("index.js", "require('fs').appendFileSync({marker!r}, '{tag}\\n');\n"
                         "module.exports = async (context) => context.res.text(`{tag} ${{process.pid}}`);\n"),
}


@pytest.mark.parametrize("lang", ["python", "node"])
def test_hot_swap_releases_the_instance_started_ahead_which_stops_with_dev(tmp_path, lang):
    """After a deployment, dev stages the next hot swap and starts its instance ahead (the runtime
    and the adapter's modules loaded, no function code); the next edit's instance is that process,
    released onto the new code; when dev stops, the one started for the swap after it is gone too."""
    from support import wait_for

    root, data = tmp_path / "project", tmp_path / "data"
    marker = tmp_path / "loads.log"
    entry, source = NOTING[lang]
    config = write_function(root, "spare", lang, "unused")
    write(root / "functions/spare" / entry, source.format(marker=str(marker), tag="v1"))
    write_config(root, "ahead", [config])
    dev = DevProcess(root, data).start(timeout=120)
    try:
        assert dev.execute("spare", "ahead")["responseBody"].startswith("v1 ")
        first = wait_for(lambda: _ahead_pids(data), timeout=60, message="no instance started ahead")
        assert marker.read_text().splitlines() == ["v1"], "the instance started ahead loaded the function"
        mark = dev.mark()
        edit(root / "functions/spare" / entry, source.format(marker=str(marker), tag="v2"))
        dev.wait_for(r"spare\s+deployed", since=mark, timeout=60)
        tag, pid = dev.execute("spare", "ahead")["responseBody"].split()
        assert tag == "v2" and int(pid) in first, f"the swap started process {pid} instead of releasing {first}"
        assert marker.read_text().splitlines() == ["v1", "v2"]
        second = wait_for(lambda: _ahead_pids(data) - first, timeout=60, message="none started for the next swap")
    finally:
        dev.stop()
    assert not [pid for pid in first | second if _alive(pid)], "a process outlived dev"


def _children_running(parent: int, needle: bytes) -> set[int]:
    """Live child processes of `parent` whose command line holds `needle`."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(") ", 1)[1].split()
            if int(fields[1]) == parent and fields[0] not in "ZX" and needle in (stat.parent / "cmdline").read_bytes():
                found.add(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            pass
    return found


def test_node_parser_started_with_the_first_build_stops_with_dev(tmp_path):
    """The resident JavaScript parser is started while a Node function's first build runs (so it
    is ready for that deployment's syntax check) and ends with dev."""
    import shutil

    from support import require_toolchain

    if shutil.which("node") is None or shutil.which("npm") is None:
        require_toolchain("node", "node and npm not found. Install: apt-get install -y nodejs npm")
    root, data = tmp_path / "project", tmp_path / "data"
    write_config(root, "parser", [write_function(root, "js", "node", "ok")])
    dev = DevProcess(root, data).start(timeout=120)
    try:
        assert dev.execute("js", "parser")["responseBody"] == "ok"
        parsers = _children_running(dev.proc.pid, b"node_parser.cjs")
        assert len(parsers) == 1, parsers
    finally:
        dev.stop()
    assert not [pid for pid in parsers if _alive(pid)], "the node parser outlived dev"


def test_instance_started_ahead_stops_when_a_full_build_replaces_the_staged_swap(tmp_path):
    """A change that needs a full build (here the build command, in the config) drops the staged
    hot swap, and the instance started ahead on it with it."""
    from support import wait_for

    root, data = tmp_path / "project", tmp_path / "data"
    config = write_function(root, "rebuilt", "python", "v1")
    write_config(root, "ahead", [config])
    dev = DevProcess(root, data).start(timeout=120)
    try:
        first = wait_for(lambda: _ahead_pids(data), timeout=60, message="no instance started ahead")
        mark = dev.mark()
        write_config(root, "ahead", [{**config, "commands": "true"}])
        dev.wait_for(r"rebuilt\s+deployed \S+ \(full build", since=mark, timeout=120)
        # Stopped with the swap, before the build; not merely replaced by the next one, which is
        # started only after the new deployment went live.
        assert not [pid for pid in first if _alive(pid)], f"{first} outlived the staged swap it was started on"
        assert dev.execute("rebuilt", "ahead")["responseBody"] == "v1"
    finally:
        dev.stop()


def _early_pids(data_dir: Path) -> set[int]:
    """Live processes `dev` started for the data dir before its server (executors/early.py): their
    owner marker, set when they started and kept in /proc/PID/environ, names an early unit."""
    from emulator.processes import OWNER_ENV, ProcessOwner

    scope = ProcessOwner(data_dir).scope
    pids = set()
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            env = environ.read_bytes().split(b"\0")
        except OSError:
            continue
        for item in env:
            if item.startswith(f"{OWNER_ENV}={scope}:".encode()) and b":instance:early-" in item:
                pid = int(environ.parent.name)
                if _alive(pid):
                    pids.add(pid)
    return pids


# A function answering what it runs with: its pid, a variable, its folder, the interpreter's view.
SEEING = {
    "python": ("main.py", "import os, sys\n\n"
                          "def main(context):\n"
                          "    import json\n"
                          "    return context.res.json({'pid': os.getpid(), 'var': os.environ.get('GREETING'),\n"
                          "        'cwd': os.getcwd(), 'secret': bool(os.environ.get('OPEN_RUNTIMES_SECRET')),\n"
                          "        'prefix': sys.prefix, 'executable': sys.executable, 'path': sys.path,\n"
                          "        'exit': callable(globals()['__builtins__']['exit']\n"
                          "                         if isinstance(__builtins__, dict) else getattr(__builtins__, 'exit'))})\n"),
    "node": ("index.js", "module.exports = async (context) => context.res.json({pid: process.pid,\n"
                         "  var: process.env.GREETING, cwd: process.cwd(),\n"
                         "  secret: Boolean(process.env.OPEN_RUNTIMES_SECRET)});\n"),
}


@pytest.mark.parametrize("lang", ["python", "node"])
def test_first_instance_is_the_one_started_early_with_the_deployments_environment(tmp_path, lang):
    """dev starts each function's first instance beside its own imports, before the function has a
    build; the first deployment releases that process with the environment, folder (and, for
    Python, the venv) it would have been started with. Nothing of it is left after dev."""
    root, data = tmp_path / "project", tmp_path / "data"
    entry, source = SEEING[lang]
    config = write_function(root, "early", lang, "unused", vars={"GREETING": "hello"})
    write(root / "functions/early" / entry, source)
    write_config(root, "early", [config])
    dev = DevProcess(root, data).start(timeout=120)
    try:
        early = _early_pids(data)
        seen = json.loads(dev.execute("early", "early")["responseBody"])
        deployment = dev.call("GET", "/functions/early", "early")["deploymentId"]
    finally:
        dev.stop()
    assert seen["pid"] in early, f"the first instance {seen['pid']} is not one started early ({early})"
    build = data / "projects/early/functions/early/deployments" / deployment / "build"
    assert (seen["var"], seen["secret"]) == ("hello", True)
    assert Path(seen["cwd"]).resolve() == build.resolve()
    if lang == "python":
        venv = build / "runtime-env"
        assert Path(seen["prefix"]) == venv and Path(seen["executable"]) == venv / "bin/python", seen
        packages = [p for p in seen["path"] if p.endswith("site-packages")]
        assert packages and all(Path(p).is_relative_to(venv) for p in packages), packages  # none of the host's
        assert seen["exit"], "site's builtins (exit, quit, help) are missing"
    assert not [pid for pid in early if _alive(pid)], "a process started early outlived dev"


def test_instances_started_early_that_no_deployment_takes_are_stopped(tmp_path):
    """A first build that fails takes no instance: the one started for it is stopped once the
    first deployments are done, and one killed dev leaves none behind (its stdin closes)."""
    from support import wait_for

    from emulator.processes import ProcessOwner

    root, data = tmp_path / "project", tmp_path / "data"
    write_config(root, "unused", [write_function(root, "broken", "python", "x", commands="exit 3")])
    dev = DevProcess(root, data).start(timeout=120)
    try:
        assert "failed" in dev.output()
        wait_for(lambda: not _early_pids(data), timeout=30, message="an unused early instance still runs")
    finally:
        dev.stop()

    # Killed before the first deployment is done (its build waits): the spare notices and ends.
    write_config(root, "unused", [write_function(root, "slow", "python", "x", commands="sleep 60")])
    dev = DevProcess(root, data).start(timeout=120, until=None)
    try:
        spares = wait_for(lambda: _early_pids(data), timeout=60, message="no instance started early")
    finally:
        dev.proc.kill()
        dev.proc.wait()
    try:
        wait_for(lambda: not [pid for pid in spares if _alive(pid)], timeout=30,
                 message="an instance started early outlived the dev that was killed")
    finally:
        ProcessOwner(data).end_leftovers()  # the build's `sleep`, as the next server there would


def _first_answer(root: Path, data: Path, config: dict, main_py: str) -> tuple[dict, list[bytes]]:
    """`dev` on a project of the one Python function `config` with `main_py` as its code (which
    answers JSON with its `pid`): that JSON, and the environment the answering process was started
    with (/proc/PID/environ: a spare started early keeps the one it was started with)."""
    function_id = config["$id"]
    write(root / f"functions/{function_id}/main.py", main_py)
    write_config(root, function_id, [config])
    dev = DevProcess(root, data).start(timeout=120)
    try:
        seen = json.loads(dev.execute(function_id, function_id)["responseBody"])
        return seen, Path(f"/proc/{seen['pid']}/environ").read_bytes().split(b"\0")
    finally:
        dev.stop()


def _started_early(environ: list[bytes]) -> bool:
    from emulator.processes import OWNER_ENV
    return any(item.startswith(f"{OWNER_ENV}=".encode()) and b":instance:early-" in item for item in environ)


def test_a_variable_read_at_interpreter_start_gets_an_instance_started_with_it(tmp_path):
    """PYTHONHASHSEED takes effect only when the interpreter starts: a function that sets it is
    not given the spare started early without it, but an instance started with it."""
    root, data = tmp_path / "project", tmp_path / "data"
    config = write_function(root, "seeded", "python", "unused", vars={"PYTHONHASHSEED": "0"})
    seen, environ = _first_answer(root, data, config, "import os, sys\n\ndef main(context):\n"
                                  "    return context.res.json({'pid': os.getpid(), 'randomized': sys.flags.hash_randomization})\n")
    assert seen["randomized"] == 0, "PYTHONHASHSEED=0 did not reach the interpreter's start"
    assert b"PYTHONHASHSEED=0" in environ and not _started_early(environ)


def test_an_early_python_instance_sees_what_the_build_put_in_its_venv(tmp_path):
    """What a build installs into the function's venv (here a .pth file naming a folder, as an
    installed package's would) is there for the first instance, started before the build: its
    release runs `site` for the venv, .pth files included."""
    root, data = tmp_path / "project", tmp_path / "data"
    write(tmp_path / "extra" / "helper.py", "WHERE = 'from the venv'\n")
    command = ("python -c \"import site; open(site.getsitepackages()[0] + '/extra.pth', 'w')"
               f".write('{tmp_path / 'extra'}')\"")
    config = write_function(root, "built", "python", "unused", commands=command)
    seen, environ = _first_answer(root, data, config, "import os\nimport helper\n\ndef main(context):\n"
                                  "    return context.res.json({'pid': os.getpid(), 'where': helper.WHERE})\n")
    assert seen == {"pid": seen["pid"], "where": "from the venv"}
    assert _started_early(environ), "the first instance is not the one started early"
