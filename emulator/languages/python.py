"""Python functions on the host: a venv inside the deployment's build dir holds its dependencies, and
`runtimes/python/server.py` runs on that venv's interpreter. The venv is made from a host
interpreter of the runtime's version when one is installed: the emulator's own when it has that
version, else `python3`, `python3.12` for python-3.12 and so on (`version_candidates`); else from
`python3` (the build log says so)."""
from __future__ import annotations

import functools
import os
import platform
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from .base import BuildError, Language, ServerCommand, remember_output_line

VENV = "runtime-env"  # same name as the official images use, inside the build dir
OWN_VERSION = "{}.{}".format(*sys.version_info[:2])
SERVER_ENV = {"PYTHONNOUSERSITE": "1", "PYTHONUNBUFFERED": "1"}  # what an instance's interpreter starts with


def own_interpreter() -> str:
    """The base interpreter running the emulator (not its venv): the first choice for runtimes of
    its version. Its `--version` is known without running it."""
    own = getattr(sys, "_base_executable", "") or sys.executable
    remember_output_line((own, "--version"), 0, f"Python {platform.python_version()}")
    return own


@functools.lru_cache(maxsize=None)
def _host_python(python: str = "python3") -> tuple[str, str, str]:
    """(real interpreter path, its pip package dir or "", its pip dist-info dir or "") of `python`
    (a name on PATH or a path).

    Resolved once so builds skip the pyenv/venv shims."""
    script = ("import sys,os,platform\n"
              "try:\n import pip,glob\n p=os.path.dirname(pip.__file__)\n"
              " d=(glob.glob(os.path.join(os.path.dirname(p),'pip-*.dist-info'))+[''])[0]\n"
              "except Exception:\n p=d=''\n"
              "print(getattr(sys,'_base_executable',sys.executable));print(p);print(d)\n"
              "print('Python',platform.python_version())")
    found = shutil.which(python) or python
    out = subprocess.run([found, "-c", script], capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise BuildError(f"{python} failed to start: {out.stderr.strip()}")
    lines = (out.stdout.splitlines() + ["", "", "", ""])[:4]
    if lines[3].startswith("Python "):
        # What `python --version` prints: the toolchain probe need not run the interpreter (through
        # a version manager's shim, a chain of scripts) a second time.
        remember_output_line((found, "--version"), 0, lines[3])
    return lines[0], lines[1], lines[2]


def _probe_quietly(python: str) -> None:
    try:
        _host_python(python)
    except (BuildError, OSError, subprocess.SubprocessError):
        pass  # not cached: the build asks again and reports it


DEPENDENCY_FILES = ("requirements.txt", "requirements.lock", "pyproject.toml", "setup.py", "setup.cfg", "Pipfile")


def _declares_requirements(path: Path) -> bool:
    """Whether requirements.txt asks pip for anything: starters and the CLI's `init` leave an empty
    one, and pip (bootstrapped into the venv on first use, then its index set-up) costs about 2 s of
    a first build for nothing."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return False
    return any(line.split("#", 1)[0].strip() for line in text.splitlines())


def _make_venv(base: str, venv: Path) -> None:
    """`base -m venv --without-pip venv`; in this process when `base` is this process's own base
    interpreter (the same venv, in ~3 ms instead of an interpreter start)."""
    if os.path.realpath(base) == os.path.realpath(getattr(sys, "_base_executable", sys.executable)):
        import venv as venv_module  # 20 ms of imports (sysconfig): only builds need it
        try:
            venv_module.EnvBuilder(with_pip=False, symlinks=os.name != "nt").create(str(venv))
            return
        except OSError as exc:
            raise BuildError(f"python3 -m venv failed: {exc}")
    # -I -S: the host interpreter's site-packages (and any .pth files there) play no part in making a venv.
    out = subprocess.run([base, "-I", "-S", "-m", "venv", "--without-pip", str(venv)], capture_output=True, text=True,
                         timeout=120)
    if out.returncode != 0:
        raise BuildError(f"python3 -m venv failed: {(out.stderr or out.stdout).strip()}")


def ensure_venv(build_dir: Path, interpreter: str = "python3") -> Path:
    """Create `<build_dir>/runtime-env` from `interpreter` (idempotent) without ensurepip,
    which takes seconds.

    The host's own pip (pure Python) is copied in instead: before a build command runs when the
    function has a dependency file (`Python.before_build_command`; the command may run `python -m
    pip`, which no wrapper sees), else by the venv's `pip` wrapper on first use. A build that runs
    no command (nothing to install) copies none of pip's thousand files. Either way pip runs on the
    venv's interpreter and installs into the venv; nothing of the emulator's environment is touched."""
    venv = build_dir / VENV
    python = venv / "bin" / "python"
    if python.exists():
        return venv
    base, pip_dir, dist_info = _host_python(interpreter)
    _make_venv(base, venv)
    site = next((venv / "lib").glob("python3*/site-packages"), None)
    if not pip_dir or site is None:
        out = subprocess.run([str(python), "-m", "ensurepip", "--default-pip"], capture_output=True, text=True, timeout=300)
        if out.returncode != 0:
            raise BuildError(f"ensurepip failed: {(out.stderr or out.stdout).strip()}")
        return venv
    sources = " ".join(shlex.quote(p) for p in (pip_dir, dist_info) if p)
    site_rel = site.relative_to(venv)
    wrapper = ("#!/bin/sh\n"
               f'site="$(dirname "$0")/../{site_rel}"\n'
               f'[ -d "$site/pip" ] || cp -R {sources} "$site/" || exit 1\n'
               'exec "$(dirname "$0")/python" -m pip "$@"\n')
    for name in ("pip", "pip3", f"pip{site.parent.name[len('python'):]}"):
        script = venv / "bin" / name
        script.write_text(wrapper)
        script.chmod(0o755)
    return venv


def copy_pip(build_dir: Path, interpreter: str = "python3") -> None:
    """Copy the host's pip into the venv `ensure_venv` made, unless it is there."""
    _, pip_dir, dist_info = _host_python(interpreter)
    site = next((build_dir / VENV / "lib").glob("python3*/site-packages"), None)
    if pip_dir and site is not None and not (site / "pip").exists():
        subprocess.run(["cp", "-R", *(p for p in (pip_dir, dist_info) if p), str(site)], check=True, timeout=120)


class Python(Language):
    key = "python"
    spare_launcher = Path(__file__).parents[1] / "dev" / "python_spare.py"
    startup_env_prefixes = Language.startup_env_prefixes + ("PYTHON",)
    logs_on_tmpfs = True  # runtimes/python/server.py caps a call's logs
    name = "Python"
    versions = ("3.8", "3.9", "3.10", "3.11", "3.12", "3.13", "3.14")
    default_entrypoint = "main.py"
    dependency_files = DEPENDENCY_FILES
    required_binaries = ("python3",)
    install_hint = "apt-get install -y python3 python3-venv python3-pip"
    version_command = ("python3", "--version")
    test_entrypoints = {"context": "tests.py", "legacy": "main.py"}
    primary_binary = "python3"

    def version_candidates(self) -> list[str]:
        v = self.runtime_version
        pyenv = os.environ.get("PYENV_ROOT") or "~/.pyenv"
        # The emulator's own interpreter first when it has the version: known without running
        # anything (`python3` may be a version manager's shim, ~0.1 s a run); then `python3`.
        own = self._own_interpreter()
        return ([own] if own else []) + ["python3", f"python{v}", f"/usr/bin/python{v}", f"/usr/local/bin/python{v}",
                      f"{pyenv}/versions/{v}.*/bin/python{v}", f"~/.local/share/uv/python/cpython-{v}.*/bin/python{v}"]

    @property
    def adapter_dir(self) -> Path:
        return super().adapter_dir.parent / "python"

    def _own_interpreter(self) -> str:
        """The emulator's own interpreter when it has this runtime's version, else ""."""
        return own_interpreter() if self.runtime_version == OWN_VERSION else ""

    def warm_up(self) -> None:
        # A venv is made from `_host_python(self.binary())`, and the binary is the emulator's own
        # interpreter, else `python3` on PATH, whenever that has the runtime's version. Asked
        # first: the probe also tells python3's version, which the version match then takes
        # instead of running `python3 --version` too.
        guess = self.toolchain_override or self._own_interpreter() or shutil.which("python3")
        if guess:
            _probe_quietly(guess)
        super().warm_up()

    def build_env(self, build_dir: Path) -> dict[str, str]:
        venv = ensure_venv(Path(build_dir), self.binary())
        return {
            "VIRTUAL_ENV": str(venv),
            "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "PYTHONNOUSERSITE": "1",
        }

    def before_build_command(self, build_dir: Path) -> None:
        if any((Path(build_dir) / name).exists() for name in DEPENDENCY_FILES):
            copy_pip(Path(build_dir), self.binary())

    def default_install(self, build_dir: Path) -> str:
        if _declares_requirements(Path(build_dir) / "requirements.txt"):
            return "pip install -r requirements.txt"
        return ""

    def server(self, code_dir: Path, entrypoint: str) -> ServerCommand:
        venv = Path(code_dir) / VENV
        python = venv / "bin" / "python"
        env = dict(SERVER_ENV)
        if python.exists():
            env["VIRTUAL_ENV"] = str(venv)
            env["PATH"] = f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"
            interpreter = str(python)
        else:  # built elsewhere (e.g. an image layout without the venv): the host interpreter
            interpreter = _host_python(self.binary())[0]
        return ServerCommand([interpreter, str(self.adapter_dir / "server.py")], env, str(code_dir))

    def early_server(self) -> ServerCommand | None:
        # Before the build, the venv the instance runs in does not exist yet: the spare starts on its
        # base interpreter with -S (no site-packages at all), and at its release takes the venv's
        # python as sys.executable and runs `site` as that interpreter would have at its start
        # (python_spare.py), so the function sees its venv's packages and nothing of the host's.
        # What `binary()` picks, known without a probe when it is the emulator's own interpreter.
        base = "" if self.toolchain_override else self._own_interpreter()
        if not base:
            try:
                base = _host_python(self.binary())[0]
            except (BuildError, OSError, subprocess.SubprocessError):
                return None  # the build reports it
        if not base:
            return None
        return ServerCommand([base, "-S", str(self.spare_launcher), str(self.adapter_dir / "server.py")],
                             dict(SERVER_ENV))


class PythonML(Python):
    key = "python-ml"
    name = "Python (ML)"
    versions = ("3.11", "3.12", "3.13")
