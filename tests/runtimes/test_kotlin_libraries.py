"""What the official Kotlin runtime gives every function: kotlinx-coroutines-core and gson on the
classpath, and the function's dependencies.gradle resolved with Maven (offline here: Debian's Maven
repository, see test_java_libraries.py)."""
from __future__ import annotations

import pytest

from emulator.languages import maven

from .contract_common import RuntimeContract
from .test_java_libraries import DEPENDENCIES, LOCAL_REPOSITORY, assert_resolved_in_build_dir, require_gson, require_maven

contract = RuntimeContract("kotlin-2.0")


@pytest.fixture
def offline_repository(monkeypatch):
    monkeypatch.setenv(maven.REPOSITORY_ENV, LOCAL_REPOSITORY.as_uri())


BUNDLED = {
    # runBlocking inside a plain main, a suspend helper with delay, async/awaitAll on Dispatchers.Default
    # and gson, as the official runtime's test function uses them. Two coroutines that each wait for
    # the other's flag only both finish when they run concurrently.
    "src/Main.kt": """
        package io.openruntimes.kotlin.src

        import com.google.gson.Gson
        import io.openruntimes.kotlin.RuntimeContext
        import io.openruntimes.kotlin.RuntimeOutput
        import java.util.concurrent.atomic.AtomicBoolean
        import kotlinx.coroutines.Dispatchers
        import kotlinx.coroutines.async
        import kotlinx.coroutines.awaitAll
        import kotlinx.coroutines.delay
        import kotlinx.coroutines.runBlocking
        import kotlinx.coroutines.withTimeout

        class Main {
            private val gson = Gson()

            fun main(context: RuntimeContext): RuntimeOutput {
                val input = gson.fromJson(context.req.bodyText, Map::class.java)
                val n = (input["n"] as Double).toInt()
                val results = runBlocking(Dispatchers.Default) {
                    val a = AtomicBoolean(false)
                    val b = AtomicBoolean(false)
                    listOf(async { a.set(true); waitFor(b) }, async { b.set(true); waitFor(a) }).awaitAll()
                }
                return context.res.text(gson.toJson(mapOf("doubled" to n * 2, "results" to results)))
            }

            private suspend fun waitFor(flag: AtomicBoolean): Boolean = withTimeout(20_000) {
                while (!flag.get()) delay(5)
                true
            }
        }
    """,
}

SUSPENDING = {
    # a suspend main, driven by the adapter, using kotlinx.coroutines inside
    "src/Main.kt": """
        package io.openruntimes.kotlin.src

        import com.google.gson.JsonParser
        import io.openruntimes.kotlin.RuntimeContext
        import io.openruntimes.kotlin.RuntimeOutput
        import kotlinx.coroutines.coroutineScope
        import kotlinx.coroutines.delay
        import kotlinx.coroutines.Dispatchers
        import kotlinx.coroutines.withContext

        class Main {
            suspend fun main(context: RuntimeContext): RuntimeOutput = coroutineScope {
                delay(10)
                val name = withContext(Dispatchers.IO) {
                    JsonParser.parseString(context.req.bodyText).asJsonObject.get("name").asString
                }
                context.res.json(mutableMapOf("greeting" to "hi " + name, "thread" to Thread.currentThread().name.isNotEmpty()))
            }
        }
    """,
}


def test_coroutines_and_gson_are_bundled(tmp_path):
    require_gson()
    with contract.running(tmp_path, BUNDLED, "src/Main.kt") as driver:
        lib = driver.code_dir / ".jvm-build" / "lib"
        assert (lib / "kotlinx-coroutines-core-jvm.jar").is_file() and (lib / "gson.jar").is_file()
        r = driver.request(body='{"n": 21}')
        assert r.status == 200, r.short()
        assert r.json() == {"doubled": 42, "results": [True, True]}


def test_suspend_main_with_kotlinx_coroutines(tmp_path):
    require_gson()
    with contract.running(tmp_path, SUSPENDING, "src/Main.kt") as driver:
        r = driver.request(body='{"name": "Ada"}')
        assert r.status == 200, r.short()
        assert r.json() == {"greeting": "hi Ada", "thread": True}


LANG3_FUNCTION = {
    "src/Main.kt": """
        package io.openruntimes.kotlin.src

        import io.openruntimes.kotlin.RuntimeContext
        import io.openruntimes.kotlin.RuntimeOutput
        import org.apache.commons.lang3.StringUtils

        class Main {
            fun main(context: RuntimeContext): RuntimeOutput =
                context.res.text(StringUtils.reverse(context.req.bodyText) + "|" + StringUtils.capitalize(context.req.bodyText))
        }
    """,
    # as the official test function does: gson declared although bundled
    "dependencies.gradle": DEPENDENCIES.replace(
        "dependencies {\n", "dependencies {\n    implementation 'com.google.code.gson:gson:2.9.0'\n"),
}


def test_dependencies_gradle_resolved(tmp_path, offline_repository):
    require_maven()
    require_gson()
    with contract.running(tmp_path, LANG3_FUNCTION, "src/Main.kt") as driver:
        assert_resolved_in_build_dir(driver.code_dir, driver.build_log)
        assert "com.google.code.gson:gson:2.9.0: bundled with the runtime" in driver.build_log, driver.build_log
        r = driver.request(body="hello")
        assert r.status == 200, r.short()
        assert r.text == "olleh|Hello"
