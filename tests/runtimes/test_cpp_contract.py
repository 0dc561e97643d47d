"""The C++ adapter against the shared contract (emulator/contract.py), plus C++ specifics: the
compile step (starter layout, v2 wrapping, compile errors), compile-time API detection, entrypoint
guards, and the process-per-call model (isolation, killed timeouts, crashes)."""
from __future__ import annotations

import concurrent.futures
import socket
import textwrap
import time
from pathlib import Path

import pytest

from emulator.contract import V2_CHECKS, DirectDriver, ToolchainMissing, checks_for_api, run_check
from emulator.languages import language_for_runtime
from emulator.languages.base import BuildError
from emulator.languages.cpp import wrap_v2

RUNTIME = "cpp-20"
HINT = "apt-get install -y g++ libjsoncpp-dev"


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


def write(root: Path, files: dict[str, str]) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(content))
    return root


def test_runtime_ids():
    for version in ("17", "20", "17.0", "20.0"):
        assert language_for_runtime(f"cpp-{version}").key == "cpp"
    assert language_for_runtime("cpp-11") is None
    language = language_for_runtime(RUNTIME)
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


STARTER = {
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
                  std::this_thread::sleep_for(std::chrono::seconds(2));
                  std::printf("late native output\\n");
                  context.log("slow end");
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
}


def test_starter_isolation_timeouts_and_crashes(tmp_path):
    driver = start(source_dir=write(tmp_path / "src", STARTER), entrypoint="src/index.cc",
                   workdir=tmp_path / "work")
    try:
        r = driver.request("GET", headers={})
        assert r.status == 200 and r.text == "Hello, World!" and r.logs == "Hello, Logs!\n", r.short()

        tokens = [f"t{i}" for i in range(12)]
        with concurrent.futures.ThreadPoolExecutor(6) as pool:
            results = list(pool.map(lambda t: driver.request(headers={"x-token": t}), tokens))
        for token, r in zip(tokens, results):
            assert r.status == 200 and r.json()["token"] == token, r.short()
            assert r.logs.count("Native logs detected.") == 1, r.short()
            assert f"native {token}\n" in r.logs and f"context {token}\n" in r.logs, r.short()
            assert f'{{"token":"{token}"}}\n' in r.logs, r.short()
            others = [t for t in tokens if t != token and (f"native {t}\n" in r.logs or f'"token":"{t}"' in r.logs
                                                           or f"context {t}\n" in r.logs)]
            assert not others, f"logs of {token} contain {others}: {r.logs!r}"

        started = time.monotonic()
        r = driver.request(headers={"x-token": "slow"}, timeout=1)
        assert time.monotonic() - started < 1.9
        assert r.status == 500 and r.body == b"" and "Execution timed out." in r.errors, r.short()
        assert "slow start" in r.logs and "slow end" not in r.logs
        time.sleep(1.5)  # the call was killed: nothing it would have written later may appear
        assert list(Path(driver.logs_dir).iterdir()) == []
        assert "late native output" not in driver.server_output()

        r = driver.request(headers={"x-token": "crash"})
        assert r.status == 500 and r.body == b"" and "signal 11" in r.errors, r.short()
        r = driver.request(headers={"x-token": "exit"})
        assert r.status == 500 and "exited with code 3" in r.errors, r.short()
        # each call starts from the server's state: a crash or a static counter does not carry over
        for _ in range(2):
            r = driver.request(headers={"x-token": "counter"})
            assert r.status == 200 and r.text == "1", r.short()
    finally:
        driver.stop()


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
    driver = start(source_dir=write(tmp_path / "src", LEGACY_IN_CLASS), entrypoint="src/index.cc",
                   workdir=tmp_path / "work", env={"APPWRITE_FUNCTION_ID": "fn1"})
    try:
        assert "wrapping" not in driver.build_log
        r = driver.request(headers={}, body="hi")
        assert r.status == 201 and r.json() == {"id": "fn1", "payload": "hi"}, r.short()
        assert r.headers["content-type"].startswith("application/json"), r.short()
        r = driver.request(headers={}, body="none")
        assert r.status == 200 and r.body == b"", r.short()
    finally:
        driver.stop()


@pytest.mark.parametrize("files,entrypoint,message", [
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
def test_entrypoint_guards(tmp_path, files, entrypoint, message):
    driver = start(source_dir=write(tmp_path / "src", files), entrypoint=entrypoint, workdir=tmp_path / "work")
    try:
        r = driver.request(headers={})
        assert r.status == 503 and r.body == b"", r.short()
        assert message in r.errors, r.short()
        assert r.log_files
    finally:
        driver.stop()


def test_compile_error_fails_the_build(tmp_path):
    src = write(tmp_path / "src", {"src/index.cc": """
        #include "../RuntimeContext.h"
        namespace runtime {
        class Handler {
         public:
          static RuntimeOutput main(RuntimeContext &context) {
            return context.res.text(undefined_name);
          }
        };
        }
    """})
    driver = DirectDriver(RUNTIME, source_dir=src, entrypoint="src/index.cc", workdir=tmp_path / "work")
    try:
        with pytest.raises(BuildError):
            driver.start()
    except ToolchainMissing as exc:
        pytest.skip(str(exc))
    finally:
        driver.stop()
    assert "src/index.cc:7" in driver.build_log and "undefined_name" in driver.build_log, driver.build_log


def test_throughput(context_driver):
    """A warm trivial call stays cheap on a keep-alive connection even with a process per call."""
    request = (f"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nx-action: plaintextResponse\r\n"
               f"x-open-runtimes-secret: {context_driver.secret}\r\nx-open-runtimes-timeout: 15\r\n"
               f"x-open-runtimes-logging: disabled\r\ncontent-length: 0\r\n\r\n").encode()
    tail = "Hello World 👋".encode()
    with socket.create_connection(("127.0.0.1", context_driver.port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        count, started = 0, time.monotonic()
        while time.monotonic() - started < 1.5:
            sock.sendall(request)
            data = b""
            while not data.endswith(tail):
                chunk = sock.recv(65536)
                assert chunk, "connection closed"
                data += chunk
            assert data.startswith(b"HTTP/1.1 200")
            count += 1
        rate = count / (time.monotonic() - started)
    assert rate > 150, f"only {rate:.0f} requests/s on one keep-alive connection"
