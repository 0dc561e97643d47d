"""The Kotlin adapter against the shared contract (emulator/contract/), plus Kotlin specifics: the
compile step (starter layout, package-less v2 files, libs/ jars, compile errors, the compile cache),
API detection by reflection including `suspend` handlers, and entrypoint guards. The HTTP core is
the Java adapter's (runtimes/java/core), so wire details are covered once, in test_java_contract."""
from __future__ import annotations

from emulator.languages.kotlin import HINT, add_package_header

from .contract_common import (RuntimeContract, assert_isolated_logs, assert_legacy_in_class,
                              assert_timeout_drops_late_output, call_concurrently, json_token, make_shout_jar,
                              native_context_json_lines, slow_function)

RUNTIME = "kotlin-2.3"
contract = RuntimeContract(RUNTIME)

context_driver, legacy_driver, v2_driver = contract.driver_fixtures()
test_context, test_legacy, test_v2_wire = contract.contract_tests()


def test_unchanged_sources_reuse_compiled_classes(legacy_driver, v2_driver):
    assert "reusing its compiled classes" in v2_driver.build_log, v2_driver.build_log


def test_runtime_ids():
    language = contract.assert_runtime_ids("kotlin", ("1.6", "1.8", "1.9", "2.0", "2.3"), "1.3")
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


STARTER = slow_function({
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
                    Thread.sleep(SLOW_SECONDS * 1000L)
                    println("late native output")
                    context.log("slow end")
                    java.io.File(context.req.headers["x-marker"]!!).writeText("")  // the test's signal: the end
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
})


def test_starter_isolation_and_timeouts(tmp_path):
    with contract.running(tmp_path, STARTER, "src/Main.kt") as driver:
        r = driver.request("GET", headers={})
        assert r.status == 200 and r.text == "Hello, World!", r.short()
        assert r.logs == "Hello, Logs!\n" and r.errors == "Hello, Errors!\n", r.short()

        tokens = [f"t{i}" for i in range(8)]
        assert_isolated_logs(tokens, call_concurrently(driver, tokens, 4), response=json_token,
                             lines=native_context_json_lines, leaks=lambda t: [f"native {t}\n"])
        # the adapter interrupts the call's thread: its sleep ends there
        assert_timeout_drops_late_output(driver, tmp_path / "slow.done", function_stopped=True, empty_body=True)


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
    if contract.language.toolchain().available:
        make_shout_jar(tmp_path, tmp_path / "src" / "libs" / "shout.jar")
    with contract.running(tmp_path, LEGACY_SUSPEND_IN_CLASS, "src/Main.kt",
                          env={"APPWRITE_FUNCTION_ID": "fn1"}) as driver:
        assert "No package" not in driver.build_log
        assert_legacy_in_class(driver, "HI")


test_entrypoint_guards = contract.entrypoint_guards_test([
    ({"src/Main.kt": """
        package io.openruntimes.kotlin.src
        import io.openruntimes.kotlin.*
        class Main {
            fun handle(context: RuntimeContext): RuntimeOutput = context.res.empty()
        }
     """}, "src/Main.kt", "Function signature invalid. Did you forget to export a 'main' function?"),
    ({"src/Main.kt": """
        package io.openruntimes.kotlin
        class Main {
            fun main(context: RuntimeContext): RuntimeOutput = context.res.empty()
        }
     """}, "src/Main.kt", "Failed to load module: class io.openruntimes.kotlin.src.Main not found"),
], ids=["no-main", "wrong-package"])


def test_compile_error_fails_the_build(tmp_path):
    build_log = contract.build_log_of_failed_build(tmp_path, {"src/Main.kt": """
        package io.openruntimes.kotlin.src
        import io.openruntimes.kotlin.*
        class Main {
            fun main(context: RuntimeContext): RuntimeOutput {
                return context.res.text(undefinedName)
            }
        }
    """}, "src/Main.kt")
    assert "Main.kt:6" in build_log and "undefinedName" in build_log, build_log
