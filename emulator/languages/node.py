"""Node.js: every Appwrite node runtime id runs on the host's `node` with runtimes/node/server.js."""
from __future__ import annotations

from pathlib import Path

from .base import Language, ServerCommand


class Node(Language):
    key = "node"
    name = "Node.js"
    versions = ("14.5", "16.0", "18.0", "19.0", "20.0", "21.0", "22", "23", "24", "25")
    default_entrypoint = "index.js"
    dependency_files = ("package.json", "package-lock.json")
    required_binaries = ("node", "npm")
    install_hint = "apt-get install -y nodejs npm"
    version_command = ("node", "--version")
    test_entrypoints = {"context": "tests.js", "legacy": "tests.js"}

    def default_install(self, build_dir: Path) -> str:
        # Appwrite's default build command for node; nothing to install without a package.json.
        return "npm install" if (Path(build_dir) / "package.json").is_file() else ""

    def server(self, code_dir: Path, entrypoint: str) -> ServerCommand:
        return ServerCommand(argv=["node", str(self.adapter_dir / "server.js")], cwd=str(code_dir))
