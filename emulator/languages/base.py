"""What the emulator needs to know about one language to build and run functions on the host.

Each `emulator/languages/<lang>.py` defines one `Language` subclass. The local executor calls
`build_env` / `default_install` / `compile` while building a deployment and `server` to start a warm
instance; the runtimes catalog calls `toolchain` to report what this machine can run.
"""
from __future__ import annotations

import functools
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

# Re-exported for the language modules: a compile step is a build step.
from ..build_steps import BuildError, run_streaming as run_logged  # noqa: F401
from .._resources import RUNTIMES_DIR  # noqa: F401 - the adapters, in a checkout or in the installed package


@dataclass(frozen=True)
class Toolchain:
    available: bool
    version: str = ""  # what actually runs here, e.g. "Python 3.11.7"
    hint: str = ""  # exact install hint when not available


@dataclass
class ServerCommand:
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    cwd: str | None = None


class Language:
    key: str = ""  # runtime id prefix: "python" in "python-3.11"
    name: str = ""  # display name: "Python"
    versions: tuple[str, ...] = ()  # runtime versions accepted (current and older Appwrite ids)
    default_entrypoint: str = ""
    # Files whose change means dependencies must be reinstalled (hot reload uses this too).
    dependency_files: tuple[str, ...] = ()
    compiled: bool = False
    # Binaries that must be on PATH, and the hint shown when one is missing.
    required_binaries: tuple[str, ...] = ()
    install_hint: str = ""
    version_command: tuple[str, ...] = ()
    # Entrypoints of the canonical test functions in runtimes/<key>/tests/{context,legacy}/.
    test_entrypoints: dict[str, str] = {}

    @property
    def adapter_dir(self) -> Path:
        return RUNTIMES_DIR / self.key

    def toolchain(self) -> Toolchain:
        return _probe_toolchain(self.required_binaries, self.version_command, self.install_hint)

    def build_env(self, build_dir: Path) -> dict[str, str]:
        """Extra environment for the user's build commands (e.g. a venv on PATH)."""
        return {}

    def default_install(self, build_dir: Path) -> str:
        """Build command to run when the function sets none (Appwrite's per-runtime default),
        or "" when there is nothing to install."""
        return ""

    def compile(self, build_dir: Path, entrypoint: str, log) -> None:
        """Compile adapter + user code once per deployment (compiled languages).
        `log(text)` appends to the build logs. Raise BuildError on failure."""

    def server(self, code_dir: Path, entrypoint: str) -> ServerCommand:
        raise NotImplementedError


@functools.lru_cache(maxsize=None)
def _probe_toolchain(binaries: tuple[str, ...], version_command: tuple[str, ...], hint: str) -> Toolchain:
    missing = [b for b in binaries if shutil.which(b) is None]
    if missing:
        return Toolchain(False, "", f"{', '.join(missing)} not found. Install: {hint}")
    version = ""
    if version_command:
        try:
            out = subprocess.run(list(version_command), capture_output=True, text=True, timeout=60)
            text = (out.stdout or out.stderr).strip()
            version = text.splitlines()[0] if text else ""
        except (OSError, subprocess.SubprocessError) as exc:
            return Toolchain(False, "", f"{version_command[0]} failed to run ({exc}). Install: {hint}")
    return Toolchain(True, version, "")
