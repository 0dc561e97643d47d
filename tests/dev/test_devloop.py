"""`python -m emulator dev`, `exec` and `trigger`, end to end on real processes and toolchains.

One dev session serves a project with one function per scenario (each test edits only its own
function), so the slow part, starting and building everything, is paid once.
"""
from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import pytest

from emulator.languages import LANGUAGES
from emulator.project import IgnoreRules, load_project
from emulator.services.events import event_matches
from support import require_toolchain

from .devproc import NODE_MAIN, PY_MAIN, ROOT, DevProcess, edit, make_wheel, write, write_config, write_function

PROJECT = "devtest"
pytestmark = pytest.mark.timeout(300)

PY_DEPS = """def main(context):
    try:
        import mydep
    except ImportError:
        return context.res.text('{tag} no dep')
    return context.res.text('{tag} dep ' + mydep.VALUE)
"""
NODE_DEPS = """module.exports = async (context) => {{
  let dep;
  try {{ dep = require('mydep'); }} catch (e) {{ return context.res.text('{tag} no dep'); }}
  return context.res.text('{tag} dep ' + dep.VALUE);
}};
"""
ECHO = """def main(context):
    req = context.req
    line = (f"{req.method} {req.path} event={req.headers.get('x-appwrite-event', '')} "
            f"trigger={req.headers.get('x-appwrite-trigger', '')} a={req.headers.get('x-a', '')} body={req.body_text}")
    context.log(line)
    return context.res.text(line)
"""
JAVA = """package io.openruntimes.java.src;

import io.openruntimes.java.RuntimeContext;
import io.openruntimes.java.RuntimeOutput;

public class Main {
    public RuntimeOutput main(RuntimeContext context) throws Exception {
        return context.getRes().text("%s");
    }
}
"""
CPP = """#include "../RuntimeResponse.h"
#include "../RuntimeRequest.h"
#include "../RuntimeOutput.h"
#include "../RuntimeContext.h"

namespace runtime {
class Handler {
 public:
  static RuntimeOutput main(RuntimeContext &context) { return context.res.text("%s"); }
};
}  // namespace runtime
"""
# Compiled languages the test knows a minimal function for, fastest build first.
COMPILED = {"java": ("java-17.0", "src/Main.java", JAVA, "} broken"), "cpp": ("cpp-17", "src/main.cc", CPP, "} broken")}


def compiled_language():
    for key, spec in COMPILED.items():
        lang = LANGUAGES.get(key)
        if lang is not None and lang.compiled and lang.toolchain().available:
            return key, spec
    return None


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("devproject")
    functions = [write_function(root, f"{lang}-edit", lang, "v1") for lang in ("python", "node")]
    functions += [write_function(root, f"{lang}-syntax", lang, "v1") for lang in ("python", "node")]
    functions.append(write_function(root, "python-deps", "python", "d1"))
    write(root / "functions/python-deps/main.py", PY_DEPS.format(tag="d1"))
    make_wheel(root / "functions/python-deps/wheels", "mydep", "0.1", "VALUE = '42'\n")
    functions.append(write_function(root, "node-deps", "node", "d1"))
    write(root / "functions/node-deps/index.js", NODE_DEPS.format(tag="d1"))
    write(root / "functions/node-deps/mydep/package.json", json.dumps({"name": "mydep", "version": "1.0.0"}))
    write(root / "functions/node-deps/mydep/index.js", "module.exports = { VALUE: '42' };\n")
    # Every full build of this one takes 2 s: time to edit during it.
    functions.append(write_function(root, "python-queue", "python", "q1", commands="sleep 2"))
    functions.append(write_function(root, "echo", "python", "e", events=["databases.*.collections.*.documents.*.create"]))
    write(root / "functions/echo/main.py", ECHO)
    functions.append(write_function(root, "cron", "python", "tick", schedule="* * * * *"))
    compiled = compiled_language()
    if compiled:
        key, (runtime, entry, template, _) = compiled
        write(root / "functions/compiled" / entry, template % "c1")
        functions.append({"$id": "compiled", "name": "compiled", "runtime": runtime, "path": "functions/compiled",
                          "entrypoint": entry, "commands": "", "timeout": 15})
    write_config(root, PROJECT, functions)
    return root


@pytest.fixture(scope="module")
def dev(project, tmp_path_factory):
    proc = DevProcess(project, tmp_path_factory.mktemp("devdata") / "data")
    try:
        proc.start(timeout=240)
        yield proc
    finally:
        proc.stop()


def body(dev: DevProcess, fid: str) -> str:
    doc = dev.execute(fid, PROJECT)
    assert doc["status"] == "completed", doc
    return doc["responseBody"]


@pytest.mark.parametrize("lang", ["python", "node"])
def test_edit_reaches_next_execution_by_hot_swap(dev, project, lang):
    fid = f"{lang}-edit"
    entry, template = {"python": ("main.py", PY_MAIN), "node": ("index.js", NODE_MAIN)}[lang]
    assert body(dev, fid) == "v1"
    mark = dev.mark()
    edit(project / "functions" / fid / entry, template.format(tag="v2"))
    match, _ = dev.wait_for(rf"{fid}\s+deployed (\S+) \(hot swap: {entry}\) in \d+ ms", since=mark)
    assert body(dev, fid) == "v2"
    deployment = dev.call("GET", f"/functions/{fid}/deployments/{match.group(1)}", PROJECT)
    assert "dependencies reused, not reinstalled" in deployment["buildLogs"]
    assert "npm install" not in deployment["buildLogs"] and "pip install" not in deployment["buildLogs"]


@pytest.mark.parametrize("lang, broken, error", [
    ("python", "def main(context)\n    return context.res.text('x')\n", "SyntaxError"),
    ("node", "module.exports = async (context) => {\n  return context.res.text('x');\n", "SyntaxError"),
])
def test_syntax_error_keeps_old_deployment_and_reports(dev, project, lang, broken, error):
    fid = f"{lang}-syntax"
    entry, template = {"python": ("main.py", PY_MAIN), "node": ("index.js", NODE_MAIN)}[lang]
    assert body(dev, fid) == "v1"
    mark = dev.mark()
    edit(project / "functions" / fid / entry, broken)
    _, after = dev.wait_for(rf"{fid}\s+failed \(hot swap: {entry}\) after \d+ ms: syntax error; still serving", since=mark)
    dev.wait_for(rf"\| .*{error}", since=after, timeout=5)
    assert entry in dev.output(after), dev.output(after)  # the failing file and line are named
    assert body(dev, fid) == "v1"
    mark = dev.mark()
    edit(project / "functions" / fid / entry, template.format(tag="v2"))
    dev.wait_for(rf"{fid}\s+deployed \S+ \(hot swap: {entry}\)", since=mark)
    assert body(dev, fid) == "v2"


def test_requirements_change_rebuilds_fully_then_hot_swaps_keep_it(dev, project):
    folder = project / "functions/python-deps"
    assert body(dev, "python-deps") == "d1 no dep"
    mark = dev.mark()
    edit(folder / "requirements.txt", "./wheels/mydep-0.1-py3-none-any.whl\n")
    dev.wait_for(r"python-deps\s+building \(requirements.txt changed\)", since=mark)
    match, _ = dev.wait_for(r"python-deps\s+deployed (\S+) \(full build: requirements.txt\)", since=mark, timeout=120)
    assert body(dev, "python-deps") == "d1 dep 42"
    logs = dev.call("GET", f"/functions/python-deps/deployments/{match.group(1)}", PROJECT)["buildLogs"]
    assert "pip install -r requirements.txt" in logs and "mydep" in logs, logs
    # A source edit afterwards hot-swaps onto the build that has the dependency.
    mark = dev.mark()
    edit(folder / "main.py", PY_DEPS.format(tag="d2"))
    dev.wait_for(r"python-deps\s+deployed \S+ \(hot swap: main.py\)", since=mark)
    assert body(dev, "python-deps") == "d2 dep 42"


def test_package_json_change_rebuilds_fully(dev, project):
    folder = project / "functions/node-deps"
    assert body(dev, "node-deps") == "d1 no dep"
    mark = dev.mark()
    edit(folder / "package.json", json.dumps({"name": "node-deps", "version": "1.0.0", "private": True,
                                              "dependencies": {"mydep": "file:./mydep"}}))
    dev.wait_for(r"node-deps\s+building \(package.json changed\)", since=mark)
    dev.wait_for(r"node-deps\s+deployed \S+ \(full build: package.json\)", since=mark, timeout=120)
    assert body(dev, "node-deps") == "d1 dep 42"


def test_edit_during_a_build_is_not_lost(dev, project):
    folder = project / "functions/python-queue"
    mark = dev.mark()
    edit(folder / "requirements.txt", "# full build, 2 s\n")
    _, building = dev.wait_for(r"python-queue\s+building \(requirements.txt changed\)", since=mark)
    edit(folder / "main.py", PY_MAIN.format(tag="q3"))  # lands while the build runs
    _, built = dev.wait_for(r"python-queue\s+deployed \S+ \(full build: requirements.txt\)", since=building, timeout=60)
    dev.wait_for(r"python-queue\s+deployed \S+ \(hot swap: main.py\)", since=built)
    assert body(dev, "python-queue") == "q3"


def test_compiled_runtime_rebuilds_and_keeps_old_on_compile_error(dev, project):
    compiled = compiled_language()
    if compiled is None:
        require_toolchain("java", "no compiled language with a toolchain here: apt-get install -y default-jdk-headless "
                    "(java) or g++ libjsoncpp-dev (cpp)")
    key, (runtime, entry, template, broken) = compiled
    source = project / "functions/compiled" / entry
    assert body(dev, "compiled") == "c1"
    mark = dev.mark()
    edit(source, template % "c2")
    dev.wait_for(r"compiled\s+building \(compiled runtime\)", since=mark)
    dev.wait_for(rf"compiled\s+deployed \S+ \(full build: {entry}\)", since=mark, timeout=180)
    assert body(dev, "compiled") == "c2"
    mark = dev.mark()
    edit(source, template % "c3" + broken)
    _, after = dev.wait_for(rf"compiled\s+failed \(full build: {entry}\) after .*: build error; still serving", since=mark, timeout=180)
    dev.wait_for(rf"\| {entry}:\d+: .*error", since=after, timeout=5) if key == "java" else \
        dev.wait_for(r"\| .*error", since=after, timeout=5)
    assert body(dev, "compiled") == "c2"


def test_exec_command(dev):
    out = subprocess.run(
        [sys.executable, "-m", "emulator", "exec", "echo", "--endpoint", dev.endpoint, "--project", PROJECT,
         "--method", "PUT", "--path", "/items?x=1", "--body", "hello", "--header", "x-a: b"],
        cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "completed 200" in out.stdout and "trigger=http" in out.stdout
    assert "PUT /items event= trigger=http a=b body=hello" in out.stdout  # response and logs
    missing = subprocess.run(
        [sys.executable, "-m", "emulator", "exec", "nope", "--endpoint", dev.endpoint, "--project", PROJECT],
        cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert missing.returncode != 0 and "404" in missing.stderr


def test_trigger_command_delivers_to_matching_functions(dev):
    event = "databases.db1.collections.c1.documents.d1.create"
    mark = dev.mark()
    out = subprocess.run(
        [sys.executable, "-m", "emulator", "trigger", event, "--data", '{"$id": "d1"}', "--wait",
         "--endpoint", dev.endpoint, "--project", PROJECT],
        cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"{event} -> echo (execution" in out.stdout
    assert f'POST / event={event} trigger=event a= body={{"$id":"d1"}}' in out.stdout, out.stdout
    dev.wait_for(r"echo\s+completed 200 .*trigger=event", since=mark, timeout=10)  # the dev terminal shows it
    nobody = subprocess.run(
        [sys.executable, "-m", "emulator", "trigger", "users.u1.create", "--endpoint", dev.endpoint,
         "--project", PROJECT], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert nobody.returncode == 1 and "No function" in nobody.stdout


@pytest.mark.slow
def test_cron_schedule_fires_within_its_minute(dev):
    # `* * * * *` is due at the next minute boundary after the function was created: <= 60 s. The
    # deadline only bounds the wait; the extra minute keeps a loaded machine from failing it.
    dev.wait_for(r"cron\s+completed 200 .*trigger=schedule", timeout=120)


# -- no server needed ---------------------------------------------------------------------------
@pytest.mark.parametrize("subscription, event, expected", [
    ("users.*.create", "users.u1.create", True),
    ("users.*", "users.u1.update.email", True),
    ("users.*.update.email", "users.u1.update.email", True),
    ("users.*.delete", "users.u1.create", False),
    ("users.u1.create", "users.*.create", True),
    ("databases.*.collections.*.documents.*", "databases.db1.collections.c1.documents.d1.create", True),
    ("databases.db1", "databases.db1.collections.c1.documents.d1.create", True),
    ("databases.db2.collections.*.documents.*.create", "databases.db1.collections.c1.documents.d1.create", False),
    ("buckets.*.files.*.create", "databases.db1.collections.c1.documents.d1.create", False),
])
def test_event_matching_follows_appwrite(subscription, event, expected):
    assert event_matches(subscription, event) is expected


def test_ignore_rules_follow_gitignore():
    rules = IgnoreRules(["node_modules", "/build", "*.log", "!keep.log", "docs/**/x.md", "tmp/"])
    assert rules.ignored("src/node_modules", True) and rules.ignored("build", True)
    assert not rules.ignored("src/build", True)
    assert rules.ignored("a/b.log", False) and not rules.ignored("keep.log", False)
    assert rules.ignored("docs/a/b/x.md", False) and rules.ignored("tmp", True) and not rules.ignored("tmp", False)


def test_folder_without_config_is_detected(tmp_path):
    write(tmp_path / "My Func/package.json", json.dumps({"main": "src/app.js"}))
    write(tmp_path / "My Func/src/app.js", "module.exports = async (c) => c.res.empty();\n")
    write(tmp_path / "My Func/.gitignore", "node_modules\n")
    write(tmp_path / "My Func/node_modules/x/index.js", "")
    project = load_project(tmp_path / "My Func")
    fn = project.functions[0]
    assert (fn.id, fn.entrypoint, fn.runtime.split("-")[0]) == ("my-func", "src/app.js", "node")
    assert "detected from package.json" in project.notes[0]
    assert set(fn.files()) == {".gitignore", "package.json", "src/app.js"}


async def test_docker_executor_hot_swap_rewrites_the_build_archive(tmp_path):
    """The docker executor runs containers from output.tar.gz: a hot swap rewrites that archive."""
    image = "appwrite-emulator-test/python:v5-3.11"
    try:
        import docker
        docker.from_env(timeout=5).images.get(image)
    except Exception as exc:  # noqa: BLE001 - no engine, no SDK or no image: skip locally, fail in CI
        require_toolchain("docker", f"needs Docker and the test image {image} (built by tests/docker: "
                    f".venv/bin/pytest tests/docker): {exc}")
    from emulator.api.common import STATE_KEY
    from emulator.dev.loop import DevLoop
    from emulator.executors.docker import DockerExecutor
    from emulator.services.executions import Caller, create_execution
    from emulator.server import start_server
    from emulator.services.state import Settings

    write(tmp_path / "functions/d/main.py", PY_MAIN.format(tag="d1"))
    write_config(tmp_path, "p", [{"$id": "d", "runtime": "python-3.11", "path": "functions/d", "entrypoint": "main.py"}])
    settings = Settings(data_dir=tmp_path / "data")
    runner = await start_server(settings, "127.0.0.1", 0)
    state = runner.app[STATE_KEY]
    state.executors["docker"] = DockerExecutor(tmp_path / "data/run-docker", image_prefix="appwrite-emulator-test")
    settings.executor = "docker"
    loop = DevLoop(load_project(tmp_path), state)
    try:
        await loop.start()
        await loop.initial_deploys()
        watched = loop.watched["d"]
        first = watched.deployment_id
        assert first, "the first build failed"
        edit(tmp_path / "functions/d/main.py", PY_MAIN.format(tag="d2"))
        for _ in range(300):
            await asyncio.sleep(0.1)
            if watched.deployment_id != first:
                break
        doc = state.store.get("deployments", "p", "d", watched.deployment_id)
        assert "Hot swap" in doc["buildLogs"], doc["buildLogs"]
        _, response = await create_execution(state, "p", "d", {"body": ""}, Caller())
        assert response["body"] == b"d2"
    finally:
        await loop.stop()
        await runner.cleanup()
