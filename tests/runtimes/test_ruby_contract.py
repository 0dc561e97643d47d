"""The Ruby adapter against the shared contract (emulator/contract.py), plus Ruby specifics:
v2 wire, bundler builds, entrypoint loading, concurrent calls, soft timeouts, exit, throughput."""
from __future__ import annotations

import shutil
import time

import pytest

from support import require_toolchain

from .contract_common import (RuntimeContract, assert_exit_stops_server, assert_isolated_logs,
                              assert_timeout_drops_late_output, call_concurrently, line_end_leaks, upper_text, write)

RUNTIME = "ruby-3.3"
contract = RuntimeContract(RUNTIME)

context_driver, legacy_driver, v2_driver = contract.driver_fixtures()
test_context, test_legacy, test_v2_wire = contract.contract_tests()


def test_runtime_ids():
    language = contract.assert_runtime_ids("ruby", ("3.0", "3.1", "3.2", "3.3", "3.4", "4.0"), "2.7")
    assert language.default_entrypoint == "index.rb"
    assert set(language.dependency_files) == {"Gemfile", "Gemfile.lock"}


def test_bundler_build(tmp_path):
    """Gems install into the build dir (vendor/bundle) and load through bundler/setup.
    A path gem keeps the test offline."""
    if shutil.which("bundle") is None:
        require_toolchain("bundle", "bundle not found. Install: apt-get install -y ruby-bundler")
    with contract.running(tmp_path, {
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
    }, "src/main.rb") as driver:
        assert "bundle install" in driver.build_log
        assert (driver.code_dir / "vendor" / "bundle").is_dir()
        assert (driver.code_dir / ".bundle" / "config").is_file()
        r = driver.request(headers={})
        assert r.status == 200, r.short()
        assert r.json() == {"hi": "hi from gem", "bundle": str(driver.code_dir / "Gemfile")}


def test_no_install_without_gemfile(tmp_path):
    assert contract.language.default_install(tmp_path) == ""
    contract.require_toolchain()
    write(tmp_path, {"index.rb": "def main(context) = context.res.text('ok')\n"})
    assert contract.host_build(tmp_path, "index.rb") == []


test_entrypoint_guards = contract.entrypoint_guards_test([
    ({"index.rb": "def main(context) = context.res.text('x')\n"}, "missing.rb",
     "Failed to load entrypoint, file missing.rb does not exist."),
    ({"index.rb": "def main(context)\n  context.res.text('x'\nend\n"}, "index.rb", "Syntax error in index.rb"),
    ({"index.rb": "def handler(context) = 1\n"}, "index.rb",
     "Function signature invalid. Did you forget to export a 'main' function?"),
    ({"index.rb": "require 'not_a_real_gem_xyz'\ndef main(context) = 1\n"}, "index.rb",
     "Failed to load module: "),
], ids=["missing", "syntax", "no-main", "require-error"])


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
    with contract.running(tmp_path, CONCURRENT_FUNCTION, "index.rb") as driver:
        tokens = [f"t{i}" for i in range(6)]
        started = time.monotonic()
        results = call_concurrently(driver, tokens, 6)
        assert time.monotonic() - started < 2.0, "calls on different connections run concurrently"
        assert_isolated_logs(tokens, results, response=upper_text, leaks=line_end_leaks,
                             lines=lambda t: [f"native {t}\n", f"warn {t}\n", f"context {t}\n"])
        assert_timeout_drops_late_output(driver, "stubborn", max_seconds=2.5, empty_body=True, settle=0.5)


def test_exit_stops_the_server(tmp_path):
    """exit inside a function ends the runtime with its code, as in a one-process server."""
    with contract.running(tmp_path, CONCURRENT_FUNCTION, "index.rb") as driver:
        assert_exit_stops_server(driver, {"x-token": "exit"}, 4, "exit(4)")


test_development_mode_and_empty_secret = contract.development_mode_test()
test_throughput = contract.throughput_test(
    400, "A warm trivial call must be cheap: keep-alive, no per-request process or interpreter work.")
