"""Honest runtime versions beyond the interpreters of test_toolchain_versions.py (issue 13, item 6):
Java picks the JDK of its runtime's version for both javac and java, Ruby its ruby, PHP's default
build runs composer on the runtime's php, `GET /v1/functions/runtimes` says per runtime id what runs
it here, and a hot swap runs on the mapped toolchain. Real JDKs, rubies, php and deno; a mapped
binary is a wrapper script that records its calls and runs the real one, so the record shows which
binary a step ran on."""
from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from emulator.languages import language_for_runtime
from emulator.languages.java import Java
from emulator.languages.kotlin import find_kotlinc
from support import JsonApi, require_toolchain, wait_for
from dev.devproc import DevProcess, edit, write, write_config

PROJECT = "versions"
JAVA_REPORT = {"src/Main.java": """package io.openruntimes.java.src;

import io.openruntimes.java.RuntimeContext;
import io.openruntimes.java.RuntimeOutput;

public class Main {
    public RuntimeOutput main(RuntimeContext context) {
        return context.getRes().text(System.getProperty("java.version") + " " + System.getProperty("java.home"));
    }
}
"""}
KOTLIN_REPORT = {"src/Main.kt": """package io.openruntimes.kotlin.src

import io.openruntimes.kotlin.RuntimeContext
import io.openruntimes.kotlin.RuntimeOutput

class Main {
    fun main(context: RuntimeContext): RuntimeOutput =
        context.res.text(KotlinVersion.CURRENT.toString() + " " + System.getProperty("java.version"))
}
"""}
RUBY_REPORT = {"index.rb": "def main(context)\n  context.res.text(RUBY_VERSION)\nend\n"}
PHP_REPORT = {"index.php": "<?php\nreturn function ($context) {\n    return $context->res->text(PHP_VERSION);\n};\n",
              "composer.json": json.dumps({"repositories": [{"packagist.org": False}]})}


def java_major(version: str) -> str:
    """"17.0.15" -> "17"; JDK 8 calls itself 1.8 ("1.8.0_412" -> "1.8"), as the runtime's wanted version."""
    return "1.8" if version.startswith("1.8") else version.split(".")[0]


def javac_major(javac: str) -> str:
    out = subprocess.run([javac, "-version"], capture_output=True, text=True, timeout=120)
    version = re.search(r"javac (\S+)", out.stdout + out.stderr)
    return java_major(version.group(1)) if out.returncode == 0 and version else ""


def installed_jdks() -> dict[str, str]:
    """{major: javac} of the JDKs under /usr/lib/jvm, found without the emulator's own lookup."""
    found = {}
    for javac in sorted(glob.glob("/usr/lib/jvm/*/bin/javac")):
        major = javac_major(javac)
        if major:
            found.setdefault(major, os.path.realpath(javac))
    return found


def default_jdk_major() -> str:
    return javac_major("javac")


def require_jdk() -> None:
    tool = Java().toolchain()
    if not tool.available:
        require_toolchain("java", tool.hint)


def recording_wrapper(folder: Path, name: str, real: str) -> tuple[Path, Path]:
    """(an executable `folder/name` that appends its arguments to the record, then runs `real`; the record)."""
    record = folder / f"{name}.calls"
    wrapper = folder / "bin" / name
    wrapper.parent.mkdir(parents=True, exist_ok=True)
    wrapper.write_text(f'#!/bin/sh\necho "$*" >> "{record}"\nexec "{real}" "$@"\n')
    wrapper.chmod(0o755)
    return wrapper, record


def calls(record: Path) -> list[str]:
    return record.read_text().splitlines() if record.exists() else []


def run_text(api: JsonApi, function_id: str) -> str:
    doc = api.ok("POST", f"/functions/{function_id}/executions", {})
    assert doc["status"] == "completed", doc
    return doc["responseBody"]


def java_runtime(major: str) -> str:
    return next(f"java-{v}" for v in Java.versions if language_for_runtime(f"java-{v}").wanted_version() == major)


@pytest.mark.timeout(600)
def test_java_runtimes_compile_and_run_on_the_jdk_of_their_version(server_factory):
    require_jdk()
    jdks = {major: javac for major, javac in installed_jdks().items()
            if any(language_for_runtime(f"java-{v}").wanted_version() == major for v in Java.versions)}
    if not jdks:
        pytest.skip("no JDK of a Java runtime's version under /usr/lib/jvm")
    srv = server_factory()
    api = JsonApi(srv.endpoint, PROJECT)
    for major, javac in sorted(jdks.items()):
        runtime = java_runtime(major)
        function_id = "java" + major
        dep = api.deploy(function_id, JAVA_REPORT, entrypoint="src/Main.java", runtime=runtime, wait=400)
        version, home = run_text(api, function_id).split(" ", 1)
        # java.home is the JDK whose javac compiled it (JDK 8's java.home is its jre/ folder)
        assert java_major(version) == major and Path(javac).parent.parent in (Path(home), Path(home).parent), \
            (runtime, version, home, javac)
        assert "Note:" not in dep["buildLogs"], dep["buildLogs"]

    missing = next((v for v in Java.versions
                    if language_for_runtime(f"java-{v}").wanted_version() not in installed_jdks()), None)
    if missing is not None:  # no JDK of its version: the default runs it, and the build says so
        runtime = f"java-{missing}"
        dep = api.deploy("javamissing", JAVA_REPORT, entrypoint="src/Main.java", runtime=runtime, wait=400)
        assert java_major(run_text(api, "javamissing")) == default_jdk_major()
        assert f"Note: {runtime} runs on this machine's toolchain, javac {default_jdk_major()}." in dep["buildLogs"], \
            dep["buildLogs"]
        assert f"--toolchain {runtime}=/path/to/javac" in dep["buildLogs"], dep["buildLogs"]


@pytest.mark.timeout(600)
def test_a_java_runtime_mapped_to_another_jdk_compiles_and_runs_on_it(server_factory):
    require_jdk()
    jdks = installed_jdks()
    default = default_jdk_major()
    other = next(((major, javac) for major, javac in sorted(jdks.items()) if major != default), None)
    if other is None:
        pytest.skip("one JDK installed here: nothing to map a runtime to")
    major, javac = other
    # the runtime of the default JDK's version, which would otherwise run on that JDK
    runtime = java_runtime(default) if any(language_for_runtime(f"java-{v}").wanted_version() == default
                                           for v in Java.versions) else "java-17.0"
    srv = server_factory("--toolchain", f"{runtime}={javac}")
    api = JsonApi(srv.endpoint, PROJECT)
    dep = api.deploy("javamapped", JAVA_REPORT, entrypoint="src/Main.java", runtime=runtime, wait=400)
    version, home = run_text(api, "javamapped").split(" ", 1)
    assert java_major(version) == major and Path(home) == Path(javac).parent.parent, (version, home)
    assert f"Note: {runtime} runs on the mapped toolchain, javac {major}." in dep["buildLogs"], dep["buildLogs"]


@pytest.mark.timeout(600)
def test_a_kotlin_runtime_mapped_to_a_kotlinc_builds_with_it(server_factory):
    """The runtime version is Kotlin's: kotlin-2.0 mapped to a kotlinc distribution compiles with it
    and runs on its stdlib, and the build log says which Kotlin that is."""
    require_jdk()
    kotlinc = find_kotlinc()
    if kotlinc is None:
        require_toolchain("kotlin", language_for_runtime("kotlin-2.0").install_hint)
    release = (Path(os.path.realpath(kotlinc)).parent.parent / "build.txt").read_text().strip()
    srv = server_factory("--toolchain", f"kotlin-2.0={kotlinc}")
    api = JsonApi(srv.endpoint, PROJECT)
    dep = api.deploy("kotlinmapped", KOTLIN_REPORT, entrypoint="src/Main.kt", runtime="kotlin-2.0", wait=400)
    stdlib, java_version = run_text(api, "kotlinmapped").split(" ", 1)
    assert release.startswith(stdlib) and java_major(java_version) == default_jdk_major(), (stdlib, java_version)
    if not release.startswith("2.0."):
        assert f"Note: kotlin-2.0 runs on the mapped toolchain, kotlinc {release}" in dep["buildLogs"], dep["buildLogs"]


def test_ruby_runtimes_run_on_their_ruby_or_say_which_runs(server_factory, tmp_path):
    if shutil.which("ruby") is None:
        require_toolchain("ruby", language_for_runtime("ruby-3.3").install_hint)
    default = subprocess.run(["ruby", "-e", "print RUBY_VERSION"], capture_output=True, text=True,
                             timeout=60).stdout
    default_minor = ".".join(default.split(".")[:2])
    runtimes = [f"ruby-{v}" for v in language_for_runtime("ruby-3.3").versions]
    matching = next((r for r in runtimes if language_for_runtime(r).wanted_version() == default_minor), None)
    unmatched = next(r for r in runtimes if not language_for_runtime(r).versioned_binary())
    mapped = next(r for r in runtimes if r not in (matching, unmatched))
    wrapper, record = recording_wrapper(tmp_path, "ruby", shutil.which("ruby"))
    srv = server_factory("--toolchain", f"{mapped}={wrapper}")
    api = JsonApi(srv.endpoint, PROJECT)

    if matching:
        dep = api.deploy("rubymatch", RUBY_REPORT, entrypoint="index.rb", runtime=matching)
        assert run_text(api, "rubymatch") == default
        assert "Note:" not in dep["buildLogs"], dep["buildLogs"]

    dep = api.deploy("rubyunmatched", RUBY_REPORT, entrypoint="index.rb", runtime=unmatched)
    assert run_text(api, "rubyunmatched") == default
    wanted = language_for_runtime(unmatched).wanted_version()
    assert (f"Note: {unmatched} runs on this machine's toolchain, ruby {default}" in dep["buildLogs"]
            and f"no Ruby {wanted} is used here" in dep["buildLogs"]), dep["buildLogs"]
    assert not calls(record)  # the mapping is that runtime's only

    dep = api.deploy("rubymapped", RUBY_REPORT, entrypoint="index.rb", runtime=mapped)
    assert run_text(api, "rubymapped") == default
    assert any(line.endswith("runtimes/ruby/server.rb") for line in calls(record)), calls(record)
    assert f"{mapped} runs on the mapped toolchain, ruby {default}" in dep["buildLogs"], dep["buildLogs"]


def test_composer_runs_on_the_runtimes_php(server_factory, tmp_path):
    php, composer = shutil.which("php"), shutil.which("composer")
    if php is None or composer is None:
        require_toolchain("php", language_for_runtime("php-8.3").install_hint)
    default = subprocess.run([php, "-r", "echo PHP_VERSION;"], capture_output=True, text=True, timeout=60).stdout
    runtime = next(f"php-{v}" for v in language_for_runtime("php-8.3").versions
                   if not default.startswith(v + "."))
    wrapper, record = recording_wrapper(tmp_path, "php", php)
    srv = server_factory("--toolchain", f"{runtime}={wrapper}")
    api = JsonApi(srv.endpoint, PROJECT)
    dep = api.deploy("phpcomposer", PHP_REPORT, entrypoint="index.php", runtime=runtime)
    assert f"$ {wrapper} {composer} install --no-interaction" in dep["buildLogs"], dep["buildLogs"]
    # composer (a PHP script whose #! names the default php) ran on the mapped php, and so does the function
    assert f"{composer} install --no-interaction" in calls(record), calls(record)
    assert "Generating autoload files" in dep["buildLogs"], dep["buildLogs"]
    assert run_text(api, "phpcomposer") == default
    assert any(line.endswith("runtimes/php/server.php") for line in calls(record)), calls(record)


def test_runtimes_endpoint_reports_what_runs_each_runtime_id(server_factory, tmp_path):
    python3 = os.path.realpath(shutil.which("python3"))
    version = subprocess.run([python3, "--version"], capture_output=True, text=True, timeout=60).stdout.strip()
    minor = ".".join(version.split()[1].split(".")[:2])
    mapped_runtime = next(f"python-{v}" for v in language_for_runtime("python-3.12").versions if v != minor)
    args = ["--toolchain", f"{mapped_runtime}={python3}"]
    kotlinc = find_kotlinc()
    if kotlinc:
        args += ["--toolchain", f"kotlin-2.0={kotlinc}"]
    srv = server_factory(*args)
    api = JsonApi(srv.endpoint, PROJECT)
    listing = api.ok("GET", "/functions/runtimes")
    runtimes = {r["$id"]: r for r in listing["runtimes"]}
    assert listing["total"] == len(runtimes)

    mapped = runtimes[mapped_runtime]
    assert (mapped["available"], mapped["localVersion"], mapped["localBinary"]) == (True, version, python3), mapped
    assert mapped["localNote"].startswith(f"Note: {mapped_runtime} runs on the mapped toolchain, {version};"), mapped
    assert mapped["version"] == mapped_runtime.split("-")[1] and mapped["key"] == "python"  # Appwrite's fields
    own = runtimes[f"python-{minor}"]
    assert own["localVersion"] == version and own["localNote"] == "", own
    if kotlinc:
        assert runtimes["kotlin-2.0"]["localBinary"] == kotlinc, runtimes["kotlin-2.0"]
        assert runtimes["kotlin-2.3"]["localBinary"] in ("", kotlinc)

    jdks = installed_jdks()
    java = {r["$id"]: r for r in listing["runtimes"] if r["key"] == "java"}
    for runtime_id, entry in java.items():
        if not entry["available"]:
            continue
        wanted = language_for_runtime(runtime_id).wanted_version()
        if wanted in jdks:  # per version, not per language: each on its own JDK
            assert entry["localVersion"].startswith(f"javac {wanted}.") and entry["localNote"] == "", entry
            assert os.path.realpath(entry["localBinary"]) == jdks[wanted], entry
        else:
            assert entry["localNote"].startswith(f"Note: {runtime_id} runs on this machine's toolchain"), entry


@pytest.mark.timeout(300)
def test_hot_swap_runs_on_the_mapped_toolchain(tmp_path):
    """`dev` hot-swaps a deno function's source edit: its `deno cache` step and the new instance run
    on the deno the runtime is mapped to."""
    deno = shutil.which("deno")
    if deno is None:
        require_toolchain("deno", language_for_runtime("deno-2.0").install_hint)
    wrapper, record = recording_wrapper(tmp_path, "deno", deno)
    project = tmp_path / "project"
    source = "export default async (context: any) => context.res.text('{tag}');\n"
    write(project / "functions/swap/mod.ts", source.format(tag="one"))
    write_config(project, PROJECT, [{"$id": "swap", "name": "swap", "runtime": "deno-2.0", "path": "functions/swap",
                                     "entrypoint": "mod.ts", "execute": ["any"], "timeout": 15}])
    dev = DevProcess(project, tmp_path / "data", "--toolchain", f"deno-2.0={wrapper}").start(timeout=240)
    try:
        assert dev.execute("swap", PROJECT)["responseBody"] == "one"
        before = calls(record)
        mark = dev.mark()
        edit(project / "functions/swap/mod.ts", source.format(tag="two"))
        dev.wait_for(r"swap\s+deployed \S+ \(hot swap: mod.ts\)", since=mark, timeout=120)
        wait_for(lambda: dev.execute("swap", PROJECT)["responseBody"] == "two", timeout=60,
                 message="the swapped source to answer")
        after = calls(record)[len(before):]
        assert "cache mod.ts" in after, after  # the swap's compile step ran on the mapped deno
        assert any(line.startswith("run ") and line.endswith("runtimes/deno/server.ts") for line in after), after
    finally:
        dev.stop()
