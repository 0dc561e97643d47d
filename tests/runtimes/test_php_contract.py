"""The PHP adapter against the shared contract (emulator/contract.py), plus PHP specifics:
v2 wire, composer builds, entrypoint loading, the forked worker (hard timeouts, fatal errors,
exit), keep-alive throughput."""
from __future__ import annotations

import concurrent.futures
import shutil
import socket
import textwrap
import time
from pathlib import Path

import pytest

from emulator.contract import (V2_CHECKS, DirectDriver, ToolchainMissing, checks_for_api, run_check)
from emulator.hostbuild import build_on_host
from emulator.languages import language_for_runtime

RUNTIME = "php-8.2"


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
    for version in ("8.0", "8.1", "8.2", "8.3", "8.4"):
        assert language_for_runtime(f"php-{version}").key == "php"
    assert language_for_runtime("php-7.4") is None
    language = language_for_runtime(RUNTIME)
    assert language.default_entrypoint == "index.php"
    assert set(language.dependency_files) == {"composer.json", "composer.lock"}


def test_no_install_without_composer_json(tmp_path):
    language = language_for_runtime(RUNTIME)
    assert language.default_install(tmp_path) == ""
    (tmp_path / "composer.json").write_text("{}")
    assert language.default_install(tmp_path) == "composer install --no-interaction"


def test_composer_build(tmp_path):
    """`composer install` runs in the build dir and the adapter loads vendor/autoload.php."""
    if shutil.which("composer") is None:
        pytest.skip("composer not found. Install: apt-get install -y composer")
    src = write(tmp_path / "src", {
        "composer.json": '{"name": "test/fn", "autoload": {"psr-4": {"App\\\\": "lib/"}}}',
        "lib/Greeter.php": "<?php\nnamespace App;\nclass Greeter { public static function hi(): string { return 'hi'; } }\n",
        "src/main.php": "<?php\nreturn function ($context) { return $context->res->text(\\App\\Greeter::hi() . ' ' . __DIR__); };\n",
    })
    driver = start(source_dir=src, entrypoint="src/main.php", workdir=tmp_path / "work")
    try:
        assert "$ composer install --no-interaction" in driver.build_log
        assert (driver.code_dir / "vendor" / "autoload.php").is_file()
        r = driver.request(headers={})
        assert r.status == 200 and r.text == f"hi {driver.code_dir / 'src'}", r.short()
    finally:
        driver.stop()


@pytest.mark.parametrize("files,entrypoint,message", [
    ({"index.php": "<?php return function ($c) { return $c->res->text('x'); };"}, "missing.php",
     "Failed to load entrypoint, file missing.php does not exist."),
    ({"index.php": "<?php return function ($c) { return $c->res->text('x') };"}, "index.php", "Syntax error in "),
    ({"index.php": "<?php function main($c) { return 1; }"}, "index.php",
     "Function signature invalid. Did you forget to export a 'main' function?"),
    ({"index.php": "<?php throw new RuntimeException('boom at load');"}, "index.php",
     "Failed to load module: RuntimeException: boom at load"),
    ({"index.php": "<?php function twice() {} function twice() {} return fn ($c) => null;"}, "index.php",
     "Failed to load module: Cannot redeclare twice()"),
], ids=["missing", "syntax", "no-callable", "throws", "fatal"])
def test_entrypoint_guards(tmp_path, files, entrypoint, message):
    driver = start(source_dir=write(tmp_path / "src", files), entrypoint=entrypoint, workdir=tmp_path / "work")
    try:
        for _ in range(2):  # a failed load is reported the same way again, never a crash
            r = driver.request(headers={})
            assert r.status == 503 and r.body == b"", r.short()
            assert message in r.errors, r.short()
            assert r.log_files
    finally:
        driver.stop()


WORKER_FUNCTION = {
    "index.php": """
        <?php
        $calls = 0;
        return function ($context) use (&$calls) {
            $calls++;
            switch ($context->req->headers['x-action'] ?? '') {
                case 'count':
                    return $context->res->text((string) $calls);
                case 'stubborn':  // swallows everything a signal or exception could throw at it
                    $context->log('stubborn start');
                    while (true) {
                        try { usleep(100000); } catch (\\Throwable $e) {}
                    }
                case 'memory':
                    ini_set('memory_limit', '32M');
                    $blocks = [];
                    while (true) { $blocks[] = str_repeat('x', 1 << 20); }
                case 'exit':
                    echo 'bye';
                    exit(3);
                case 'slow':
                    $token = $context->req->headers['x-token'] ?? '';
                    echo "native {$token}\n";
                    $context->log('context', $token);
                    usleep(500000);
                    return $context->res->text(strtoupper($token));
            }
        };
    """,
}


def test_worker_state_hard_timeout_and_fatal_errors(tmp_path):
    driver = start(source_dir=write(tmp_path / "src", WORKER_FUNCTION), entrypoint="index.php",
                   workdir=tmp_path / "work")
    try:
        counts = [driver.request(headers={"x-action": "count"}).text for _ in range(3)]
        assert counts == ["1", "2", "3"], "the entry file is included once; state survives between calls"

        started = time.monotonic()
        r = driver.request(headers={"x-action": "stubborn"}, timeout=1)
        assert time.monotonic() - started < 2.5
        assert r.status == 500 and r.body == b"" and "Execution timed out." in r.errors, r.short()
        assert "stubborn start" in r.logs
        r = driver.request(headers={"x-action": "count"})
        assert r.status == 200 and r.text == "1", "a fresh worker serves the next call"

        r = driver.request(headers={"x-action": "memory"})
        assert r.status == 500 and "Allowed memory size" in r.errors, r.short()
        r = driver.request(headers={"x-action": "count"})
        assert r.status == 200 and r.text == "1", r.short()

        r = driver.request("GET", "/__opr/health", secret=None, timeout=None)
        assert r.status == 200 and r.text == "OK"
    finally:
        driver.stop()


def test_concurrent_calls_run_in_parallel_workers(tmp_path):
    driver = start(source_dir=write(tmp_path / "src", WORKER_FUNCTION), entrypoint="index.php",
                   workdir=tmp_path / "work")
    try:
        tokens = [f"t{i}" for i in range(6)]
        started = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(7) as pool:
            calls = [pool.submit(driver.request, headers={"x-action": "slow", "x-token": t}) for t in tokens]
            time.sleep(0.2)
            health = driver.request("GET", "/__opr/health", secret=None, timeout=None)
            assert health.status == 200 and time.monotonic() - started < 0.45, "health is answered during calls"
            results = [c.result() for c in calls]
        assert time.monotonic() - started < 2.0, "calls on different connections run concurrently"
        for token, r in zip(tokens, results):
            assert r.status == 200 and r.text == token.upper(), r.short()
            assert f"native {token}\n" in r.logs and f"context {token}\n" in r.logs, r.short()
            others = [t for t in tokens if t != token and f" {t}\n" in r.logs]
            assert not others, f"logs of {token} contain {others}: {r.logs!r}"
    finally:
        driver.stop()


def test_exit_stops_the_server(tmp_path):
    """exit() in a function ends the runtime with its code, as in a one-process server."""
    driver = start(source_dir=write(tmp_path / "src", WORKER_FUNCTION), entrypoint="index.php",
                   workdir=tmp_path / "work")
    try:
        with pytest.raises(OSError):
            driver.request(headers={"x-action": "exit"})
        assert driver.proc.wait(5) == 3
        assert "exited with code 3" in driver.server_output()
    finally:
        driver.stop()


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


def test_idle_connection_does_not_block_others(context_driver):
    with socket.create_connection(("127.0.0.1", context_driver.port)) as idle:
        idle.sendall(b"POST / HTTP/1.1\r\nHost: x\r\n")  # a half-sent request
        r = context_driver.request(headers={"x-action": "plaintextResponse"}, read_timeout=5)
        assert r.status == 200


def test_throughput(context_driver):
    """A warm trivial call must be cheap: keep-alive, no per-request process or interpreter work."""
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
    assert rate > 400, f"only {rate:.0f} requests/s on one keep-alive connection"


def test_build_without_dependencies_is_instant(tmp_path):
    language = language_for_runtime(RUNTIME)
    if not language.toolchain().available:
        pytest.skip(language.toolchain().hint)
    write(tmp_path, {"index.php": "<?php return fn ($c) => $c->res->text('ok');\n"})
    logs: list[str] = []
    build_on_host(language, tmp_path, "index.php", "", {}, logs.append)
    assert logs == []
