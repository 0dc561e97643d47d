"""The Java adapter against the shared contract (emulator/contract.py), plus Java specifics: the
compile step (starter layout, v2 snippet wrapping, libs/ jars, compile errors), API detection by
reflection, entrypoint guards, per-call native output and soft timeouts."""
from __future__ import annotations

import concurrent.futures
import socket
import subprocess
import textwrap
import time
import zipfile
from pathlib import Path

import pytest

from emulator.contract import V2_CHECKS, DirectDriver, ToolchainMissing, checks_for_api, run_check
from emulator.languages import language_for_runtime
from emulator.languages.base import BuildError
from emulator.languages.java import wrap_java_v2

RUNTIME = "java-17.0"
HINT = "apt-get install -y default-jdk-headless"


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
    for version in ("8.0", "11.0", "17.0", "18.0", "21.0", "22", "25"):
        assert language_for_runtime(f"java-{version}").key == "java"
    assert language_for_runtime("java-1.4") is None
    language = language_for_runtime(RUNTIME)
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


STARTER = {
    # Appwrite's Java starter layout (minus the Appwrite SDK import), with a helper class in a
    # sub-package and a Gradle file the local build can only mention.
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
                    Thread.sleep(2000);
                    System.out.println("late native output");
                    context.log("slow end");
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
    "build.gradle": "dependencies { implementation 'io.appwrite:sdk-for-kotlin:5.0.0' }\n",
}


def test_starter_isolation_and_timeouts(tmp_path):
    driver = start(source_dir=write(tmp_path / "src", STARTER), entrypoint="src/Main.java",
                   workdir=tmp_path / "work")
    try:
        assert "dependency resolution needs Maven or Gradle" in driver.build_log, driver.build_log
        r = driver.request("GET", headers={})
        assert r.status == 200 and r.text == "Hello, World!", r.short()
        assert r.logs == "Hello, Logs!\n" and r.errors == "Hello, Errors!\n", r.short()

        tokens = [f"t{i}" for i in range(12)]
        with concurrent.futures.ThreadPoolExecutor(6) as pool:
            results = list(pool.map(lambda t: driver.request(headers={"x-token": t}), tokens))
        for token, r in zip(tokens, results):
            assert r.status == 200 and r.json()["token"] == token, r.short()
            assert r.logs.count("Native logs detected.") == 1, r.short()
            assert f"native {token}\n" in r.logs and f"context {token}\n" in r.logs, r.short()
            assert f'{{"token":"{token}"}}\n' in r.logs, r.short()  # System.err goes to the logs too
            others = [t for t in tokens if t != token and (f"native {t}\n" in r.logs or f'"token":"{t}"' in r.logs
                                                           or f"context {t}\n" in r.logs)]
            assert not others, f"logs of {token} contain {others}: {r.logs!r}"

        started = time.monotonic()
        r = driver.request(headers={"x-token": "slow"}, timeout=1)
        assert time.monotonic() - started < 1.9
        assert r.status == 500 and r.body == b"" and "Execution timed out." in r.errors, r.short()
        assert "slow start" in r.logs and "slow end" not in r.logs
        time.sleep(1.5)  # the call goes on; what it writes later must not land in any log file
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
    src = write(tmp_path / "src", LEGACY_IN_CLASS)
    if language_for_runtime(RUNTIME).toolchain().available:
        make_jar(tmp_path, src / "libs" / "shout.jar")
    driver = start(source_dir=src, entrypoint="src/Main.java", workdir=tmp_path / "work",
                   env={"APPWRITE_FUNCTION_ID": "fn1"})
    try:
        assert "wrapping" not in driver.build_log
        r = driver.request(headers={}, body="hi")
        assert r.status == 201 and r.json() == {"id": "fn1", "payload": "HI"}, r.short()
        assert r.headers["content-type"].startswith("application/json"), r.short()
        r = driver.request(headers={}, body="none")
        assert r.status == 200 and r.body == b"", r.short()
    finally:
        driver.stop()


@pytest.mark.parametrize("files,entrypoint,message", [
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
], ids=["missing", "no-main", "wrong-package", "static-init"])
def test_entrypoint_guards(tmp_path, files, entrypoint, message):
    driver = start(source_dir=write(tmp_path / "src", files), entrypoint=entrypoint, workdir=tmp_path / "work")
    try:
        for _ in range(2):  # not cached after a failure: the same answer every time
            r = driver.request(headers={})
            assert r.status == 503 and r.body == b"", r.short()
            assert message in r.errors, r.short()
            assert r.errors.startswith(message.split(":")[0]) or "Failed to load module: " in r.errors, r.short()
            assert r.log_files
    finally:
        driver.stop()


def test_compile_error_fails_the_build(tmp_path):
    src = write(tmp_path / "src", {"src/Main.java": """
        package io.openruntimes.java.src;
        import io.openruntimes.java.*;
        public class Main {
            public RuntimeOutput main(RuntimeContext context) {
                return context.getRes().text(undefinedName);
            }
        }
    """})
    driver = DirectDriver(RUNTIME, source_dir=src, entrypoint="src/Main.java", workdir=tmp_path / "work")
    try:
        with pytest.raises(BuildError):
            driver.start()
    except ToolchainMissing as exc:
        pytest.skip(str(exc))
    finally:
        driver.stop()
    assert "Main.java:6" in driver.build_log and "undefinedName" in driver.build_log, driver.build_log


def test_development_mode_and_empty_secret(tmp_path):
    """Like the official secondary server: no secret, OPEN_RUNTIMES_ENV=development, empty headers."""
    driver = start(env={"OPEN_RUNTIMES_SECRET": "", "OPEN_RUNTIMES_ENV": "development", "OPEN_RUNTIMES_HEADERS": ""},
                   workdir=tmp_path / "work")
    try:
        r = driver.request(headers={"x-action": "logs"}, secret="wrongSecret")
        assert r.status == 200 and r.log_id == "dev", r.short()
        assert "Debug log" in r.logs and "Error log" in r.errors
        r = driver.request(headers={"x-action": "logs"}, secret=None, logging="disabled")
        assert r.status == 200 and r.headers.get("x-open-runtimes-log-id") == "" and not r.log_files
        r = driver.request(headers={"x-action": "enforcedHeaders", "x-custom": "mine"})
        assert r.json()["x-custom"] == "mine"
    finally:
        driver.stop()


def test_throughput(context_driver):
    """A warm trivial call must be cheap: keep-alive, nothing compiled or loaded per request."""
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
    assert rate > 300, f"only {rate:.0f} requests/s on one keep-alive connection"
