"""The built wheel is a working emulator on its own: built from a clean copy of the sources,
installed into a fresh venv, and run from a directory outside the checkout with nothing of the
checkout on the path. `init` copies a starter (starters/ ships in the wheel), `serve` builds and
runs it (the runtime adapters of runtimes/ ship too), an execution through HTTP answers.

Installing the wheel fetches its dependencies from PyPI (or pip's cache).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from served import ServeProcess
from support import JsonApi, require_toolchain, tar_members

from emulator.languages import LANGUAGES

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("emulator", "runtimes", "starters", "setup.py", "setup.cfg", "pyproject.toml", "MANIFEST.in", "README.md")
JUNK = ("__pycache__", "node_modules", ".jvm-build")
INSTALL_TIMEOUT = 600  # a cold pip cache on a busy 2-core machine
BUILD_TIMEOUT = 600  # kotlinc and g++ on a busy 2-core machine


def shipped_files(folder: Path) -> set[str]:
    """Files under `folder` a build must ship (what local runs leave behind excluded)."""
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*")
            if p.is_file() and not any(part in JUNK for part in p.parts) and p.suffix != ".pyc"}


def run(argv: list, cwd: Path, env: dict, timeout: float = INSTALL_TIMEOUT) -> subprocess.CompletedProcess:
    result = subprocess.run([str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{argv} exited {result.returncode}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(venv, clean environment, the copy of the sources built): the wheel of a clean copy of the
    sources, installed in a new venv."""
    base = tmp_path_factory.mktemp("package")
    source = base / "src"
    source.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns(*JUNK, "*.pyc"))
        else:
            shutil.copy2(ROOT / name, source / name)
    # Nothing of the checkout or of the test venv may leak into what runs below.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                  if not p.startswith(str(ROOT)))
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", base / "wheels", source], base, env)
    wheel = next((base / "wheels").glob("*.whl"))
    venv = base / "venv"
    run([sys.executable, "-m", "venv", venv], base, env)
    run([venv / "bin" / "python", "-m", "pip", "install", "-q", wheel], base, env)
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env['PATH']}"
    return venv, env, source


def test_wheel_ships_the_package_the_adapters_and_the_starters(installed):
    venv, env, source = installed
    where = run([venv / "bin" / "python", "-c", "import emulator, sys; print(emulator.__file__)"], venv, env)
    package = Path(where.stdout.strip()).parent
    assert package.is_relative_to(venv), package  # the installed copy, not the checkout
    assert shipped_files(source / "emulator") <= shipped_files(package)
    for name in ("runtimes", "starters"):
        missing = shipped_files(source / name) - shipped_files(package / "_bundled" / name)
        assert not missing, f"{name}/ files not in the wheel: {sorted(missing)[:20]}"
    # Where the installed emulator looks for them: the bundled copies.
    found = run([venv / "bin" / "python", "-c",
                 "from emulator._resources import RUNTIMES_DIR, STARTERS_DIR; print(RUNTIMES_DIR); print(STARTERS_DIR)"],
                venv, env).stdout.split()
    assert found == [str(package / "_bundled" / "runtimes"), str(package / "_bundled" / "starters")]
    # The helper scripts the docker images run keep their executable bit.
    helper = package / "_bundled" / "runtimes" / "_image" / "helpers" / "start.sh"
    assert os.access(helper, os.X_OK)


# Every language with a starter: its adapter, from the wheel, must start and answer.
STARTER_LANGUAGES = sorted(set(json.loads((ROOT / "starters" / "index.json").read_text())) & set(LANGUAGES))


@pytest.mark.parametrize("lang", STARTER_LANGUAGES)
def test_installed_console_script_inits_serves_and_runs_a_starter(installed, tmp_path, lang):
    language = LANGUAGES[lang]
    toolchain = language.toolchain()
    if not toolchain.available:
        require_toolchain(language.key, toolchain.hint)
    runtime = f"{lang}-{language.versions[-1]}"
    venv, env, _ = installed
    work = tmp_path / "work"  # outside the checkout
    work.mkdir()
    run(["appwrite-emulator", "init", "--runtime", runtime, "--function-id", "starter", "starter"], work, env, 60)
    config = json.loads((work / "starter" / "appwrite.config.json").read_text())
    function = config["functions"][0]

    with ServeProcess(["appwrite-emulator", "serve", "--port", "0", "--data-dir", "data"], work, env,
                      tmp_path / "serve.log") as served:
        api = JsonApi(served.endpoint, "default")
        folder = work / "starter"
        files = [("file", p.relative_to(folder).as_posix(), p.read_bytes()) for p in sorted(folder.rglob("*"))
                 if p.is_file() and p.name != "appwrite.config.json"]
        api.ok("POST", "/functions", {"functionId": "starter", "name": "starter", "runtime": runtime,
                                      "entrypoint": function["entrypoint"], "commands": function["commands"]})
        deployment = api.upload_ok("starter", tar_members(files))
        api.wait_ready("starter", deployment["$id"], timeout=BUILD_TIMEOUT)
        execution = api.ok("POST", "/functions/starter/executions", {"path": "/ping", "method": "GET"})
        assert (execution["status"], execution["responseBody"]) == ("completed", "Pong"), execution
        assert (work / "data" / "emulator.db").is_file()  # state where --data-dir says, relative to the cwd
