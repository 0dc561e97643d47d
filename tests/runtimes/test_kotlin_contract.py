"""The Kotlin adapter against the shared contract (emulator/contract.py), plus Kotlin specifics: the
compile step (starter layout, package-less v2 files, libs/ jars, compile errors, the compile cache),
API detection by reflection including `suspend` handlers, and entrypoint guards. The HTTP core is
the Java adapter's (runtimes/java/core), so wire details are covered once, in test_java_contract."""
from __future__ import annotations

import concurrent.futures
import subprocess
import textwrap
import time
import zipfile
from pathlib import Path

import pytest

from emulator.contract import V2_CHECKS, DirectDriver, ToolchainMissing, checks_for_api, run_check
from emulator.languages import language_for_runtime
from emulator.languages.base import BuildError
from emulator.languages.kotlin import HINT, add_package_header

RUNTIME = "kotlin-2.3"


def start(api: str = "context", **kwargs) -> DirectDriver:
    driver = DirectDriver(RUNTIME, api=api, **kwargs)
    try:
        driver.start()
    except ToolchainMissing as exc:
        pytest.skip(str(exc))
    return driver


@pytest.fixture(scope="module")
def context_driver():
    driver = start("context")
    yield driver
    driver.stop()


@pytest.fixture(scope="module")
def legacy_driver():
    driver = start("legacy")
    yield driver
    driver.stop()


@pytest.fixture(scope="module")
def v2_driver():
    driver = start("legacy", wire="v2")
    yield driver
    driver.stop()


@pytest.mark.parametrize("check", checks_for_api("context"), ids=lambda c: c.name)
def test_context(context_driver, check):
    result = run_check(context_driver, check)
    assert result.passed, result.detail


@pytest.mark.parametrize("check", checks_for_api("legacy"), ids=lambda c: c.name)
def test_legacy(legacy_driver, check):
    result = run_check(legacy_driver, check)
    assert result.passed, result.detail


@pytest.mark.parametrize("check", V2_CHECKS, ids=lambda c: c.name)
def test_v2_wire(v2_driver, check):
    result = run_check(v2_driver, check)
    assert result.passed, result.detail


def test_unchanged_sources_reuse_compiled_classes(legacy_driver, v2_driver):
    assert "reusing its compiled classes" in v2_driver.build_log, v2_driver.build_log


def write(root: Path, files: dict[str, str]) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(content))
    return root


def test_runtime_ids():
    for version in ("1.6", "1.8", "1.9", "2.0", "2.3"):
        assert language_for_runtime(f"kotlin-{version}").key == "kotlin"
    assert language_for_runtime("kotlin-1.3") is None
    language = language_for_runtime(RUNTIME)
    assert language.default_entrypoint == "src/Main.kt" and language.compiled
    toolchain = language.toolchain()
    if toolchain.available:
        assert "kotlinc" in toolchain.version, toolchain
    else:
        assert toolchain.hint.endswith(HINT), toolchain


def test_package_header_keeps_lines():
    source = "@file:Suppress(\"x\")\n// v2\nfun main(req: RuntimeRequest, res: RuntimeResponse) = res.send(\"x\")\n"
    lines = add_package_header(source, "io.openruntimes.kotlin").split("\n")
    assert lines[0] == '@file:Suppress("x")'  # file annotations must stay in front of the package
    assert lines[1] == "package io.openruntimes.kotlin; import io.openruntimes.kotlin.*; // v2"
    assert lines[2].startswith("fun main(")


STARTER = {
    # Appwrite's Kotlin starter layout (minus the Appwrite SDK import), with a top-level helper in
    # a second file of the same package.
    "src/Main.kt": """
        package io.openruntimes.kotlin.src

        import io.openruntimes.kotlin.RuntimeContext
        import io.openruntimes.kotlin.RuntimeOutput

        class Main {
            fun main(context: RuntimeContext): RuntimeOutput {
                val token = context.req.headers["x-token"] ?: ""
                if (token == "slow") {
                    context.log("slow start")
                    Thread.sleep(2000)
                    println("late native output")
                    context.log("slow end")
                    return context.res.text("late")
                }
                if (context.req.method == "GET") {
                    context.log("Hello, Logs!")
                    context.error("Hello, Errors!")
                    return context.res.send(greeting())
                }
                println("native $token")
                Thread.sleep(20)
                System.err.println("{\\"token\\":\\"$token\\"}")
                context.log("context", token)
                return context.res.json(mutableMapOf(
                    "token" to token,
                    "motto" to "Build Fast. Scale Big. All in One Place.",
                ))
            }
        }
    """,
    "src/Utils.kt": """
        package io.openruntimes.kotlin.src

        fun greeting() = "Hello, World!"
    """,
}


def test_starter_isolation_and_timeouts(tmp_path):
    driver = start(source_dir=write(tmp_path / "src", STARTER), entrypoint="src/Main.kt",
                   workdir=tmp_path / "work")
    try:
        r = driver.request("GET", headers={})
        assert r.status == 200 and r.text == "Hello, World!", r.short()
        assert r.logs == "Hello, Logs!\n" and r.errors == "Hello, Errors!\n", r.short()

        tokens = [f"t{i}" for i in range(8)]
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            results = list(pool.map(lambda t: driver.request(headers={"x-token": t}), tokens))
        for token, r in zip(tokens, results):
            assert r.status == 200 and r.json()["token"] == token, r.short()
            assert r.logs.count("Native logs detected.") == 1, r.short()
            assert f"native {token}\n" in r.logs and f"context {token}\n" in r.logs, r.short()
            assert f'{{"token":"{token}"}}\n' in r.logs, r.short()
            others = [t for t in tokens if t != token and f"native {t}\n" in r.logs]
            assert not others, f"logs of {token} contain {others}: {r.logs!r}"

        started = time.monotonic()
        r = driver.request(headers={"x-token": "slow"}, timeout=1)
        assert time.monotonic() - started < 1.9
        assert r.status == 500 and r.body == b"" and "Execution timed out." in r.errors, r.short()
        assert "slow start" in r.logs and "slow end" not in r.logs
        time.sleep(1.5)
        assert list(Path(driver.logs_dir).iterdir()) == []
    finally:
        driver.stop()


def make_jar(tmp_path: Path, target: Path) -> None:
    """libs/shout.jar with com.example.Shout, built with javac and zipped (a jar is a zip)."""
    src = write(tmp_path / "jar-src", {"com/example/Shout.java": """
        package com.example;

        public class Shout {
            public static String shout(String text) {
                return text.toUpperCase();
            }
        }
    """})
    classes = tmp_path / "jar-classes"
    subprocess.run(["javac", "-d", str(classes), str(src / "com/example/Shout.java")], check=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w") as jar:
        jar.write(classes / "com/example/Shout.class", "com/example/Shout.class")


LEGACY_SUSPEND_IN_CLASS = {
    # A v2 signature in a class, as a suspend function; a jar from libs/ on the classpath.
    "src/Main.kt": """
        package io.openruntimes.kotlin.src

        import com.example.Shout
        import io.openruntimes.kotlin.RuntimeRequest
        import io.openruntimes.kotlin.RuntimeResponse
        import kotlin.coroutines.resume
        import kotlin.coroutines.suspendCoroutine

        class Main {
            suspend fun main(req: RuntimeRequest, res: RuntimeResponse): RuntimeResponse {
                if (req.payload == "none") return res
                res.send("first")
                val payload = suspendCoroutine<String> { continuation ->
                    Thread { continuation.resume(Shout.shout(req.payload)) }.start()
                }
                return res.json(mapOf("id" to req.variables["APPWRITE_FUNCTION_ID"], "payload" to payload), 201)
            }
        }
    """,
}


def test_legacy_suspend_signature_in_class_with_libs(tmp_path):
    src = write(tmp_path / "src", LEGACY_SUSPEND_IN_CLASS)
    if language_for_runtime(RUNTIME).toolchain().available:
        make_jar(tmp_path, src / "libs" / "shout.jar")
    driver = start(source_dir=src, entrypoint="src/Main.kt", workdir=tmp_path / "work",
                   env={"APPWRITE_FUNCTION_ID": "fn1"})
    try:
        assert "No package" not in driver.build_log
        r = driver.request(headers={}, body="hi")
        assert r.status == 201 and r.json() == {"id": "fn1", "payload": "HI"}, r.short()
        assert r.headers["content-type"].startswith("application/json"), r.short()
        r = driver.request(headers={}, body="none")
        assert r.status == 200 and r.body == b"", r.short()
    finally:
        driver.stop()


@pytest.mark.parametrize("files,message", [
    ({"src/Main.kt": """
        package io.openruntimes.kotlin.src
        import io.openruntimes.kotlin.*
        class Main {
            fun handle(context: RuntimeContext): RuntimeOutput = context.res.empty()
        }
     """}, "Function signature invalid. Did you forget to export a 'main' function?"),
    ({"src/Main.kt": """
        package io.openruntimes.kotlin
        class Main {
            fun main(context: RuntimeContext): RuntimeOutput = context.res.empty()
        }
     """}, "Failed to load module: class io.openruntimes.kotlin.src.Main not found"),
], ids=["no-main", "wrong-package"])
def test_entrypoint_guards(tmp_path, files, message):
    driver = start(source_dir=write(tmp_path / "src", files), entrypoint="src/Main.kt", workdir=tmp_path / "work")
    try:
        r = driver.request(headers={})
        assert r.status == 503 and r.body == b"", r.short()
        assert message in r.errors, r.short()
        assert r.log_files
    finally:
        driver.stop()


def test_compile_error_fails_the_build(tmp_path):
    src = write(tmp_path / "src", {"src/Main.kt": """
        package io.openruntimes.kotlin.src
        import io.openruntimes.kotlin.*
        class Main {
            fun main(context: RuntimeContext): RuntimeOutput {
                return context.res.text(undefinedName)
            }
        }
    """})
    driver = DirectDriver(RUNTIME, source_dir=src, entrypoint="src/Main.kt", workdir=tmp_path / "work")
    try:
        with pytest.raises(BuildError):
            driver.start()
    except ToolchainMissing as exc:
        pytest.skip(str(exc))
    finally:
        driver.stop()
    assert "Main.kt:6" in driver.build_log and "undefinedName" in driver.build_log, driver.build_log
