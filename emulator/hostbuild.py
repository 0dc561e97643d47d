"""Building a function's code on the host: the local executor's equivalent of `helpers/build.sh`.

The source is already extracted into `build_dir`; the build runs the function's commands (or the
language's default install) inside it, then the language's compile step. Everything a build writes
stays inside `build_dir`, never in the emulator's own environment.
"""
from __future__ import annotations

from pathlib import Path

from .languages.base import BuildError, Language, run_logged


def build_on_host(language: Language, build_dir: Path, entrypoint: str, commands: str,
                  env: dict[str, str], log, timeout: float = 900) -> None:
    """Run the build in `build_dir`. `log(text)` receives the build output. Raises BuildError."""
    toolchain = language.toolchain()
    if not toolchain.available:
        raise BuildError(f"The {language.name} toolchain is not installed on this machine: {toolchain.hint}")
    command = commands.strip() or language.default_install(build_dir)
    build_env = {**env, "CI": "true", **language.build_env(build_dir)}
    if command:
        log(f"$ {command}\n")
        run_logged(["bash", "-c", command], build_dir, build_env, log, timeout)
    language.compile(build_dir, entrypoint, log)
