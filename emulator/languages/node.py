"""Node.js: every Appwrite node runtime id runs on a host `node` with runtimes/node/server.js: one of
the runtime's major version when installed (PATH, nvm, n, volta, fnm, /opt), else `node` on PATH."""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

from .base import Language, ServerCommand


# `npm install` (as Appwrite's default and the CLI's `init` set it) with only flags that change how,
# not what, it installs. With a package.json that declares nothing it installs nothing, yet costs
# 0.4-0.65 s: most of a one-function `dev` start.
PLAIN_NPM_INSTALL = re.compile(
    r"npm (?:install|i)(?: (?:--no-audit|--no-fund|--offline|--prefer-offline|--silent|--quiet|--no-progress"
    r"|--loglevel[= ]\w+|--production|--omit[= ](?:dev|optional|peer)))*")
# What makes npm install or run anything for the root package.
DEPENDENCY_KEYS = ("dependencies", "devDependencies", "optionalDependencies", "peerDependencies",
                   "bundleDependencies", "bundledDependencies", "overrides", "workspaces")
INSTALL_SCRIPTS = ("preinstall", "install", "postinstall", "prepublish", "preprepare", "prepare", "postprepare",
                   "dependencies")


class Node(Language):
    key = "node"
    spare_launcher = Path(__file__).parents[1] / "dev" / "node_spare.cjs"
    startup_env_prefixes = Language.startup_env_prefixes + ("NODE_", "UV_")
    logs_on_tmpfs = True  # runtimes/node/core.mjs caps a call's logs
    name = "Node.js"
    versions = ("14.5", "16.0", "18.0", "19.0", "20.0", "21.0", "22", "23", "24", "25")
    default_entrypoint = "index.js"
    dependency_files = ("package.json", "package-lock.json")
    required_binaries = ("node", "npm")
    install_hint = "apt-get install -y nodejs npm"
    version_command = ("node", "--version")
    test_entrypoints = {"context": "tests.js", "legacy": "tests.js"}
    primary_binary = "node"

    def version_candidates(self) -> list[str]:
        v = self.wanted_version()
        nvm = os.environ.get("NVM_DIR") or "~/.nvm"
        return ["node", f"node{v.split('.')[0]}", f"{nvm}/versions/node/v{v}.*/bin/node",
                f"/usr/local/n/versions/node/{v}.*/bin/node", f"~/.volta/tools/image/node/{v}.*/bin/node",
                f"~/.local/share/fnm/node-versions/v{v}.*/installation/bin/node", f"/opt/node-v{v}.*/bin/node"]

    def build_env(self, build_dir: Path) -> dict[str, str]:
        # `npm install` and the build's own `node` calls run on the runtime's node.
        node = self.versioned_binary()
        if not node:
            return {}
        return {"PATH": os.pathsep.join([str(Path(node).parent), os.environ.get("PATH", "")])}

    def nothing_to_install(self, build_dir: Path, command: str) -> str:
        if not PLAIN_NPM_INSTALL.fullmatch(command.strip()):
            return ""
        try:
            package = json.loads((Path(build_dir) / "package.json").read_text())
        except (OSError, ValueError):
            return ""  # npm says what is wrong with it
        scripts = package.get("scripts", {}) if isinstance(package, dict) else None
        if not isinstance(scripts, dict) or any(package.get(key) for key in DEPENDENCY_KEYS) \
                or any(name in scripts for name in INSTALL_SCRIPTS):
            return ""
        if (Path(build_dir) / "node_modules").exists():
            return ""  # npm would prune what the package does not declare
        return "package.json declares no dependencies and no install scripts: nothing for npm to install, skipped."

    def default_install(self, build_dir: Path) -> str:
        # Appwrite's default build command for node; nothing to install without a package.json.
        return "npm install" if (Path(build_dir) / "package.json").is_file() else ""

    def server(self, code_dir: Path, entrypoint: str) -> ServerCommand:
        return ServerCommand(argv=[self.binary(), str(self.adapter_dir / "server.js")], cwd=str(code_dir))

    def early_server(self) -> ServerCommand | None:
        # Nothing of the command depends on the build but its folder, which the release passes.
        return self.server_ahead(ServerCommand(argv=[self.binary(), str(self.adapter_dir / "server.js")]))
