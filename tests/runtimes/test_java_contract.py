"""The Java adapter against the shared contract (emulator/contract/), plus Java specifics: the
compile step (starter layout, v2 snippet wrapping, libs/ jars, compile errors), API detection by
reflection, entrypoint guards, per-call native output and soft timeouts."""
from __future__ import annotations

from emulator.languages.java import wrap_java_v2

from .contract_common import (RuntimeContract, assert_isolated_logs, assert_legacy_in_class,
                              assert_timeout_drops_late_output, call_concurrently, json_token, make_shout_jar,
                              native_context_json_leaks, native_context_json_lines, slow_function)

RUNTIME = "java-17.0"
HINT = "apt-get install -y default-jdk-headless"
contract = RuntimeContract(RUNTIME)

context_driver, legacy_driver, v2_driver = contract.driver_fixtures()
test_context, test_legacy, test_v2_wire = contract.contract_tests()


def test_runtime_ids():
    language = contract.assert_runtime_ids("java", ("8.0", "11.0", "17.0", "18.0", "21.0", "22", "25"), "1.4")
    assert language.default_entrypoint == "src/Main.java" and language.compiled
    toolchain = language.toolchain()
    assert toolchain.available or toolchain.hint.endswith(HINT), toolchain


def test_wrap_v2_keeps_lines():
    source = "// header\nimport java.util.Map;\n\npublic RuntimeResponse main(RuntimeRequest req, RuntimeResponse res) {\n  return res.send(\"x\");\n}\n"
    wrapped = wrap_java_v2(source, "io.openruntimes.java.src", "Index")
    lines = wrapped.split("\n")
    assert lines[0].startswith("package io.openruntimes.java.src; import io.openruntimes.java.*; // header")
    assert lines[2] == "public class Index { "
    assert lines[4] == '  return res.send("x");'  # same line number as in the source
    assert wrapped.rstrip().endswith("}")


STARTER = slow_function({
    # Appwrite's Java starter layout (minus the Appwrite SDK import), with a helper class in a
    # sub-package (dependencies.gradle: test_java_libraries.py).
    "src/Main.java": """
        package io.openruntimes.java.src;

        import io.openruntimes.java.RuntimeContext;
        import io.openruntimes.java.RuntimeOutput;
        import io.openruntimes.java.src.utils.Greeting;
        import java.util.HashMap;
        import java.util.Map;

        public class Main {
            public RuntimeOutput main(RuntimeContext context) throws Exception {
                String token = context.getReq().getHeaders().getOrDefault("x-token", "");
                if (token.equals("slow")) {
                    context.log("slow start");
                    Thread.sleep(SLOW_SECONDS * 1000);
                    System.out.println("late native output");
                    context.log("slow end");
                    // the test's signal: the function reached its end
                    java.nio.file.Files.write(java.nio.file.Paths.get(
                        context.getReq().getHeaders().get("x-marker")), new byte[0]);
                    return context.getRes().text("late");
                }
                if (context.getReq().getMethod().equals("GET")) {
                    context.log("Hello, Logs!");
                    context.error("Hello, Errors!");
                    return context.getRes().send(Greeting.hello());
                }
                System.out.println("native " + token);
                Thread.sleep(20);
                System.err.println("{\\"token\\":\\"" + token + "\\"}");
                context.log("context", token);
                Map<String, Object> json = new HashMap<>();
                json.put("token", token);
                json.put("motto", "Build Fast. Scale Big. All in One Place.");
                return context.getRes().json(json);
            }
        }
    """,
    "src/utils/Greeting.java": """
        package io.openruntimes.java.src.utils;

        public class Greeting {
            public static String hello() {
                return "Hello, World!";
            }
        }
    """,
})


def test_starter_isolation_and_timeouts(tmp_path):
    with contract.running(tmp_path, STARTER, "src/Main.java") as driver:
        r = driver.request("GET", headers={})
        assert r.status == 200 and r.text == "Hello, World!", r.short()
        assert r.logs == "Hello, Logs!\n" and r.errors == "Hello, Errors!\n", r.short()

        tokens = [f"t{i}" for i in range(12)]
        # System.err goes to the logs too
        assert_isolated_logs(tokens, call_concurrently(driver, tokens, 6), response=json_token,
                             lines=native_context_json_lines, leaks=native_context_json_leaks)
        # the adapter interrupts the call's thread: its sleep ends there
        assert_timeout_drops_late_output(driver, tmp_path / "slow.done", function_stopped=True, empty_body=True)


LEGACY_IN_CLASS = {
    # A v2 signature in a class: detected by reflection, no wrapping; libs/*.jar on the classpath.
    "src/Main.java": """
        package io.openruntimes.java.src;

        import com.example.Shout;
        import io.openruntimes.java.RuntimeRequest;
        import io.openruntimes.java.RuntimeResponse;
        import java.util.HashMap;
        import java.util.Map;

        public class Main {
            public RuntimeResponse main(RuntimeRequest req, RuntimeResponse res) {
                if (req.getPayload().equals("none")) {
                    return res;
                }
                res.send("first");
                Map<String, Object> body = new HashMap<>();
                body.put("id", req.getVariables().get("APPWRITE_FUNCTION_ID"));
                body.put("payload", Shout.shout(req.getPayload()));
                res.json(body, 201);
                return null;  // v2: the last send/json call is the response, whatever is returned
            }
        }
    """,
}


def test_legacy_signature_in_class_with_libs(tmp_path):
    if contract.language.toolchain().available:
        make_shout_jar(tmp_path, tmp_path / "src" / "libs" / "shout.jar")
    with contract.running(tmp_path, LEGACY_IN_CLASS, "src/Main.java", env={"APPWRITE_FUNCTION_ID": "fn1"}) as driver:
        assert "wrapping" not in driver.build_log
        assert_legacy_in_class(driver, "HI")


# repeat=2: not cached after a failure, the same answer every time
test_entrypoint_guards = contract.entrypoint_guards_test([
    ({"src/Main.java": "package io.openruntimes.java.src;\npublic class Main {}\n"}, "src/Missing.java",
     "Failed to load entrypoint, file src/Missing.java does not exist."),
    ({"src/Main.java": """
        package io.openruntimes.java.src;
        import io.openruntimes.java.*;
        public class Main {
            public RuntimeOutput handle(RuntimeContext context) { return context.getRes().empty(); }
        }
     """}, "src/Main.java", "Function signature invalid. Did you forget to export a 'main' function?"),
    ({"src/Main.java": """
        package io.openruntimes.java;
        public class Main {
            public RuntimeOutput main(RuntimeContext context) { return context.getRes().empty(); }
        }
     """}, "src/Main.java", "Failed to load module: class io.openruntimes.java.src.Main not found"),
    ({"src/Main.java": """
        package io.openruntimes.java.src;
        import io.openruntimes.java.*;
        public class Main {
            static final int PORT = Integer.parseInt("not a number");
            public RuntimeOutput main(RuntimeContext context) { return context.getRes().empty(); }
        }
     """}, "src/Main.java", "NumberFormatException"),
], ids=["missing", "no-main", "wrong-package", "static-init"], repeat=2, error_prefix=True)


def test_compile_error_fails_the_build(tmp_path):
    build_log = contract.build_log_of_failed_build(tmp_path, {"src/Main.java": """
        package io.openruntimes.java.src;
        import io.openruntimes.java.*;
        public class Main {
            public RuntimeOutput main(RuntimeContext context) {
                return context.getRes().text(undefinedName);
            }
        }
    """}, "src/Main.java")
    assert "Main.java:6" in build_log and "undefinedName" in build_log, build_log


test_development_mode_and_empty_secret = contract.development_mode_test()
test_throughput = contract.throughput_test(
    "Warm trivial calls, one after another, share one keep-alive connection (speed: make bench).")
