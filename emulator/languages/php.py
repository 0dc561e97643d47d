"""PHP: every Appwrite php runtime id runs on a host php-cli with runtimes/php/server.php: `php8.3`
for php-8.3 when installed (Debian's and Ondrej's packages name them so), else `php`. The default
build's composer runs on that php too."""
from __future__ import annotations

import shlex
import shutil
from pathlib import Path

from .base import Language, ServerCommand


class Php(Language):
    key = "php"
    name = "PHP"
    versions = ("8.0", "8.1", "8.2", "8.3", "8.4")
    default_entrypoint = "index.php"
    dependency_files = ("composer.json", "composer.lock")
    required_binaries = ("php",)
    install_hint = "apt-get install -y php-cli composer"
    version_command = ("php", "--version")
    test_entrypoints = {"context": "tests.php", "legacy": "tests.php"}
    primary_binary = "php"
    logs_on_tmpfs = True  # runtimes/php/server.php caps a call's logs

    def version_candidates(self) -> list[str]:
        return ["php", f"php{self.runtime_version}"]

    def build_env(self, build_dir: Path) -> dict[str, str]:
        # Builds run unattended, often as root in containers and CI.
        return {"COMPOSER_ALLOW_SUPERUSER": "1", "COMPOSER_NO_INTERACTION": "1"}

    def default_install(self, build_dir: Path) -> str:
        # Appwrite's default build command for php; nothing to install without a composer.json.
        if not (Path(build_dir) / "composer.json").is_file():
            return ""
        composer = shutil.which("composer")
        php = self.versioned_binary()
        if php and composer and php != shutil.which("php"):
            # composer is a PHP script whose #! names the default php: run it with this runtime's.
            return f"{shlex.quote(php)} {shlex.quote(composer)} install --no-interaction"
        return "composer install --no-interaction"

    def server(self, code_dir: Path, entrypoint: str) -> ServerCommand:
        # No php.ini memory cap: the server process holds a request body (up to 20 MB) several
        # times over while handing it to a worker. Unbuffered output so the start line shows at once.
        return ServerCommand(argv=[self.binary(), "-d", "memory_limit=-1", "-d", "output_buffering=0",
                                   str(self.adapter_dir / "server.php")], cwd=str(code_dir))
