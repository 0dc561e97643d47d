"""What every tests/runtimes/test_<lang>_contract.py shares: starting a DirectDriver (skipping with the
toolchain's install hint; under CI=true failing instead, see support.require_toolchain), the contract
fixtures and parametrized tests, and the scenarios each language runs with its own function source
(entrypoint guards, log isolation under concurrency, timeouts and late output, development mode,
keep-alive, v2 signatures in a class, compile errors).

A language file binds the generated fixtures and tests to module-level names, so pytest collects them
there under the usual names (test_context[...], test_throughput, ...):

    contract = RuntimeContract("node-20.0")
    context_driver, legacy_driver, v2_driver = contract.driver_fixtures()
    test_context, test_legacy, test_v2_wire = contract.contract_tests()

Each factory call returns new function objects, so parametrize marks never leak between languages."""
from __future__ import annotations

import concurrent.futures
import contextlib
import socket
import subprocess
import textwrap
import time
import zipfile
from pathlib import Path
from typing import Callable, Iterable, Iterator

import pytest

from emulator.contract import V2_CHECKS, DirectDriver, Result, ToolchainMissing, checks_for_api, run_check
from emulator.hostbuild import build_on_host
from emulator.languages import language_for_runtime
from emulator.languages.base import BuildError
from support import require_toolchain

DEVELOPMENT_ENV = {"OPEN_RUNTIMES_SECRET": "", "OPEN_RUNTIMES_ENV": "development", "OPEN_RUNTIMES_HEADERS": ""}


def write(root: Path, files: dict[str, str]) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(content))
    return root


class RuntimeContract:
    """Driver start-up and test factories for one runtime id such as "python-3.11"."""

    def __init__(self, runtime: str):
        self.runtime = runtime

    @property
    def language(self):
        return language_for_runtime(self.runtime)

    def start(self, api: str = "context", **kwargs) -> DirectDriver:
        driver = DirectDriver(self.runtime, api=api, **kwargs)
        try:
            driver.start()
        except ToolchainMissing as exc:
            missing = str(exc)
        else:
            return driver
        require_toolchain(self.language.key, missing)

    @contextlib.contextmanager
    def running(self, tmp_path: Path, files: dict[str, str], entrypoint: str, **kwargs) -> Iterator[DirectDriver]:
        """A driver on a function written from `files` into tmp_path/src, stopped afterwards."""
        driver = self.start(source_dir=write(tmp_path / "src", files), entrypoint=entrypoint,
                            workdir=tmp_path / "work", **kwargs)
        try:
            yield driver
        finally:
            driver.stop()

    def require_toolchain(self) -> None:
        toolchain = self.language.toolchain()
        if not toolchain.available:
            require_toolchain(self.language.key, toolchain.hint)

    def host_build(self, root: Path, entrypoint: str) -> list[str]:
        """Build `root` in place with build_on_host (no install command); returns the build output.
        Callers skip first with require_toolchain()."""
        logs: list[str] = []
        build_on_host(self.language, root, entrypoint, "", {}, logs.append)
        return logs

    def build_log_of_failed_build(self, tmp_path: Path, files: dict[str, str], entrypoint: str) -> str:
        """Starts a driver on `files` expecting the build to fail; returns the build log."""
        driver = DirectDriver(self.runtime, source_dir=write(tmp_path / "src", files), entrypoint=entrypoint,
                              workdir=tmp_path / "work")
        missing = ""
        try:
            with pytest.raises(BuildError):
                driver.start()
        except ToolchainMissing as exc:
            missing = str(exc)
        finally:
            driver.stop()
        if missing:
            require_toolchain(self.language.key, missing)
        return driver.build_log

    def assert_runtime_ids(self, key: str, versions: Iterable[str], unsupported: str):
        for version in versions:
            assert language_for_runtime(f"{key}-{version}").key == key
        assert language_for_runtime(f"{key}-{unsupported}") is None
        return self.language

    def assert_default_install(self, tmp_path: Path, dependency_file: str, command: str) -> None:
        """No install command without the dependency file; `command` once it exists."""
        assert self.language.default_install(tmp_path) == ""
        (tmp_path / dependency_file).write_text("{}")
        assert self.language.default_install(tmp_path) == command

    # --- generated fixtures and tests ---

    def driver_fixtures(self):
        """Module-scoped drivers on runtimes/<lang>/tests/: context API, legacy API, legacy API on the v2 wire."""
        def make(name: str, api: str, **kwargs):
            @pytest.fixture(scope="module", name=name)
            def fixture():
                driver = self.start(api, **kwargs)
                yield driver
                driver.stop()
            return fixture

        return (make("context_driver", "context"), make("legacy_driver", "legacy"),
                make("v2_driver", "legacy", wire="v2"))

    def contract_tests(self, emulator_level: bool = False):
        """test_context, test_legacy and test_v2_wire over the shared checks. With `emulator_level` the
        emulator-level checks are listed too, and skip here (they run through the emulator's API)."""
        level = None if emulator_level else "runtime"

        def verify(driver, check):
            if emulator_level and check.level == "emulator":
                pytest.skip("emulator-level check: runs through the emulator's API (ApiDriver)")
            result = run_check(driver, check)
            assert result.passed, result.detail

        @pytest.mark.parametrize("check", checks_for_api("context", level=level), ids=lambda c: c.name)
        def test_context(context_driver, check):
            verify(context_driver, check)

        @pytest.mark.parametrize("check", checks_for_api("legacy", level=level), ids=lambda c: c.name)
        def test_legacy(legacy_driver, check):
            verify(legacy_driver, check)

        @pytest.mark.parametrize("check", V2_CHECKS, ids=lambda c: c.name)
        def test_v2_wire(v2_driver, check):
            verify(v2_driver, check)

        return test_context, test_legacy, test_v2_wire

    def entrypoint_guards_test(self, cases: list[tuple[dict[str, str], str, str]], ids: list[str], *,
                               repeat: int = 1, error_prefix: bool = False):
        """test_entrypoint_guards over (files, entrypoint, message) cases: every call answers 503 with an
        empty body and `message` in the error log. `repeat` > 1 checks a failed load is not cached;
        `error_prefix` also wants the error log to start with the message's first part (or a load
        failure)."""
        @pytest.mark.parametrize("files,entrypoint,message", cases, ids=ids)
        def test_entrypoint_guards(tmp_path, files, entrypoint, message):
            with self.running(tmp_path, files, entrypoint) as driver:
                for _ in range(repeat):
                    assert_entrypoint_guard(driver.request(headers={}), message, error_prefix=error_prefix)

        return test_entrypoint_guards

    def development_mode_test(self, custom_log_id: bool = False):
        """test_development_mode_and_empty_secret; `custom_log_id` also checks a caller's log id is kept."""
        def test_development_mode_and_empty_secret(tmp_path):
            """Like the official secondary server: no secret, OPEN_RUNTIMES_ENV=development, empty headers."""
            driver = self.start(env=DEVELOPMENT_ENV, workdir=tmp_path / "work")
            try:
                r = driver.request(headers={"x-action": "logs"}, secret="wrongSecret")
                assert r.status == 200 and r.log_id == "dev", r.short()
                assert "Debug log" in r.logs and "Error log" in r.errors
                r = driver.request(headers={"x-action": "logs"}, secret=None, logging="disabled")
                assert r.status == 200 and r.headers.get("x-open-runtimes-log-id") == "" and not r.log_files
                if custom_log_id:
                    r = driver.request(headers={"x-action": "logs"}, log_id="myLog")
                    assert r.log_id == "myLog" and "Debug log" in r.logs
                r = driver.request(headers={"x-action": "enforcedHeaders", "x-custom": "mine"})
                assert r.json()["x-custom"] == "mine"
            finally:
                driver.stop()

        return test_development_mode_and_empty_secret

    def throughput_test(self, doc: str, calls: int = 300):
        """test_throughput: `calls` plaintext calls one after another on one keep-alive connection, each
        answered 200 on that same connection. How fast is `make bench`'s business (bench/), not a
        wall-clock threshold here that a loaded machine would trip."""
        def test_throughput(context_driver):
            request = (f"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nx-action: plaintextResponse\r\n"
                       f"x-open-runtimes-secret: {context_driver.secret}\r\nx-open-runtimes-timeout: 15\r\n"
                       f"x-open-runtimes-logging: disabled\r\ncontent-length: 0\r\n\r\n").encode()
            tail = "Hello World 👋".encode()
            with socket.create_connection(("127.0.0.1", context_driver.port)) as sock:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sock.settimeout(30)
                for count in range(calls):
                    sock.sendall(request)
                    data = b""
                    while not data.endswith(tail):
                        chunk = sock.recv(65536)
                        assert chunk, f"connection closed after {count} calls: keep-alive must hold"
                        data += chunk
                    assert data.startswith(b"HTTP/1.1 200"), data[:200]
                    assert b"connection: close" not in data.lower(), data[:200]

        test_throughput.__doc__ = doc
        return test_throughput


# --- assertions the language files combine with their own function sources ---

def assert_entrypoint_guard(r: Result, message: str, error_prefix: bool = False) -> None:
    assert r.status == 503 and r.body == b"", r.short()
    assert message in r.errors, r.short()
    if error_prefix:
        assert r.errors.startswith(message.split(":")[0]) or "Failed to load module: " in r.errors, r.short()
    assert r.log_files


def native_context_lines(token: str) -> list[str]:
    return [f"native {token}\n", f"context {token}\n"]


def native_context_json_lines(token: str) -> list[str]:
    """What the echo functions log per call: native stdout, context.log and a JSON object on stderr."""
    return [f"native {token}\n", f"context {token}\n", f'{{"token":"{token}"}}\n']


def native_context_json_leaks(token: str) -> list[str]:
    return [f"native {token}\n", f'"token":"{token}"', f"context {token}\n"]


def line_end_leaks(token: str) -> list[str]:
    """Any log line that ends in the token: for functions whose every line ends with it."""
    return [f" {token}\n"]


def upper_text(r: Result, token: str) -> bool:
    return r.text == token.upper()


def json_token(r: Result, token: str) -> bool:
    return r.json()["token"] == token


def call_concurrently(driver: DirectDriver, tokens: list[str], workers: int) -> list[Result]:
    """One call per token, each with header x-token, from `workers` threads (so on as many connections)."""
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        return list(pool.map(lambda t: driver.request(headers={"x-token": t}), tokens))


def call_through_barrier(driver: DirectDriver, tokens: list[str], barrier: Path, *, headers: dict[str, str] | None = None,
                         while_held: Callable[[], None] | None = None) -> list[Result]:
    """One call per token, each on its own connection with headers x-token and x-barrier. The
    function creates `barrier`/<token>, then waits until `barrier`/release exists. All token files
    existing at once proves the calls run concurrently (serialized calls would never get there, and
    the test fails at the deadline); `while_held()` runs at that moment, then the calls are released."""
    barrier.mkdir(parents=True, exist_ok=True)
    with concurrent.futures.ThreadPoolExecutor(len(tokens)) as pool:
        calls = [pool.submit(driver.request, headers={**(headers or {}), "x-token": t, "x-barrier": str(barrier)})
                 for t in tokens]
        try:
            deadline = time.monotonic() + 60
            while not all((barrier / t).exists() for t in tokens):
                finished = [c.result().short() for c in calls if c.done()]
                assert not finished, f"a call ended before all {len(tokens)} were running: {finished}"
                arrived = sorted(p.name for p in barrier.iterdir())
                assert time.monotonic() < deadline, f"only {arrived} of {tokens} ever ran at the same time"
                time.sleep(0.02)
            if while_held is not None:
                while_held()
        finally:
            (barrier / "release").touch()
        return [c.result() for c in calls]


def assert_isolated_logs(tokens: list[str], results: list[Result], *, response: Callable[[Result, str], bool],
                         lines: Callable[[str], list[str]], leaks: Callable[[str], list[str]],
                         native_notice: bool = True) -> None:
    """Each call answered 200 with `response(r, token)` true, its log holds `lines(token)` and no other
    call's `leaks(t)`; with `native_notice`, native output is announced exactly once."""
    for token, r in zip(tokens, results):
        assert r.status == 200 and response(r, token), r.short()
        if native_notice:
            assert r.logs.count("Native logs detected.") == 1, r.short()
        for line in lines(token):
            assert line in r.logs, r.short()
        others = [t for t in tokens if t != token and any(leak in r.logs for leak in leaks(t))]
        assert not others, f"logs of {token} contain {others}: {r.logs!r}"


SLOW_SECONDS = 3  # how long the "slow" call of the language files sleeps before its late output


def slow_function(files: dict[str, str]) -> dict[str, str]:
    """`files` with SLOW_SECONDS in their sources replaced by its value."""
    return {name: source.replace("SLOW_SECONDS", str(SLOW_SECONDS)) for name, source in files.items()}


def assert_timeout_drops_late_output(driver: DirectDriver, marker: Path, token: str = "slow", *,
                                     function_stopped: bool, empty_body: bool = False,
                                     late_output_hidden: bool = False) -> None:
    """A call with headers x-token `token` and x-marker `marker` logs "<token> start", sleeps
    SLOW_SECONDS (past its 1 s timeout), then writes late output ("late native output", "<token> end")
    and only then creates the file `marker`: the function's own signal that it reached its end.

    The call answers 500 "Execution timed out." (with an empty body if `empty_body`) before the
    function ends (no marker yet). Then, with `function_stopped` (the adapter stops the function: a
    killed process, an exception raised into its thread), the marker must not appear by the time the
    function would have ended plus a margin; otherwise (the function runs on, as a soft timeout lets
    it) the test waits for the marker, so the late output surely happened, and checks it was dropped:
    nothing in the log files (nor, with `late_output_hidden`, in the server's own output)."""
    r = driver.request(headers={"x-token": token, "x-marker": str(marker)}, timeout=1)
    answered_before_end = not marker.exists()
    started_waiting = time.monotonic()
    assert r.status == 500 and (not empty_body or r.body == b"") and "Execution timed out." in r.errors, r.short()
    assert f"{token} start" in r.logs and f"{token} end" not in r.logs, r.short()
    assert answered_before_end, "the timeout must answer before the function ends"
    if function_stopped:
        # Nothing to wait on when the function is stopped, so wait for the time it would have taken
        # (it started before the response) and a margin for a loaded machine.
        deadline = started_waiting + SLOW_SECONDS + 3
        while time.monotonic() < deadline and not marker.exists():
            time.sleep(0.05)
        assert not marker.exists(), "the function kept running after its timeout"
    else:
        deadline = started_waiting + SLOW_SECONDS + 60
        while time.monotonic() < deadline and not marker.exists():
            time.sleep(0.05)
        assert marker.exists(), "the function never reached its end"
        # The late writes were issued before the marker; give the runtime's output readers a
        # moment to (wrongly) store them, then look.
        time.sleep(0.5)
    assert list(Path(driver.logs_dir).iterdir()) == [], "nothing is written after the timeout"
    if late_output_hidden:
        assert "late native output" not in driver.server_output()


def assert_exit_stops_server(driver: DirectDriver, headers: dict[str, str], code: int, output: str) -> None:
    """An exit inside the function ends the runtime with its code, as in a one-process server."""
    with pytest.raises(OSError):
        driver.request(headers=headers)
    assert driver.proc.wait(5) == code
    assert output in driver.server_output()


def assert_legacy_in_class(driver: DirectDriver, payload: str) -> None:
    """A v2 handler that answers body "none" with the untouched response, otherwise calls send and then
    json({id: APPWRITE_FUNCTION_ID, payload: ...}, 201): the last call wins."""
    r = driver.request(headers={}, body="hi")
    assert r.status == 201 and r.json() == {"id": "fn1", "payload": payload}, r.short()
    assert r.headers["content-type"].startswith("application/json"), r.short()
    r = driver.request(headers={}, body="none")
    assert r.status == 200 and r.body == b"", r.short()


def make_shout_jar(tmp_path: Path, target: Path) -> None:
    """libs/shout.jar with com.example.Shout, built with javac and zipped (a jar is a zip); for the
    JVM languages' libs/ tests."""
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
