"""Starter functions (starters/) and `python -m emulator init`.

Every starter is created with `init`, deployed from the config `init` wrote through a real server with
the official Python SDK, and executed: the current starter answers `/ping` with `Pong` and any other
path with the JSON greeting; the legacy (req, res) example echoes its payload. A language whose
adapter or toolchain is missing skips with the reason.
"""
from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest
from appwrite.client import Client
from appwrite.input_file import InputFile
from appwrite.services.functions import Functions
from click.testing import CliRunner
from support import require_toolchain

from emulator.cli import main as cli
from emulator.languages import LANGUAGES
from emulator.languages.base import RUNTIMES_DIR

ROOT = Path(__file__).resolve().parent.parent
STARTERS = ROOT / "starters"
INDEX = json.loads((STARTERS / "index.json").read_text())
LANGS = ["node", "php", "python", "ruby", "dart", "deno", "swift", "dotnet", "kotlin", "java", "cpp"]
GREETING = {
    "motto": "Build like a team of hundreds_",
    "learn": "https://appwrite.io/docs",
    "connect": "https://appwrite.io/discord",
    "getInspired": "https://builtwith.appwrite.io",
}
BUILD_TIMEOUT = 600  # kotlinc and g++ on a 2-core machine


def runnable(lang: str):
    """The Language, or skip: no adapter yet, or no toolchain on this machine."""
    language = LANGUAGES.get(lang)
    if language is None or not (RUNTIMES_DIR / lang).is_dir():
        pytest.skip(f"no {lang} adapter yet (runtimes/{lang}/ or emulator/languages/{lang}.py missing)")
    toolchain = language.toolchain()
    if not toolchain.available:
        require_toolchain(lang, toolchain.hint)
    return language


def run_init(*args: str):
    return CliRunner().invoke(cli, ["init", *args], catch_exceptions=False)


def starter_files(lang: str, legacy: bool) -> dict[str, bytes]:
    source = STARTERS / lang / ("legacy" if legacy else "")
    return {p.relative_to(source).as_posix(): p.read_bytes() for p in source.rglob("*")
            if p.is_file() and (legacy or p.relative_to(source).parts[0] != "legacy")}


def tree(directory: Path) -> dict[str, bytes]:
    return {p.relative_to(directory).as_posix(): p.read_bytes() for p in directory.rglob("*") if p.is_file()}


# ---------------------------------------------------------------- starters as files


@pytest.mark.parametrize("lang", LANGS)
def test_every_language_has_both_starters(lang):
    entry = INDEX[lang]
    assert (STARTERS / lang / entry["context"]["entrypoint"]).is_file()
    assert (STARTERS / lang / "legacy" / entry["legacy"]["entrypoint"]).is_file()
    assert isinstance(entry["ignore"], list)


def test_dependency_files_need_no_network():
    """The starters build offline: nothing to download (the Appwrite SDK is left out, see starters/README.md)."""
    for folder in ("", "legacy"):
        node = json.loads((STARTERS / "node" / folder / "package.json").read_text())
        assert not node.get("dependencies") and not node.get("devDependencies")
        python = (STARTERS / "python" / folder / "requirements.txt").read_text().splitlines()
        assert [line for line in python if line.strip() and not line.startswith("#")] == []
        composer = json.loads((STARTERS / "php" / folder / "composer.json").read_text())
        assert list(composer["require"]) == ["php"]
        gemfile = (STARTERS / "ruby" / folder / "Gemfile").read_text().splitlines()
        assert not [line for line in gemfile if line.strip().startswith("gem ")]
        assert "dependencies: {}" in (STARTERS / "dart" / folder / "pubspec.yaml").read_text()
        assert "PackageReference Include" not in "".join(p.read_text() for p in (STARTERS / "dotnet" / folder).glob("*.csproj"))
        assert "dependencies: []" in (STARTERS / "swift" / folder / "Package.swift").read_text()


# ---------------------------------------------------------------- init


def test_init_copies_the_starter_and_writes_the_config(tmp_path):
    target = tmp_path / "hello"
    result = run_init("--runtime", "node-18.0", str(target), "--function-id", "hello", "--name", "Hello")
    assert result.exit_code == 0, result.output
    assert tree(target) == {**starter_files("node", False), "appwrite.config.json": tree(target)["appwrite.config.json"]}
    config = json.loads((target / "appwrite.config.json").read_text())
    assert config == {"projectId": "default", "functions": [{
        "$id": "hello", "name": "Hello", "runtime": "node-18.0", "execute": ["any"], "events": [],
        "scopes": ["users.read"], "schedule": "", "timeout": 15, "enabled": True, "logging": True,
        "entrypoint": "src/main.js", "commands": "npm install", "ignore": ["node_modules", ".npm"], "path": ".",
    }]}


def test_init_legacy_and_defaults(tmp_path):
    target = tmp_path / "old-one"
    result = run_init("--runtime", "python-3.9", "--legacy", str(target))
    assert result.exit_code == 0, result.output
    files = tree(target)
    files.pop("appwrite.config.json")
    assert files == starter_files("python", True)
    fn = json.loads((target / "appwrite.config.json").read_text())["functions"][0]
    assert fn["name"] == "old-one" and len(fn["$id"]) == 20 and fn["entrypoint"] == "src/index.py"
    assert fn["commands"] == "pip install -r requirements.txt" and fn["runtime"] == "python-3.9"


def test_init_python_ml_uses_the_python_starter(tmp_path):
    result = run_init("--runtime", "python-ml-3.11", str(tmp_path / "ml"), "--function-id", "ml")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "ml" / "src" / "main.py").read_bytes() == (STARTERS / "python" / "src" / "main.py").read_bytes()


def test_init_adds_to_an_existing_config(tmp_path, monkeypatch):
    project = tmp_path / "project"
    project.mkdir()
    (project / "appwrite.config.json").write_text(json.dumps(
        {"projectId": "mine", "projectName": "Mine", "functions": [{"$id": "first", "path": "functions/first"}]}))
    monkeypatch.chdir(project)
    result = run_init("--runtime", "ruby-3.3", "functions/second", "--function-id", "second")
    assert result.exit_code == 0, result.output
    config = json.loads((project / "appwrite.config.json").read_text())
    assert config["projectId"] == "mine" and config["projectName"] == "Mine"
    assert [f["$id"] for f in config["functions"]] == ["first", "second"]
    second = config["functions"][1]
    assert second["path"] == "functions/second" and second["entrypoint"] == "lib/main.rb"
    assert second["commands"] == "bundle install"
    assert (project / "functions" / "second" / "lib" / "main.rb").is_file()
    assert not (project / "functions" / "second" / "appwrite.config.json").exists()

    again = run_init("--runtime", "node-18.0", "functions/third", "--function-id", "second")
    assert again.exit_code == 1 and "already has a function with id 'second'" in again.output
    assert not (project / "functions" / "third").exists()


def test_init_refuses_to_overwrite(tmp_path):
    target = tmp_path / "taken"
    (target / "src").mkdir(parents=True)
    (target / "src" / "main.js").write_text("// mine\n")
    result = run_init("--runtime", "node-20.0", str(target), "--function-id", "taken")
    assert result.exit_code == 1
    assert "Refusing to overwrite existing files" in result.output and "main.js" in result.output
    assert (target / "src" / "main.js").read_text() == "// mine\n"
    assert sorted(tree(target)) == ["src/main.js"]  # nothing copied, no config written

    fresh = tmp_path / "fresh"
    assert run_init("--runtime", "node-20.0", str(fresh), "--function-id", "a").exit_code == 0
    before = tree(fresh)
    second = run_init("--runtime", "node-20.0", str(fresh), "--function-id", "b")
    assert second.exit_code == 1 and "already has a function in '.'" in second.output
    assert tree(fresh) == before


def test_init_unknown_runtime_lists_the_known_ones(tmp_path):
    for runtime in ("cobol-1.0", "node-1.0"):
        proc = subprocess.run([sys.executable, "-m", "emulator", "init", "--runtime", runtime, str(tmp_path / "x")],
                              cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 1
        assert f"Unknown runtime '{runtime}'" in proc.stderr
        assert "node-18.0" in proc.stderr and "python-3.12" in proc.stderr
    assert not (tmp_path / "x").exists()


def test_init_rejects_bad_function_ids(tmp_path):
    result = run_init("--runtime", "node-18.0", str(tmp_path / "f"), "--function-id", "_bad id")
    assert result.exit_code == 1 and "Invalid function id" in result.output
    assert not (tmp_path / "f").exists()


# ---------------------------------------------------------------- deployed through the emulator


@pytest.fixture(scope="module")
def fx(server):
    return Functions(Client().set_endpoint(server.endpoint).set_project("starters").set_key("any-key"))


def deploy_with_init(fx: Functions, tmp_path: Path, runtime: str, function_id: str, legacy: bool):
    """`init` a function, then create and deploy it from the config entry it wrote, like `appwrite push`."""
    target = tmp_path / function_id
    args = ["--runtime", runtime, str(target), "--function-id", function_id] + (["--legacy"] if legacy else [])
    result = run_init(*args)
    assert result.exit_code == 0, result.output
    fn = json.loads((target / "appwrite.config.json").read_text())["functions"][0]
    fx.create(fn["$id"], fn["name"], fn["runtime"], execute=fn["execute"], events=fn["events"],
              schedule=fn["schedule"], timeout=fn["timeout"], enabled=fn["enabled"], logging=fn["logging"],
              entrypoint=fn["entrypoint"], commands=fn["commands"], scopes=fn["scopes"])
    code = target / fn["path"]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name in sorted(tree(code)):
            if name != "appwrite.config.json" and name.split("/")[0] not in fn["ignore"]:
                tar.add(code / name, arcname=name)
    dep = fx.create_deployment(fn["$id"], InputFile.from_bytes(buf.getvalue(), "code.tar.gz"), activate=True,
                               entrypoint=fn["entrypoint"], commands=fn["commands"])
    deadline = time.monotonic() + BUILD_TIMEOUT
    while time.monotonic() < deadline:
        dep = fx.get_deployment(fn["$id"], dep.id)
        if dep.status.value in ("ready", "failed", "canceled"):
            break
        time.sleep(0.25)
    assert dep.status.value == "ready", dep.buildlogs


@pytest.mark.parametrize("lang", LANGS)
def test_starter_answers_ping_and_json(lang, fx, tmp_path):
    language = runnable(lang)
    function_id = f"starter-{lang}"
    deploy_with_init(fx, tmp_path, f"{lang}-{language.versions[-1]}", function_id, legacy=False)

    ping = fx.create_execution(function_id, path="/ping", method="GET")
    assert (ping.status.value, ping.responsestatuscode, ping.responsebody) == ("completed", 200, "Pong"), ping.errors
    assert "Starter function called on /ping" in ping.logs

    home = fx.create_execution(function_id, path="/", method="GET")
    assert home.status.value == "completed" and home.responsestatuscode == 200, home.errors
    assert json.loads(home.responsebody) == GREETING
    content_type = {h.name: h.value for h in home.responseheaders}.get("content-type", "")
    assert content_type.startswith("application/json")
    assert "Starter function called on /" in home.logs
    assert "Example error entry (from context.error)" in home.errors


@pytest.mark.parametrize("lang", LANGS)
def test_legacy_example_echoes_payload_and_variables(lang, fx, tmp_path):
    language = runnable(lang)
    function_id = f"legacy-{lang}"
    deploy_with_init(fx, tmp_path, f"{lang}-{language.versions[0]}", function_id, legacy=True)

    echo = fx.create_execution(function_id, body="hello")
    assert echo.status.value == "completed" and echo.responsestatuscode == 200, echo.errors
    assert json.loads(echo.responsebody) == {"areDevelopersAwesome": True, "payload": "hello", "functionId": function_id}
    assert "Payload: hello" in echo.logs

    ping = fx.create_execution(function_id, body="ping")
    assert (ping.status.value, ping.responsebody) == ("completed", "pong"), ping.errors
