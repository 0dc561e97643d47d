"""Ruby: every Appwrite ruby runtime id runs on the host's `ruby` with runtimes/ruby/server.rb.

The official runtime's Gemfile has the `async` gem and its server requires it, so functions use
`Async do ... end.wait` without a require. The adapter requires it for every function (from the
function's bundle when its Gemfile.lock has async, else from the host's gems); the build says how
to install it when the host has none (`ASYNC_HINT`), rather than fetching gems by itself.
"""
from __future__ import annotations

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
    default_entrypoint = "index.rb"
    dependency_files = ("Gemfile", "Gemfile.lock")
    required_binaries = ("ruby",)
    install_hint = "apt-get install -y ruby ruby-bundler"
    version_command = ("ruby", "--version")
    test_entrypoints = {"context": "tests.rb", "legacy": "tests.rb"}

    def build_env(self, build_dir: Path) -> dict[str, str]:
        # Relative to the Gemfile's directory: a custom `bundle install` stays in the build dir too.
        return {"BUNDLE_PATH": "vendor/bundle"}

    def default_install(self, build_dir: Path) -> str:
        # Gems go into the build dir (vendor/bundle, recorded in .bundle/config), never the host's
        # gem home; the adapter runs bundler/setup when a Gemfile is present.
        if not (Path(build_dir) / "Gemfile").is_file():
            return ""
        return "bundle config set --local path vendor/bundle && bundle install"

    def server(self, code_dir: Path, entrypoint: str) -> ServerCommand:
        return ServerCommand(argv=["ruby", str(self.adapter_dir / "server.rb")], cwd=str(code_dir))

    def compile(self, build_dir: Path, entrypoint: str, log) -> None:
        lock = Path(build_dir) / "Gemfile.lock"
        if lock.is_file() and BUNDLED_ASYNC.search(lock.read_text(encoding="utf-8", errors="replace")):
            return
        if not async_installed():
            log("Warning: the async gem, which the official Ruby runtime loads for every function "
                f"(Async do ... end), is not installed here. Install: {ASYNC_HINT}\n")


def async_installed() -> bool:
    try:
        return subprocess.run(["ruby", "-e", "require 'async'"], capture_output=True, timeout=60).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False
