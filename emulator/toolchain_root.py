"""Toolchain roots: a language toolchain the host's distribution lacks, in a Debian tree of its own.

Swift is the case: Debian 13 (trixie) packages Swift 6 as `swiftlang`, but on an older host
(bookworm, glibc 2.36) neither trixie's `swift` nor what it compiles can run. A toolchain root is
`debootstrap --variant=minbase <suite>` plus the toolchain's packages, kept in the emulator's cache
under a name that hashes its definition (suite, packages, recipe), built once per machine:

    sudo python -m emulator.toolchain_root build swift      (as root; about 3 GB, a minute or two)

A command runs in the root through `unshare --mount` (a private mount namespace that ends with its
last process, so the host's mount table is never touched), bind mounts and `chroot`. `unshare`
(without --fork), the small sh script, `chroot` and `env` all exec in turn: the command keeps the
pid, process group and environment the emulator started it with, so emulator/processes.py owns and
ends it like any host process, and it shares the host's network (ports on 127.0.0.1). Inside, the
root's own system directories (/usr, /etc, /var, ...) are the toolchain's; the host directories a
command works in (build dir, code dir, logs dir, /tmp) are bound at the same paths, so file names
mean the same inside and out. It is a toolchain environment, not a sandbox: local-executor
functions are host processes either way.

Not root: `unshare --user --map-root-user` provides the namespaces where unprivileged user
namespaces are allowed (building the root still needs root).
"""
from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

CACHE_DIR = Path(os.environ.get("APPWRITE_EMULATOR_CACHE", Path.home() / ".cache" / "appwrite-emulator"))
MIRROR = os.environ.get("APPWRITE_EMULATOR_DEBIAN_MIRROR", "http://deb.debian.org/debian")
# Bump when the way a root is made changes (not its inputs, which the key hashes anyway).
RECIPE = "1"
# Top-level directories that belong to the root: never replaced by the host's. Any other
# top-level directory a command needs (/tmp, /root, /home, /work, ...) is the host's, bound whole,
# so mount points are only ever created at the top of the root, not once per build.
ROOT_OWN = frozenset({"bin", "boot", "dev", "etc", "lib", "lib32", "lib64", "libx32", "opt", "proc", "run",
                      "sbin", "srv", "sys", "usr", "var"})

# $1 the root, then host paths to bind, "--", the working directory, the command. The logs dir a
# runtime writes to is only known from its environment at start, hence OPEN_RUNTIMES_LOGS_DIR.
ENTER_SCRIPT = r"""
set -e
root=$1; shift
bind() {
    top=/$(printf '%s' "$1" | cut -d/ -f2)
    case "$top" in @ROOT_OWN@) top=$1;; esac
    [ -d "$root$top" ] || mkdir -p "$root$top"
    mountpoint -q "$root$top" || mount --rbind "$top" "$root$top"
}
for system in /proc /dev /sys; do mount --rbind "$system" "$root$system"; done
while [ "$1" != -- ]; do bind "$1"; shift; done
shift
[ -z "$OPEN_RUNTIMES_LOGS_DIR" ] || bind "$OPEN_RUNTIMES_LOGS_DIR"
cwd=$1; shift
exec chroot "$root" /usr/bin/env --chdir="$cwd" "$@"
""".replace("@ROOT_OWN@", "|".join(f"/{top}" for top in sorted(ROOT_OWN)))


class RootUnavailable(RuntimeError):
    """The root cannot be built here (not root, no debootstrap) or its build failed."""


@dataclass(frozen=True)
class ToolchainRoot:
    name: str  # "swift": what `python -m emulator.toolchain_root build <name>` takes
    suite: str  # Debian suite debootstrapped
    packages: tuple[str, ...]  # installed with apt-get (no recommends) on top of minbase

    @property
    def key(self) -> str:
        spec = f"{RECIPE}|{self.suite}|minbase|{','.join(sorted(self.packages))}"
        return hashlib.sha256(spec.encode()).hexdigest()[:16]

    @property
    def path(self) -> Path:
        return CACHE_DIR / "toolchain-roots" / f"{self.name}-{self.suite}-{self.key}"

    def present(self) -> bool:
        # Built under another name and renamed at the end: the path exists only when complete.
        return (self.path / "usr" / "bin").is_dir()

    def build_hint(self) -> str:
        command = f"{shlex.quote(sys.executable)} -m emulator.toolchain_root build {self.name}"
        if os.geteuid() != 0:
            command = f"sudo APPWRITE_EMULATOR_CACHE={shlex.quote(str(CACHE_DIR))} {command}"
        return f"{command}   (Debian {self.suite} root with {' '.join(self.packages)}; needs debootstrap, about 3 GB)"

    def command(self, argv: list[str], cwd: Path | str, paths: tuple[Path | str, ...] = ()) -> list[str]:
        """`argv` run inside the root in `cwd`, with /tmp ($TMPDIR), `cwd` and `paths` bound at their host paths."""
        temp = [os.environ["TMPDIR"]] if os.environ.get("TMPDIR") else []
        binds = _dedupe(["/tmp", *temp, str(cwd), *map(str, paths)])
        return [*_unshare(), "--", "/bin/sh", "-c", ENTER_SCRIPT, "enter-root", str(self.path), *binds, "--",
                str(cwd), *argv]

    @functools.lru_cache(maxsize=None)  # noqa: B019 (the few roots live as long as the process)
    def version(self, version_command: tuple[str, ...]) -> str:
        """First line of `version_command` run in the root, or "" when it does not run."""
        try:
            out = subprocess.run(self.command(list(version_command), "/tmp"), capture_output=True, text=True,
                                 timeout=60)
        except (OSError, subprocess.SubprocessError):
            return ""
        text = (out.stdout or "").strip() if out.returncode == 0 else ""
        return text.splitlines()[0] if text else ""

    def build(self, log=print) -> Path:
        """Build the root unless it is there (serialised across processes); returns its path."""
        if self.present():
            return self.path
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with _file_lock(self.path.parent / f"{self.name}.lock"):
            if self.present():
                return self.path
            if os.geteuid() != 0:
                raise RootUnavailable(f"building a toolchain root needs root (debootstrap, chroot): {self.build_hint()}")
            if shutil.which("debootstrap") is None:
                raise RootUnavailable("debootstrap not found. Install: apt-get install -y debootstrap")
            work = Path(tempfile.mkdtemp(prefix=f".{self.path.name}-", dir=self.path.parent))
            work.chmod(0o755)  # mkdtemp's 0700 would become the root's "/"
            started = time.monotonic()
            try:
                log(f"debootstrap --variant=minbase {self.suite} from {MIRROR}")
                _run(["debootstrap", "--variant=minbase", self.suite, str(work), MIRROR])
                log(f"apt-get install {' '.join(self.packages)}")
                apt = ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "-q", "-y", "-o", "Dpkg::Use-Pty=0"]
                # Only /proc, /dev and /sys from the host: the package scripts see nothing else of it.
                entered = [*_unshare(), "--", "/bin/sh", "-c", ENTER_SCRIPT, "enter-root", str(work), "--", "/"]
                _run([*entered, *apt, "install", "--no-install-recommends", *self.packages])
                _run([*entered, *apt, "clean"])
                shutil.rmtree(work / "var" / "lib" / "apt" / "lists", ignore_errors=True)
                (work / "var" / "lib" / "apt" / "lists" / "partial").mkdir(parents=True)
                work.rename(self.path)
            finally:
                shutil.rmtree(work, ignore_errors=True)
            log(f"{self.name} toolchain root built in {time.monotonic() - started:.0f}s: {self.path}")
        return self.path


SWIFT = ToolchainRoot("swift", "trixie", ("swiftlang", "libc6-dev", "libstdc++-14-dev"))
ROOTS = {root.name: root for root in (SWIFT,)}


def _unshare() -> list[str]:
    user = [] if os.geteuid() == 0 else ["--user", "--map-root-user"]
    return ["unshare", *user, "--mount", "--propagation", "private"]


def _dedupe(paths: list[str]) -> list[str]:
    seen: dict[str, None] = {}
    for path in paths:
        seen.setdefault(str(Path(path).resolve()), None)
    return list(seen)


def _run(argv: list[str]) -> None:
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=3600)
    if proc.returncode != 0:
        raise RootUnavailable(f"{' '.join(argv[:6])} ... failed ({proc.returncode}):\n"
                              f"{proc.stdout.decode(errors='replace')[-3000:]}")


@contextlib.contextmanager
def _file_lock(path: Path):
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def main(args: list[str]) -> int:
    usage = f"usage: python -m emulator.toolchain_root build|path {'|'.join(ROOTS)}"
    if len(args) != 2 or args[0] not in ("build", "path") or args[1] not in ROOTS:
        print(usage, file=sys.stderr)
        return 2
    root = ROOTS[args[1]]
    if args[0] == "path":
        print(root.path)
        return 0 if root.present() else 1
    try:
        root.build(lambda message: print(f"[toolchain-root] {message}", flush=True))
    except RootUnavailable as exc:
        print(f"[toolchain-root] {exc}", file=sys.stderr)
        return 1
    print(root.path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
