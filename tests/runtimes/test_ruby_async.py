"""Ruby functions use `Async` without a require, as on the official runtime (its Gemfile has the
async gem and its server requires it): with and without a Gemfile of their own."""
from __future__ import annotations

import os
import shutil
import subprocess

from emulator.languages.ruby import ASYNC_HINT as ASYNC_INSTALL
from support import require_toolchain

from .contract_common import RuntimeContract
from .test_ruby_contract import GREETER_GEM, path_gem

contract = RuntimeContract("ruby-3.3")
ASYNC_HINT = "async gem not installed. Install: apt-get install -y ruby-async"

# Two tasks that each wait for the other's file: they only finish when they really run concurrently
# inside one reactor (sequential tasks would wait out their deadline and report false).
FUNCTION = """
    def main(context)
      dir = context.req.headers['x-dir']
      results = Async do
        a = Async { File.write(File.join(dir, 'a'), ''); seen?(File.join(dir, 'b')) }
        b = Async { File.write(File.join(dir, 'b'), ''); seen?(File.join(dir, 'a')) }
        [a.wait, b.wait]
      end.wait
      context.res.json({ 'results' => results, 'task' => Async { |task| task.class.name }.wait })
    end

    def seen?(path)
      deadline = Time.now + 20
      sleep 0.01 until File.exist?(path) || Time.now > deadline
      File.exist?(path)
    end
"""


def require_async() -> None:
    contract.require_toolchain()
    if subprocess.run(["ruby", "-e", "require 'async'"], capture_output=True).returncode != 0:
        require_toolchain("ruby-async", ASYNC_HINT)


def call(driver, tmp_path, **expected):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    r = driver.request(headers={"x-dir": str(run_dir)})
    assert r.status == 200, r.short()
    assert r.json() == {"results": [True, True], "task": "Async::Task", **expected}, r.short()
    assert sorted(p.name for p in run_dir.iterdir()) == ["a", "b"]


def test_async_without_require(tmp_path):
    require_async()
    with contract.running(tmp_path, {"index.rb": FUNCTION}, "index.rb") as driver:
        assert "async gem" not in driver.build_log, driver.build_log
        call(driver, tmp_path)


def test_async_without_require_next_to_a_bundle(tmp_path):
    """bundler/setup hides gems outside the bundle: async is loaded before it (the bundle has none)."""
    require_async()
    if shutil.which("bundle") is None:
        require_toolchain("bundle", "bundle not found. Install: apt-get install -y ruby-bundler")
    with contract.running(tmp_path, {
        **GREETER_GEM,
        "index.rb": "require 'greeter'\n" + FUNCTION.replace("'task' =>", "'hi' => Greeter.hi, 'task' =>"),
    }, "index.rb") as driver:
        assert (driver.code_dir / "vendor" / "bundle").is_dir()
        call(driver, tmp_path, hi="hi from gem")


def test_a_bundle_with_its_own_async_wins(tmp_path):
    """When the function's Gemfile.lock has async, that one is loaded (after bundler/setup), not the
    host's: no 'already activated' conflict. A path gem named async stands in for another version."""
    contract.require_toolchain()
    if shutil.which("bundle") is None:
        require_toolchain("bundle", "bundle not found. Install: apt-get install -y ruby-bundler")
    with contract.running(tmp_path, {
        **path_gem("own-async", "async", "9.9.9", "module Kernel\n  def Async = 'the bundle\\'s async'\nend\n"),
        "index.rb": "def main(context) = context.res.json({ 'async' => Async(), "
                    "'version' => Gem.loaded_specs['async'].version.to_s })\n",
    }, "index.rb") as driver:
        assert "async (9.9.9)" in (driver.code_dir / "Gemfile.lock").read_text()
        r = driver.request(headers={})
        assert r.status == 200, r.short()
        assert r.json() == {"async": "the bundle's async", "version": "9.9.9"}


def test_missing_gem_is_named_in_the_build_log(tmp_path, monkeypatch):
    """A machine without the gem (here: a `ruby` that ignores installed gems) builds with the
    install hint in the log; a function calling Async then fails with Ruby's own error."""
    contract.require_toolchain()
    real_ruby = shutil.which("ruby")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "ruby").write_text(f'#!/bin/sh\nexec {real_ruby} --disable-gems "$@"\n')
    (bin_dir / "ruby").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    with contract.running(tmp_path, {"index.rb": FUNCTION}, "index.rb") as driver:
        assert f"is not installed here. Install: {ASYNC_INSTALL}" in driver.build_log, driver.build_log
        run_dir = tmp_path / "run"
        run_dir.mkdir()
        r = driver.request(headers={"x-dir": str(run_dir)})
        assert r.status == 500 and "undefined method `Async'" in r.errors, r.short()
