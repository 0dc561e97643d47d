"""Deno: every Appwrite deno runtime id runs on a host `deno` with runtimes/deno/server.ts: the one
mapped to the runtime (`--toolchain deno-1.40=/opt/deno1.40/deno`) or one of the runtime's version
found on PATH or where installers put it, else the default one (the build log says so).

Deno ships as a binary inside the npm package `deno` (and the PyPI package `deno`), so it installs
from the registries this project can reach. Remote dependencies are cached at build time into a
DENO_DIR inside the build directory, which the server then reuses.
"""
from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path

from .base import BuildError, Language, ServerCommand, Toolchain, run_logged

INSTALL_HINT = "npm install -g deno"
PERMISSIONS = ("--allow-net", "--allow-read", "--allow-env", "--allow-write", "--allow-run")
DENO_DIR_NAME = ".deno"


@functools.lru_cache(maxsize=None)
def find_deno() -> str | None:
    """`deno` on PATH, else where `pip install deno` (this interpreter's bin) or the official
    installer (~/.deno/bin) put it."""
    found = shutil.which("deno")
    if found:
        return found
    for candidate in (Path(sys.prefix) / "bin" / "deno", Path.home() / ".deno" / "bin" / "deno"):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


@functools.lru_cache(maxsize=None)
def _probe(binary: str | None) -> Toolchain:
    if binary is None:
        return Toolchain(False, "", f"deno not found. Install: {INSTALL_HINT}")
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as exc:
        return Toolchain(False, "", f"deno failed to run ({exc}). Install: {INSTALL_HINT}")
    lines = (out.stdout or out.stderr).strip().splitlines()
    if out.returncode != 0:
        return Toolchain(False, "", f"deno --version failed. Install: {INSTALL_HINT}")
    return Toolchain(True, lines[0] if lines else "", "")


class Deno(Language):
    key = "deno"
    name = "Deno"
    versions = ("1.21", "1.24", "1.35", "1.40", "1.46", "2.0", "2.5", "2.6")
    default_entrypoint = "mod.ts"
    dependency_files = ("deno.json", "deno.jsonc", "deno.lock", "import_map.json", "package.json")
    install_hint = INSTALL_HINT
    test_entrypoints = {"context": "tests.ts", "legacy": "tests.ts"}
    primary_binary = "deno"
    # Not on tmpfs, though the core (runtimes/node/core.mjs) caps a call's logs as Node's does:
    # Deno 2 lets a program write under /dev (where the tmpfs is) only with --allow-all.
    logs_on_tmpfs = False
    version_command = ("deno", "--version")

    def version_candidates(self) -> list[str]:
        return ["deno", str(Path(sys.prefix) / "bin" / "deno"), "~/.deno/bin/deno"]

    def deno(self) -> str | None:
        """The deno this runtime runs on: its version's (or the mapped one), else the default."""
        return self.versioned_binary() or find_deno()

    def toolchain(self) -> Toolchain:
        return _probe(self.deno())

    def build_env(self, build_dir: Path) -> dict[str, str]:
        env = {"DENO_DIR": str(Path(build_dir) / DENO_DIR_NAME), "DENO_NO_UPDATE_CHECK": "1", "NO_COLOR": "1"}
        deno = self.deno()
        if deno:
            # user build commands call plain `deno` (this runtime's), even when it is not on PATH
            env["PATH"] = os.pathsep.join([str(Path(deno).parent), os.environ.get("PATH", "")])
        return env

    def compile(self, build_dir: Path, entrypoint: str, log) -> None:
        # Fetch remote/npm imports now, so the server starts without the network.
        if not (Path(build_dir) / entrypoint).is_file():
            log(f"Entrypoint {entrypoint} not found; skipping deno cache.\n")
            return
        deno = self.deno()
        if deno is None:
            raise BuildError(f"deno not found. Install: {INSTALL_HINT}")
        log(f"$ deno cache {entrypoint}\n")
        run_logged([deno, "cache", entrypoint], Path(build_dir), self.build_env(build_dir), log)

    def server(self, code_dir: Path, entrypoint: str) -> ServerCommand:
        deno = self.deno() or "deno"
        return ServerCommand(
            argv=[deno, "run", *PERMISSIONS, str(self.adapter_dir / "server.ts")],
            env={"DENO_DIR": str(Path(code_dir) / DENO_DIR_NAME), "DENO_NO_UPDATE_CHECK": "1"},
            cwd=str(code_dir),
        )
