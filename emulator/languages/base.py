"""What the emulator needs to know about one language to build and run functions on the host.

Each `emulator/languages/<lang>.py` defines one `Language` subclass. The local executor calls
`build_env` / `default_install` / `compile` while building a deployment and `server` to start a warm
instance; the runtimes catalog calls `toolchain` to report what this machine can run.

`languages.language_for_runtime("python-3.12")` hands out the language bound to that runtime
version (`runtime_version`), and to the binary the user mapped that runtime to, if any
(`toolchain_override`, from `--toolchain python-3.12=/usr/bin/python3.12`). A language whose
`primary_binary` can differ per version (python3, node, php, deno, ruby, javac, kotlinc) then runs the
host binary of that version when one is installed (`versioned_binary`); otherwise `version_note` says which version
actually runs, in the build log and in `python -m emulator runtimes`.
"""
from __future__ import annotations

import copy
import functools
import glob
import os
import re
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
    # The binary that runs (or, for javac and kotlinc, builds) functions and can be had per version: a runtime
    # can be mapped to another one of these. "" when the language picks its toolchain itself.
    primary_binary: str = ""
    # False when the runtime version is not a toolchain version (C++'s is the language standard).
    versioned_toolchain: bool = True
    # Whether the adapter may write its log files on tmpfs (/dev/shm, executors/logs_dirs.py):
    # only adapters that cap what a call leaves in them (5 MiB + 1 per file), since tmpfs is memory.
    logs_on_tmpfs: bool = False
    # A launcher in emulator/dev/ that starts the adapter ahead of need (`server_ahead`); dev's
    # hot swaps are the only ones that ask for it.
    spare_launcher: Path | None = None
    # Variables read while the interpreter starts (before the adapter runs): a spare started before
    # them (`early_server`) must not serve a function whose variables set them.
    startup_env_prefixes: tuple[str, ...] = ("LD_", "MALLOC_")
    # Set on the copies language_for_runtime hands out (see bound()); "" on the registry's instances.
    runtime_version: str = ""
    toolchain_override: str = ""

    def bound(self, version: str, toolchain_override: str = "") -> "Language":
        """This language for one runtime version (and the binary the user mapped it to, if any)."""
        bound = copy.copy(self)
        bound.runtime_version = version
        bound.toolchain_override = toolchain_override
        return bound

    @property
    def runtime_id(self) -> str:
        return f"{self.key}-{self.runtime_version}" if self.runtime_version else self.key

    def version_candidates(self) -> list[str]:
        """Binaries (names on PATH, paths or glob patterns) that may be this runtime version's
        `primary_binary`, best first. Only asked when the language has a primary binary."""
        return []

    def versioned_binary(self) -> str:
        """The host binary that runs this runtime: the user's mapping, else an installed binary whose
        version matches the runtime's, else "" (the default toolchain runs)."""
        if self.toolchain_override:
            return self.toolchain_override
        if not self.primary_binary or not self.runtime_version or not self.versioned_toolchain:
            return ""
        return _first_matching(tuple(self.version_candidates()), self.version_command[1:], self.wanted_version())

    def wanted_version(self) -> str:
        """The toolchain version this runtime asks for (see `wanted_version`)."""
        return wanted_version(self.runtime_version, self.versions)

    def binary(self) -> str:
        """`primary_binary` as this runtime runs it: the versioned one when there is one."""
        return self.versioned_binary() or self.primary_binary

    def version_note(self) -> str:
        """"" when what runs this runtime here has the runtime's version (or the toolchain is missing),
        else one line saying which version actually runs and how to run the right one."""
        if not self.runtime_version or not self.versioned_toolchain:
            return ""
        tool = self.toolchain()
        if not tool.available or version_matches(tool.version, self.wanted_version()):
            return ""
        how = (f" Install it, or map this runtime to one: --toolchain {self.runtime_id}=/path/to/{self.primary_binary}"
               if self.primary_binary and not self.toolchain_override else "")
        whose = "the mapped toolchain" if self.toolchain_override else "this machine's toolchain"
        return (f"Note: {self.runtime_id} runs on {whose}, {tool.version}; no {self.name} "
                f"{self.wanted_version()} is used here.{how}")

    @property
    def adapter_dir(self) -> Path:
        return RUNTIMES_DIR / self.key

    def toolchain(self) -> Toolchain:
        versioned = self.versioned_binary() if self.primary_binary else ""
        if versioned and self.version_command[:1] == (self.primary_binary,):
            binaries = tuple(versioned if b == self.primary_binary else b for b in self.required_binaries)
            return _probe_toolchain(binaries, (versioned, *self.version_command[1:]), self.install_hint)
        return _probe_toolchain(self.required_binaries, self.version_command, self.install_hint)

    def warm_up(self) -> None:
        """Run the (cached) probes a build and an instance of this runtime ask for, ahead of them:
        `dev` calls it while the server starts (dev/warmup.py)."""
        self.toolchain()

    def build_env(self, build_dir: Path) -> dict[str, str]:
        """Extra environment for the user's build commands (e.g. a venv on PATH)."""
        return {}

    def before_build_command(self, build_dir: Path) -> None:
        """Called after `build_env`, before the build's command runs (not when there is none)."""

    def nothing_to_install(self, build_dir: Path, command: str) -> str:
        """Why the build command `command` would change nothing in `build_dir` (the build then
        skips it and logs this reason), or "" to run it. Only for commands known to be no-ops."""
        return ""

    def default_install(self, build_dir: Path) -> str:
        """Build command to run when the function sets none (Appwrite's per-runtime default),
        or "" when there is nothing to install."""
        return ""

    def compile(self, build_dir: Path, entrypoint: str, log) -> None:
        """Compile adapter + user code once per deployment (compiled languages).
        `log(text)` appends to the build logs. Raise BuildError on failure."""

    def server(self, code_dir: Path, entrypoint: str) -> ServerCommand:
        raise NotImplementedError

    def server_ahead(self, command: ServerCommand) -> ServerCommand | None:
        """`command` (from `server`: `INTERPRETER ADAPTER`) as a process that starts ahead of need and
        loads no code of the function until one line on its stdin releases it (LocalExecutor.
        start_ahead): `INTERPRETER spare_launcher ADAPTER`. None when the language has no launcher."""
        if self.spare_launcher is None:
            return None
        interpreter, adapter = command.argv
        return ServerCommand([interpreter, str(self.spare_launcher), adapter], command.env, command.cwd)

    def early_server(self) -> ServerCommand | None:
        """A spare (as `server_ahead`) that can start before the function has any build: `dev`
        starts one per function while its server imports (executors/early.py), and the local
        executor releases it as the first instance, passing the environment and folder then. None
        when the language has no launcher that can take those at its release."""
        return None

    def early_fits(self, early: ServerCommand, command: ServerCommand) -> bool:
        """Whether a spare started as `early` can run as `command` (from `server`): the same
        interpreter (links resolved: a venv's python is a link to its base) and the same adapter."""
        return os.path.realpath(early.argv[0]) == os.path.realpath(command.argv[0]) \
            and early.argv[-1] == command.argv[-1]


def xml_escape(text: str) -> str:
    """`&`, `<` and `>` as XML entities, as xml.sax.saxutils.escape writes them (whose import pulls in
    urllib.request and the email package: ~15 ms of every command's start, for build files only)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@functools.lru_cache(maxsize=None)
def _probe_toolchain(binaries: tuple[str, ...], version_command: tuple[str, ...], hint: str) -> Toolchain:
    missing = [b for b in binaries if shutil.which(b) is None]
    if missing:
        return Toolchain(False, "", f"{', '.join(missing)} not found. Install: {hint}")
    version = ""
    if version_command:
        code, version = _first_output_line(tuple(version_command))
        if code is None:
            return Toolchain(False, "", f"{version_command[0]} failed to run ({version}). Install: {hint}")
    return Toolchain(True, version, "")


# Answers learnt from another run of the same binary (remember_output_line), asked before running.
_KNOWN_OUTPUT_LINES: dict[tuple[str, ...], tuple[int, str]] = {}


def remember_output_line(argv: tuple[str, ...], code: int, line: str) -> None:
    """What `argv` would print, learnt otherwise (Python's interpreter probe also reports the
    version): `_first_output_line` then answers without running it, through a shim or not."""
    _KNOWN_OUTPUT_LINES.setdefault(tuple(argv), (code, line))


@functools.lru_cache(maxsize=None)
def _first_output_line(argv: tuple[str, ...]) -> tuple[int | None, str]:
    """(exit code, first line it printed) of `argv`; (None, the error) when it cannot run. Cached:
    the toolchain probe and the version match run the same `<binary> --version`, and a version
    manager's shim (pyenv's is a chain of bash scripts) costs ~0.3 s a run."""
    if argv in _KNOWN_OUTPUT_LINES:
        return _KNOWN_OUTPUT_LINES[argv]
    try:
        out = subprocess.run(list(argv), capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as exc:
        return None, str(exc)
    text = (out.stdout or out.stderr).strip()
    return out.returncode, text.splitlines()[0] if text else ""


def wanted_version(runtime_version: str, versions: tuple[str, ...]) -> str:
    """The toolchain version a runtime version asks for: `3.12` means 3.12.x and `14.5` 14.5.x; an
    `X.0` names the whole X line when the language lists no other X.y (Appwrite's node-16.0 and
    java-17.0 are Node 16 and JDK 17), else X.0 itself (php-8.0 beside php-8.1)."""
    major, _, minor = runtime_version.partition(".")
    if minor == "0" and not any(v != runtime_version and v.split(".")[0] == major for v in versions):
        return major
    return runtime_version


def version_matches(toolchain_version: str, wanted: str) -> bool:
    """Whether a toolchain's version text ("Python 3.12.1", "v20.1.0", "javac 17.0.15") is version
    `wanted` (a `wanted_version`): its first dotted number starts with the wanted components."""
    found = re.search(r"\d+(?:\.\d+)*", toolchain_version)
    if not found:
        return False
    return found.group(0).split(".")[:len(wanted.split("."))] == wanted.split(".")


@functools.lru_cache(maxsize=None)
def _first_matching(candidates: tuple[str, ...], version_args: tuple[str, ...], wanted: str) -> str:
    """The first candidate binary that runs and reports version `wanted`, as an absolute path; ""
    when none does (a pyenv shim of an uninstalled version fails to run, so it is skipped)."""
    seen = set()
    for candidate in candidates:
        if any(ch in candidate for ch in "*?["):
            paths = sorted(glob.glob(os.path.expanduser(candidate)), reverse=True)  # newest patch first
        else:
            found = shutil.which(candidate) if os.sep not in candidate else candidate
            paths = [found] if found else []
        for path in paths:
            if path in seen or not (os.path.isfile(path) and os.access(path, os.X_OK)):
                continue
            seen.add(path)
            if version_matches(binary_version(path, version_args), wanted):
                return path
    return ""


@functools.lru_cache(maxsize=None)
def binary_version(path: str, version_args: tuple[str, ...]) -> str:
    """First line of what `path version_args` prints, "" when it fails. Cached per binary: the
    runtimes of every version of a language ask the same candidates (a JVM start each, for javac)."""
    code, line = _first_output_line((path, *version_args))
    return line if code == 0 else ""

