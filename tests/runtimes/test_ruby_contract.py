"""The Ruby adapter against the shared contract (emulator/contract.py), plus Ruby specifics:
v2 wire, bundler builds, entrypoint loading, concurrent calls, soft timeouts, exit, throughput."""
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

RUNTIME = "ruby-3.3"


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
    for version in ("3.0", "3.1", "3.2", "3.3", "3.4", "4.0"):
        assert language_for_runtime(f"ruby-{version}").key == "ruby"
    assert language_for_runtime("ruby-2.7") is None
    language = language_for_runtime(RUNTIME)
    assert language.default_entrypoint == "index.rb"
    assert set(language.dependency_files) == {"Gemfile", "Gemfile.lock"}


def test_bundler_build(tmp_path):
    """Gems install into the build dir (vendor/bundle) and load through bundler/setup.
    A path gem keeps the test offline."""
    if shutil.which("bundle") is None:
        pytest.skip("bundle not found. Install: apt-get install -y ruby-bundler")
    src = write(tmp_path / "src", {
        "Gemfile": "gem 'greeter', path: 'greeter'\n",
        "greeter/greeter.gemspec": """
            Gem::Specification.new do |s|
              s.name = 'greeter'
              s.version = '0.1.0'
              s.summary = 'test gem'
              s.authors = ['test']
              s.files = ['lib/greeter.rb']
            end
        """,
        "greeter/lib/greeter.rb": "module Greeter\n  def self.hi = 'hi from gem'\nend\n",
        "src/main.rb": """
            require 'greeter'

            def main(context)
              context.res.json({ 'hi' => Greeter.hi, 'bundle' => ENV['BUNDLE_GEMFILE'] })
            end
        """,
    })
    driver = start(source_dir=src, entrypoint="src/main.rb", workdir=tmp_path / "work")
    try:
        assert "bundle install" in driver.build_log
        assert (driver.code_dir / "vendor" / "bundle").is_dir()
        assert (driver.code_dir / ".bundle" / "config").is_file()
        r = driver.request(headers={})
        assert r.status == 200, r.short()
        assert r.json() == {"hi": "hi from gem", "bundle": str(driver.code_dir / "Gemfile")}
    finally:
        driver.stop()


def test_no_install_without_gemfile(tmp_path):
    language = language_for_runtime(RUNTIME)
    assert language.default_install(tmp_path) == ""
    if not language.toolchain().available:
        pytest.skip(language.toolchain().hint)
    write(tmp_path, {"index.rb": "def main(context) = context.res.text('ok')\n"})
    logs: list[str] = []
    build_on_host(language, tmp_path, "index.rb", "", {}, logs.append)
    assert logs == []


@pytest.mark.parametrize("files,entrypoint,message", [
    ({"index.rb": "def main(context) = context.res.text('x')\n"}, "missing.rb",
     "Failed to load entrypoint, file missing.rb does not exist."),
    ({"index.rb": "def main(context)\n  context.res.text('x'\nend\n"}, "index.rb", "Syntax error in index.rb"),
    ({"index.rb": "def handler(context) = 1\n"}, "index.rb",
     "Function signature invalid. Did you forget to export a 'main' function?"),
    ({"index.rb": "require 'not_a_real_gem_xyz'\ndef main(context) = 1\n"}, "index.rb",
     "Failed to load module: "),
], ids=["missing", "syntax", "no-main", "require-error"])
def test_entrypoint_guards(tmp_path, files, entrypoint, message):
    driver = start(source_dir=write(tmp_path / "src", files), entrypoint=entrypoint, workdir=tmp_path / "work")
    try:
        r = driver.request(headers={})
        assert r.status == 503 and r.body == b"", r.short()
        assert message in r.errors, r.short()
        assert r.log_files
    finally:
        driver.stop()


CONCURRENT_FUNCTION = {
    "index.rb": """
        $calls = 0

        def main(context)
          token = context.req.headers['x-token'] || ''
          case token
          when 'stubborn'  # a plain rescue must not swallow the soft timeout
            context.log('stubborn start')
            begin
              sleep 5
            rescue => e
              return context.res.text("swallowed #{e.class}")
            end
            context.log('stubborn end')
            context.res.text('finished')
          when 'exit'
            exit(4)
          else
            $calls += 1
            puts "native #{token}"
            $stderr.puts "warn #{token}"
            context.log('context', token)
            sleep 0.5
            context.res.text(token.upcase)
          end
        end
    """,
}


def test_concurrent_calls_soft_timeout_and_isolated_logs(tmp_path):
    driver = start(source_dir=write(tmp_path / "src", CONCURRENT_FUNCTION), entrypoint="index.rb",
                   workdir=tmp_path / "work")
    try:
        tokens = [f"t{i}" for i in range(6)]
        started = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(6) as pool:
            results = list(pool.map(lambda t: driver.request(headers={"x-token": t}), tokens))
        assert time.monotonic() - started < 2.0, "calls on different connections run concurrently"
        for token, r in zip(tokens, results):
            assert r.status == 200 and r.text == token.upper(), r.short()
            assert r.logs.count("Native logs detected.") == 1, r.short()
            for line in (f"native {token}\n", f"warn {token}\n", f"context {token}\n"):
                assert line in r.logs, r.short()
            others = [t for t in tokens if t != token and f" {t}\n" in r.logs]
            assert not others, f"logs of {token} contain {others}: {r.logs!r}"

        started = time.monotonic()
        r = driver.request(headers={"x-token": "stubborn"}, timeout=1)
        assert time.monotonic() - started < 2.5
        assert r.status == 500 and r.body == b"" and "Execution timed out." in r.errors, r.short()
        assert "stubborn start" in r.logs and "stubborn end" not in r.logs, r.short()
        time.sleep(0.5)
        assert list(Path(driver.logs_dir).iterdir()) == [], "nothing is written after the timeout"
    finally:
        driver.stop()


def test_exit_stops_the_server(tmp_path):
    """exit inside a function ends the runtime with its code, as in a one-process server."""
    driver = start(source_dir=write(tmp_path / "src", CONCURRENT_FUNCTION), entrypoint="index.rb",
                   workdir=tmp_path / "work")
    try:
        with pytest.raises(OSError):
            driver.request(headers={"x-token": "exit"})
        assert driver.proc.wait(5) == 4
        assert "exit(4)" in driver.server_output()
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
