"""Ruby: every Appwrite ruby runtime id runs on the host's `ruby` with runtimes/ruby/server.rb."""
from __future__ import annotations

from pathlib import Path

from .base import Language, ServerCommand


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
