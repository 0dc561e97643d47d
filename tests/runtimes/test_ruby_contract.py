"""The Ruby adapter against the shared contract (emulator/contract/), plus Ruby specifics:
v2 wire, bundler builds, entrypoint loading, concurrent calls, soft timeouts, exit, throughput."""
from __future__ import annotations

import shutil

from support import require_toolchain

from .contract_common import (RuntimeContract, assert_exit_stops_server, assert_isolated_logs,
                              assert_timeout_drops_late_output, call_through_barrier, line_end_leaks, slow_function,
                              upper_text, write)

RUNTIME = "ruby-3.3"
contract = RuntimeContract(RUNTIME)

context_driver, legacy_driver, v2_driver = contract.driver_fixtures()
test_context, test_legacy, test_v2_wire = contract.contract_tests()


def test_runtime_ids():
    language = contract.assert_runtime_ids("ruby", ("3.0", "3.1", "3.2", "3.3", "3.4", "4.0"), "2.7")
    assert language.default_entrypoint == "index.rb"
    assert set(language.dependency_files) == {"Gemfile", "Gemfile.lock"}


def path_gem(folder: str, name: str, version: str, source: str) -> dict[str, str]:
    """A Gemfile using a gem from the function's own folder (keeps bundler offline), and that gem."""
    return {
        "Gemfile": f"gem '{name}', path: '{folder}'\n",
        f"{folder}/{name}.gemspec": f"""
            Gem::Specification.new do |s|
              s.name = '{name}'
              s.version = '{version}'
              s.summary = 'test gem'
              s.authors = ['test']
              s.files = ['lib/{name}.rb']
            end
        """,
        f"{folder}/lib/{name}.rb": source,
    }


GREETER_GEM = path_gem("greeter", "greeter", "0.1.0", "module Greeter\n  def self.hi = 'hi from gem'\nend\n")


def test_bundler_build(tmp_path):
    """Gems install into the build dir (vendor/bundle) and load through bundler/setup.
    A path gem keeps the test offline."""
    if shutil.which("bundle") is None:
        require_toolchain("bundle", "bundle not found. Install: apt-get install -y ruby-bundler")
    with contract.running(tmp_path, {
        **GREETER_GEM,
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
    # no install command ran (the log may still note which toolchain version runs)
    assert not [line for line in contract.host_build(tmp_path, "index.rb") if line.startswith("$ ")]


test_entrypoint_guards = contract.entrypoint_guards_test([
    ({"index.rb": "def main(context) = context.res.text('x')\n"}, "missing.rb",
     "Failed to load entrypoint, file missing.rb does not exist."),
    ({"index.rb": "def main(context)\n  context.res.text('x'\nend\n"}, "index.rb", "Syntax error in index.rb"),
    ({"index.rb": "def handler(context) = 1\n"}, "index.rb",
     "Function signature invalid. Did you forget to export a 'main' function?"),
    ({"index.rb": "require 'not_a_real_gem_xyz'\ndef main(context) = 1\n"}, "index.rb",
     "Failed to load module: "),
], ids=["missing", "syntax", "no-main", "require-error"])


CONCURRENT_FUNCTION = slow_function({
    "index.rb": """
        $calls = 0

        def main(context)
          token = context.req.headers['x-token'] || ''
          case token
          when 'stubborn'  # a plain rescue must not swallow the soft timeout
            context.log('stubborn start')
            begin
              sleep SLOW_SECONDS
            rescue => e
              return context.res.text("swallowed #{e.class}")
            end
            context.log('stubborn end')
            File.write(context.req.headers['x-marker'], '')  # the test's signal: the function ended
            context.res.text('finished')
          when 'exit'
            exit(4)
          else
            $calls += 1
            puts "native #{token}"
            $stderr.puts "warn #{token}"
            context.log('context', token)
            barrier = context.req.headers['x-barrier']  # see call_through_barrier
            File.write(File.join(barrier, token), '')
            deadline = Time.now + 30
            sleep 0.01 until File.exist?(File.join(barrier, 'release')) || Time.now > deadline
            context.res.text(token.upcase)
          end
        end
    """,
})


def test_concurrent_calls_soft_timeout_and_isolated_logs(tmp_path):
    with contract.running(tmp_path, CONCURRENT_FUNCTION, "index.rb") as driver:
        tokens = [f"t{i}" for i in range(6)]
        results = call_through_barrier(driver, tokens, tmp_path / "barrier")  # proves they run concurrently
        assert_isolated_logs(tokens, results, response=upper_text, leaks=line_end_leaks,
                             lines=lambda t: [f"native {t}\n", f"warn {t}\n", f"context {t}\n"])
        # the soft timeout raises into the call's thread: it must not go on to its end
        assert_timeout_drops_late_output(driver, tmp_path / "stubborn.done", "stubborn", function_stopped=True,
                                         empty_body=True)


def test_exit_stops_the_server(tmp_path):
    """exit inside a function ends the runtime with its code, as in a one-process server."""
    with contract.running(tmp_path, CONCURRENT_FUNCTION, "index.rb") as driver:
        assert_exit_stops_server(driver, {"x-token": "exit"}, 4, "exit(4)")


test_development_mode_and_empty_secret = contract.development_mode_test()
test_throughput = contract.throughput_test(
    "Warm trivial calls, one after another, share one keep-alive connection (speed: make bench).")
