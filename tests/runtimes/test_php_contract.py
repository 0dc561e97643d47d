"""The PHP adapter against the shared contract (emulator/contract/), plus PHP specifics:
v2 wire, composer builds, entrypoint loading, the forked worker (hard timeouts, fatal errors,
exit), keep-alive throughput."""
from __future__ import annotations

import shutil
import socket

from support import process_running, require_toolchain, wait_for

from .contract_common import (RuntimeContract, assert_exit_stops_server, assert_isolated_logs, call_through_barrier,
                              line_end_leaks, native_context_lines, upper_text, write)

RUNTIME = "php-8.2"
contract = RuntimeContract(RUNTIME)

context_driver, legacy_driver, v2_driver = contract.driver_fixtures()
test_context, test_legacy, test_v2_wire = contract.contract_tests()


def test_runtime_ids():
    language = contract.assert_runtime_ids("php", ("8.0", "8.1", "8.2", "8.3", "8.4"), "7.4")
    assert language.default_entrypoint == "index.php"
    assert set(language.dependency_files) == {"composer.json", "composer.lock"}


def test_no_install_without_composer_json(tmp_path):
    contract.assert_default_install(tmp_path, "composer.json", "composer install --no-interaction")


def test_composer_build(tmp_path):
    """`composer install` runs in the build dir and the adapter loads vendor/autoload.php."""
    if shutil.which("composer") is None:
        require_toolchain("composer", "composer not found. Install: apt-get install -y composer")
    with contract.running(tmp_path, {
        "composer.json": '{"name": "test/fn", "autoload": {"psr-4": {"App\\\\": "lib/"}}}',
        "lib/Greeter.php": "<?php\nnamespace App;\nclass Greeter { public static function hi(): string { return 'hi'; } }\n",
        "src/main.php": "<?php\nreturn function ($context) { return $context->res->text(\\App\\Greeter::hi() . ' ' . __DIR__); };\n",
    }, "src/main.php") as driver:
        assert "$ composer install --no-interaction" in driver.build_log
        assert (driver.code_dir / "vendor" / "autoload.php").is_file()
        r = driver.request(headers={})
        assert r.status == 200 and r.text == f"hi {driver.code_dir / 'src'}", r.short()


# repeat=2: a failed load is reported the same way again, never a crash
test_entrypoint_guards = contract.entrypoint_guards_test([
    ({"index.php": "<?php return function ($c) { return $c->res->text('x'); };"}, "missing.php",
     "Failed to load entrypoint, file missing.php does not exist."),
    ({"index.php": "<?php return function ($c) { return $c->res->text('x') };"}, "index.php", "Syntax error in "),
    ({"index.php": "<?php function main($c) { return 1; }"}, "index.php",
     "Function signature invalid. Did you forget to export a 'main' function?"),
    ({"index.php": "<?php throw new RuntimeException('boom at load');"}, "index.php",
     "Failed to load module: RuntimeException: boom at load"),
    ({"index.php": "<?php function twice() {} function twice() {} return fn ($c) => null;"}, "index.php",
     "Failed to load module: Cannot redeclare twice()"),
], ids=["missing", "syntax", "no-callable", "throws", "fatal"], repeat=2)


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
                    file_put_contents($context->req->headers['x-marker'], (string) getmypid());
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
                case 'slow':  // waits at the test's barrier (see call_through_barrier)
                    $token = $context->req->headers['x-token'] ?? '';
                    echo "native {$token}\n";
                    $context->log('context', $token);
                    $barrier = $context->req->headers['x-barrier'];
                    touch("{$barrier}/{$token}");
                    $deadline = microtime(true) + 30;
                    while (!file_exists("{$barrier}/release") && microtime(true) < $deadline) {
                        clearstatcache();
                        usleep(10000);
                    }
                    return $context->res->text(strtoupper($token));
            }
        };
    """,
}


def test_worker_state_hard_timeout_and_fatal_errors(tmp_path):
    with contract.running(tmp_path, WORKER_FUNCTION, "index.php") as driver:
        counts = [driver.request(headers={"x-action": "count"}).text for _ in range(3)]
        assert counts == ["1", "2", "3"], "the entry file is included once; state survives between calls"

        marker = tmp_path / "stubborn.pid"
        r = driver.request(headers={"x-action": "stubborn", "x-marker": str(marker)}, timeout=1)
        assert r.status == 500 and r.body == b"" and "Execution timed out." in r.errors, r.short()
        assert "stubborn start" in r.logs
        worker = int(marker.read_text())
        assert worker != driver.proc.pid, "the call ran in a forked worker"
        wait_for(lambda: not process_running(worker), timeout=30, message=f"the timed-out worker {worker} to be killed")
        r = driver.request(headers={"x-action": "count"})
        assert r.status == 200 and r.text == "1", "a fresh worker serves the next call"

        r = driver.request(headers={"x-action": "memory"})
        assert r.status == 500 and "Allowed memory size" in r.errors, r.short()
        r = driver.request(headers={"x-action": "count"})
        assert r.status == 200 and r.text == "1", r.short()

        r = driver.request("GET", "/__opr/health", secret=None, timeout=None)
        assert r.status == 200 and r.text == "OK"


def test_concurrent_calls_run_in_parallel_workers(tmp_path):
    with contract.running(tmp_path, WORKER_FUNCTION, "index.php") as driver:
        tokens = [f"t{i}" for i in range(6)]

        def health_is_answered():  # while all six calls are held in their workers
            health = driver.request("GET", "/__opr/health", secret=None, timeout=None)
            assert health.status == 200 and health.text == "OK", health.short()

        results = call_through_barrier(driver, tokens, tmp_path / "barrier", headers={"x-action": "slow"},
                                       while_held=health_is_answered)
        assert_isolated_logs(tokens, results, response=upper_text, lines=native_context_lines,
                             leaks=line_end_leaks, native_notice=False)


def test_exit_stops_the_server(tmp_path):
    """exit() in a function ends the runtime with its code, as in a one-process server."""
    with contract.running(tmp_path, WORKER_FUNCTION, "index.php") as driver:
        assert_exit_stops_server(driver, {"x-action": "exit"}, 3, "exited with code 3")


test_development_mode_and_empty_secret = contract.development_mode_test()


def test_idle_connection_does_not_block_others(context_driver):
    with socket.create_connection(("127.0.0.1", context_driver.port)) as idle:
        idle.sendall(b"POST / HTTP/1.1\r\nHost: x\r\n")  # a half-sent request
        r = context_driver.request(headers={"x-action": "plaintextResponse"}, read_timeout=5)
        assert r.status == 200


test_throughput = contract.throughput_test(
    "Warm trivial calls, one after another, share one keep-alive connection (speed: make bench).")


def test_build_without_dependencies_is_instant(tmp_path):
    contract.require_toolchain()
    write(tmp_path, {"index.php": "<?php return fn ($c) => $c->res->text('ok');\n"})
    assert contract.host_build(tmp_path, "index.php") == []
