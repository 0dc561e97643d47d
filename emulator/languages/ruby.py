"""Ruby: every Appwrite ruby runtime id runs on a host ruby with runtimes/ruby/server.rb: one of the
runtime's version when installed (`ruby3.3` on PATH, rbenv, rvm, asdf, chruby), else `ruby` on PATH.

The official runtime's Gemfile has the `async` gem and its server requires it, so functions use
`Async do ... end.wait` without a require. The adapter requires it for every function (from the
function's bundle when its Gemfile.lock has async, else from the host's gems); the build says how
to install it when the host has none (`ASYNC_HINT`), rather than fetching gems by itself.
"""
from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from .base import Language, ServerCommand

ASYNC_HINT = "apt-get install -y ruby-async (or: gem install async)"
BUNDLED_ASYNC = re.compile(r"^    async \(", re.M)  # a Gemfile.lock spec line, as server.rb checks it


class Ruby(Language):
    key = "ruby"
    name = "Ruby"
    versions = ("3.0", "3.1", "3.2", "3.3", "3.4", "4.0")
    logs_on_tmpfs = True  # runtimes/ruby/server.rb caps a call's logs
    default_entrypoint = "index.rb"
    dependency_files = ("Gemfile", "Gemfile.lock")
    required_binaries = ("ruby",)
    install_hint = "apt-get install -y ruby ruby-bundler"
    version_command = ("ruby", "--version")
    test_entrypoints = {"context": "tests.rb", "legacy": "tests.rb"}
    primary_binary = "ruby"

    def version_candidates(self) -> list[str]:
        v = self.wanted_version()
        rbenv = os.environ.get("RBENV_ROOT") or "~/.rbenv"
        asdf = os.environ.get("ASDF_DATA_DIR") or "~/.asdf"
        return ["ruby", f"ruby{v}", f"/usr/bin/ruby{v}", f"{rbenv}/versions/{v}.*/bin/ruby",
                f"~/.rvm/rubies/ruby-{v}.*/bin/ruby", f"/usr/local/rvm/rubies/ruby-{v}.*/bin/ruby",
                f"{asdf}/installs/ruby/{v}.*/bin/ruby", f"~/.rubies/ruby-{v}.*/bin/ruby", f"/opt/rubies/ruby-{v}.*/bin/ruby"]

    def build_env(self, build_dir: Path) -> dict[str, str]:
        # Relative to the Gemfile's directory: a custom `bundle install` stays in the build dir too.
        env = {"BUNDLE_PATH": "vendor/bundle"}
        ruby = self.versioned_binary()
        if ruby:
            # rbenv/rvm/asdf keep `bundle` beside their ruby: the build's bundler runs on this version.
            env["PATH"] = os.pathsep.join([str(Path(ruby).parent), os.environ.get("PATH", "")])
        return env

    def default_install(self, build_dir: Path) -> str:
        # Gems go into the build dir (vendor/bundle, recorded in .bundle/config), never the host's
        # gem home; the adapter runs bundler/setup when a Gemfile is present.
        if not (Path(build_dir) / "Gemfile").is_file():
            return ""
        return "bundle config set --local path vendor/bundle && bundle install"

    def server(self, code_dir: Path, entrypoint: str) -> ServerCommand:
        return ServerCommand(argv=[self.binary(), str(self.adapter_dir / "server.rb")], cwd=str(code_dir))

    def compile(self, build_dir: Path, entrypoint: str, log) -> None:
        lock = Path(build_dir) / "Gemfile.lock"
        if lock.is_file() and BUNDLED_ASYNC.search(lock.read_text(encoding="utf-8", errors="replace")):
            return
        if not async_installed(self.binary()):
            log("Warning: the async gem, which the official Ruby runtime loads for every function "
                f"(Async do ... end), is not installed here. Install: {ASYNC_HINT}\n")


def async_installed(ruby: str = "ruby") -> bool:
    try:
        return subprocess.run([ruby, "-e", "require 'async'"], capture_output=True, timeout=60).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False
