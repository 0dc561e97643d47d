"""The C++ adapter against the shared contract (emulator/contract/), plus C++ specifics: the
compile step (starter layout, v2 wrapping, compile errors), compile-time API detection, entrypoint
guards, and the process-per-call model (isolation, killed timeouts, crashes)."""
from __future__ import annotations

from emulator.languages.cpp import wrap_v2

from .contract_common import (RuntimeContract, assert_isolated_logs, assert_legacy_in_class,
                              assert_timeout_drops_late_output, call_concurrently, json_token,
                              native_context_json_leaks, native_context_json_lines, slow_function)

RUNTIME = "cpp-20"
HINT = "apt-get install -y g++ libjsoncpp-dev libcurl4-openssl-dev"
contract = RuntimeContract(RUNTIME)

context_driver, legacy_driver, v2_driver = contract.driver_fixtures()
test_context, test_legacy, test_v2_wire = contract.contract_tests()


def test_runtime_ids():
    language = contract.assert_runtime_ids("cpp", ("17", "20", "17.0", "20.0"), "11")
    assert language.default_entrypoint == "src/index.cc" and language.compiled
    toolchain = language.toolchain()
    if toolchain.available:
        assert "jsoncpp" in toolchain.version, toolchain
    else:
        assert toolchain.hint.endswith(HINT), toolchain


def test_wrap_v2_keeps_includes_at_file_scope():
    source = "#include <string>\nusing namespace std;\n\nstatic RuntimeResponse &main(const RuntimeRequest &req, RuntimeResponse &res) {\n  using std::string;\n  return res.send(req.payload);\n}\n"
    wrapped = wrap_v2(source, "src/index.cc")
    head, body = wrapped.split("class Handler {", 1)
    assert "#include <string>" in head and "using namespace std;" in head
    assert "#include" not in body and "using namespace std;" not in body
    assert "  using std::string;" in body  # indented lines stay in the function
    assert '#line 1 "src/index.cc"' in body


STARTER = slow_function({
    # Appwrite's C++ starter layout: src/index.cc includes the runtime headers from the root.
    "src/index.cc": """
        #include "../RuntimeResponse.h"
        #include "../RuntimeRequest.h"
        #include "../RuntimeOutput.h"
        #include "../RuntimeContext.h"

        #include <chrono>
        #include <csignal>
        #include <cstdio>
        #include <cstdlib>
        #include <fstream>
        #include <iostream>
        #include <string>
        #include <thread>

        namespace runtime {
          class Handler {
            public:
              static RuntimeOutput main(RuntimeContext &context) {
                std::string token = context.req.headers.get("x-token", "").asString();
                if (token == "slow") {
                  context.log("slow start");
                  std::this_thread::sleep_for(std::chrono::seconds(SLOW_SECONDS));
                  std::printf("late native output\\n");
                  context.log("slow end");
                  // the test's signal: the function reached its end
                  std::ofstream(context.req.headers.get("x-marker", "").asString()).close();
                  return context.res.text("late");
                }
                if (token == "crash") std::raise(SIGSEGV);
                if (token == "exit") std::exit(3);
                if (token == "counter") {
                  static int calls = 0;
                  return context.res.text(std::to_string(++calls));
                }
                if (context.req.method == "GET") {
                  context.log("Hello, Logs!");
                  return context.res.send("Hello, World!");
                }
                std::printf("native %s\\n", token.c_str());
                std::this_thread::sleep_for(std::chrono::milliseconds(20));
                std::cerr << "{\\"token\\":\\"" << token << "\\"}" << std::endl;
                context.log("context", token);
                Json::Value response;
                response["token"] = token;
                response["motto"] = "Build Fast. Scale Big. All in One Place.";
                return context.res.json(response);
              }
          };
        }
    """,
})


def test_starter_isolation_timeouts_and_crashes(tmp_path):
    with contract.running(tmp_path, STARTER, "src/index.cc") as driver:
        r = driver.request("GET", headers={})
        assert r.status == 200 and r.text == "Hello, World!" and r.logs == "Hello, Logs!\n", r.short()

        tokens = [f"t{i}" for i in range(12)]
        assert_isolated_logs(tokens, call_concurrently(driver, tokens, 6), response=json_token,
                             lines=native_context_json_lines, leaks=native_context_json_leaks)
        # the call is killed: nothing it would have written later may appear
        assert_timeout_drops_late_output(driver, tmp_path / "slow.done", function_stopped=True, empty_body=True,
                                         late_output_hidden=True)

        r = driver.request(headers={"x-token": "crash"})
        assert r.status == 500 and r.body == b"" and "signal 11" in r.errors, r.short()
        r = driver.request(headers={"x-token": "exit"})
        assert r.status == 500 and "exited with code 3" in r.errors, r.short()
        # each call starts from the server's state: a crash or a static counter does not carry over
        for _ in range(2):
            r = driver.request(headers={"x-token": "counter"})
            assert r.status == 200 and r.text == "1", r.short()


LEGACY_IN_CLASS = {
    # A v2 signature inside class Handler: detected at compile time, no wrapping needed.
    "src/index.cc": """
        #include "../RuntimeResponse.h"
        #include "../RuntimeRequest.h"
        #include <string>

        namespace runtime {
        class Handler {
         public:
          static RuntimeResponse &main(const RuntimeRequest &req, RuntimeResponse &res) {
            if (req.payload == "none") return res;
            res.send("first");
            Json::Value body;
            body["id"] = req.variables["APPWRITE_FUNCTION_ID"];
            body["payload"] = req.payload;
            res.json(body, 201);
            return res;
          }
        };
        }  // namespace runtime
    """,
}


def test_legacy_signature_in_handler_class(tmp_path):
    with contract.running(tmp_path, LEGACY_IN_CLASS, "src/index.cc", env={"APPWRITE_FUNCTION_ID": "fn1"}) as driver:
        assert "wrapping" not in driver.build_log
        assert_legacy_in_class(driver, "hi")


test_entrypoint_guards = contract.entrypoint_guards_test([
    ({"src/index.cc": "int x;\n"}, "src/missing.cc", "Failed to load entrypoint, file src/missing.cc does not exist."),
    ({"src/index.cc": """
        #include "../RuntimeContext.h"
        namespace runtime {
        class Handler {
         public:
          static RuntimeOutput handle(RuntimeContext &context) { return context.res.empty(); }
        };
        }
     """}, "src/index.cc", "Function signature invalid. Did you forget to export a 'main' function?"),
], ids=["missing", "no-main"])


def test_compile_error_fails_the_build(tmp_path):
    build_log = contract.build_log_of_failed_build(tmp_path, {"src/index.cc": """
        #include "../RuntimeContext.h"
        namespace runtime {
        class Handler {
         public:
          static RuntimeOutput main(RuntimeContext &context) {
            return context.res.text(undefined_name);
          }
        };
        }
    """}, "src/index.cc")
    assert "src/index.cc:7" in build_log and "undefined_name" in build_log, build_log


test_throughput = contract.throughput_test(
    "Warm trivial calls, one after another, share one keep-alive connection (speed: make bench).")
