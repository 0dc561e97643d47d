"""Building a function's code on the host: the local executor's equivalent of `helpers/build.sh`.

The source is already extracted into `build_dir`; the build runs the function's commands (or the
language's default install) inside it, then the language's compile step. Everything a build writes
stays inside `build_dir`, never in the emulator's own environment.

Each step runs through build_steps.run_streaming: its output reaches `log` in chunks as it is
printed, never collected whole (a build that prints gigabytes costs the server one chunk of
memory), and its processes belong to the build.
"""
from __future__ import annotations

from pathlib import Path

from .build_steps import BuildError, run_streaming
from .languages.base import Language


def build_on_host(language: Language, build_dir: Path, entrypoint: str, commands: str,
                  env: dict[str, str], log, timeout: float = 900) -> None:
    """Run the build in `build_dir`. `log(text)` receives the build output. Raises BuildError."""
    toolchain = language.toolchain()
    if not toolchain.available:
        raise BuildError(f"The {language.name} toolchain is not installed on this machine: {toolchain.hint}")
    # `language` is bound to the runtime version (languages.language_for_runtime): say when the
    # toolchain that runs it here has another version than the runtime's image would.
    note = language.version_note()
    if note:
        log(f"{note}\n")
    command = commands.strip() or language.default_install(build_dir)
    skipped = language.nothing_to_install(build_dir, command) if command else ""
    if skipped:
        log(f"$ {command}\n{skipped}\n")
        command = ""
    build_env = {**env, "CI": "true", **language.build_env(build_dir)}
    if command:
        language.before_build_command(build_dir)
        log(f"$ {command}\n")
        run_streaming(["bash", "-c", command], build_dir, build_env, log, timeout)
    language.compile(build_dir, entrypoint, log)
