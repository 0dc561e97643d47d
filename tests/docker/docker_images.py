"""Test images that follow the openruntimes v5 layout, built locally (no registry is reachable).

    debootstrap --variant=minbase bookworm  ->  rootfs tarball (cached in ~/.cache/appwrite-emulator)
    docker import                           ->  appwrite-emulator-test/base:<hash>
    + runtimes/_image helpers and hooks, + our adapter runtimes/<lang>/
                                            ->  appwrite-emulator-test/<lang>:v5-<version>

Layout as in the official images: /usr/local/server/helpers/{build,start,server}.sh, the adapter
under /usr/local/server/src, the build extracted to /usr/local/server/src/function, /mnt/code,
/mnt/logs, port 3000, and the image env OPEN_RUNTIMES_SECRET / _ENTRYPOINT / _ENV / _HEADERS.

Everything is keyed by a hash of its inputs (package list, helper scripts, adapter files): built
once per machine or CI run, rebuilt when an input changes. The tags use a test prefix so they never
shadow real `openruntimes/*` images; point `DockerExecutor(image_prefix=TEST_PREFIX)` at them.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from docker_engine import CACHE_DIR, EngineUnavailable, cache_lock, client, probe_published_port  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
IMAGE_FILES = REPO / "runtimes" / "_image"
TEST_PREFIX = "appwrite-emulator-test"
SUITE = "bookworm"
MIRROR = os.environ.get("APPWRITE_EMULATOR_DEBIAN_MIRROR", "http://deb.debian.org/debian")
# bookworm ships Python 3.11, Node.js 18, PHP 8.2 and Ruby 3.1; the images are tagged with what they
# really contain. One root file system serves every image: the toolchains are small beside it.
PACKAGES = ("bash", "tar", "gzip", "ca-certificates", "python3", "python3-venv", "nodejs", "util-linux",
            "php-cli", "php-mbstring", "ruby")
LABEL_INPUTS = "appwrite-emulator.inputs"


class AdapterMissing(EngineUnavailable):
    """runtimes/<lang>/ has no adapter yet: there is nothing to build an image from."""


class ImageBuildFailed(RuntimeError):
    """`docker build` of a test image failed: the image inputs (helpers, adapter) are broken. Not an
    EngineUnavailable: the engine works, the product does not."""


def has_adapter(lang: str) -> bool:
    return (REPO / "runtimes" / lang).is_dir() and bool(_adapter_files(lang))


@dataclass(frozen=True)
class ImageDef:
    lang: str
    runtime: str  # the runtime id the tests use with this image
    tags: tuple[str, ...]
    entrypoint: str
    server_command: str  # run from the server dir (/usr/local/server, v2: /usr/local/src)
    contract: str = "v5"  # v2: the open-runtimes 0.3.x layout (/usr/local/src, /usr/code, CMD start.sh)

    @property
    def key(self) -> str:
        return self.lang if self.contract == "v5" else f"{self.lang}-{self.contract}"


TEST_IMAGES = {d.key: d for d in (
    ImageDef("python", "python-3.11", ("v5-3.11",), "main.py", "python3 src/server.py"),
    ImageDef("node", "node-18.0", ("v5-18.0",), "index.js", "node src/server.js"),
    ImageDef("php", "php-8.2", ("v5-8.2",), "index.php", "php src/server.php"),
    ImageDef("ruby", "ruby-3.1", ("v5-3.1",), "index.rb", "ruby src/server.rb"),
    ImageDef("python", "python-3.11", ("v2-3.11",), "main.py", "python3 server.py", contract="v2"),
    ImageDef("node", "node-18.0", ("v2-18.0",), "index.js", "node server.js", contract="v2"),
    ImageDef("php", "php-8.2", ("v2-8.2",), "index.php", "php server.php", contract="v2"),
    ImageDef("ruby", "ruby-3.1", ("v2-3.1",), "index.rb", "ruby server.rb", contract="v2"),
)}


def _say(log, msg: str) -> None:
    (log or (lambda m: print(f"[docker-images] {m}", file=sys.stderr, flush=True)))(msg)


# -- root file system ---------------------------------------------------------------------------

def rootfs_key() -> str:
    return hashlib.sha256(f"{SUITE}|minbase|{','.join(sorted(PACKAGES))}".encode()).hexdigest()[:16]


def rootfs_path() -> Path:
    return CACHE_DIR / "rootfs" / f"debian-{SUITE}-{rootfs_key()}.tar.gz"


def ensure_rootfs(log=None) -> Path:
    target = rootfs_path()
    if target.exists():
        return target
    with cache_lock("rootfs"):
        if target.exists():
            return target
        if os.geteuid() != 0:
            raise EngineUnavailable(f"building the test root file system needs root (debootstrap); "
                                    f"run `sudo .ci/docker-setup.sh` once, or provide {target}")
        if shutil.which("debootstrap") is None:
            _say(log, "apt-get install -y debootstrap")
            subprocess.run(["apt-get", "install", "-y", "-qq", "debootstrap"], check=True, timeout=600,
                           env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
                           stdout=subprocess.DEVNULL)
        target.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix="rootfs-", dir=target.parent))
        started = time.monotonic()
        try:
            root = work / "root"
            _say(log, f"debootstrap --variant=minbase {SUITE} ({', '.join(PACKAGES)}) from {MIRROR}")
            proc = subprocess.run(["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}",
                                   SUITE, str(root), MIRROR], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  timeout=1800)
            if proc.returncode != 0:
                raise EngineUnavailable(f"debootstrap failed:\n{proc.stdout.decode(errors='replace')[-3000:]}")
            # Package caches are half the size and useless in an image.
            for sub in ("var/cache/apt/archives", "var/lib/apt/lists"):
                for item in (root / sub).glob("*"):
                    if item.is_file():
                        item.unlink()
            partial = work / "rootfs.tar.gz"
            subprocess.run(["tar", "--numeric-owner", "-I", "gzip -1", "-cf", str(partial), "-C", str(root), "."],
                           check=True, timeout=900)
            partial.rename(target)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        _say(log, f"root file system built in {time.monotonic() - started:.0f}s: {target}")
        return target


def ensure_base_image(log=None) -> str:
    tag = f"{TEST_PREFIX}/base:{rootfs_key()}"
    c = client(timeout=600)
    try:
        if _image_exists(c, tag):
            return tag
        tarball = ensure_rootfs(log)
        with cache_lock("images"):
            if not _image_exists(c, tag):
                _say(log, f"docker import {tarball.name} -> {tag}")
                repo, _, version = tag.rpartition(":")
                c.api.import_image_from_file(str(tarball), repository=repo, tag=version)
        return tag
    finally:
        c.close()


def _image_exists(c, tag: str, inputs: str | None = None) -> bool:
    import docker.errors
    try:
        image = c.images.get(tag)
    except docker.errors.ImageNotFound:
        return False
    return inputs is None or (image.labels or {}).get(LABEL_INPUTS) == inputs


def port_probe() -> str:
    """For docker_engine.ensure_engine: can a container's port be reached on 127.0.0.1?"""
    try:
        return probe_published_port(ensure_base_image())
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"


# -- runtime images -----------------------------------------------------------------------------

def _adapter_files(lang: str) -> list[Path]:
    base = REPO / "runtimes" / lang
    skip_dirs = {"tests", "node_modules", "__pycache__", ".venv", "build", "target"}
    out = []
    for path in sorted(base.rglob("*")):
        rel = path.relative_to(base)
        if any(part in skip_dirs for part in rel.parts) or not path.is_file() or path.suffix == ".pyc":
            continue
        out.append(path)
    return out


def _dockerfile(defn: ImageDef, base: str) -> str:
    if defn.contract == "v2":
        return f"""FROM {base}
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \\
    INTERNAL_RUNTIME_ENTRYPOINT={defn.entrypoint} \\
    INTERNAL_RUNTIME_SERVER_COMMAND="{defn.server_command}"
COPY rootfs/ /
WORKDIR /usr/local/src
EXPOSE 3000
CMD ["/usr/local/src/start.sh"]
"""
    return f"""FROM {base}
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \\
    OPEN_RUNTIMES_SECRET=open_runtime_secret \\
    OPEN_RUNTIMES_ENV=production \\
    OPEN_RUNTIMES_HEADERS="{{}}" \\
    OPEN_RUNTIMES_ENTRYPOINT={defn.entrypoint} \\
    OPEN_RUNTIMES_SERVER_COMMAND="{defn.server_command}"
COPY rootfs/ /
WORKDIR /usr/local/server
EXPOSE 3000
CMD ["bash", "helpers/start.sh", "bash helpers/server.sh"]
"""


def _context(defn: ImageDef, base: str) -> tuple[bytes, str]:
    """The build context as a tar, and the hash of everything in it."""
    entries: list[tuple[str, bytes | None, int]] = [("Dockerfile", _dockerfile(defn, base).encode(), 0o644)]
    if defn.contract == "v2":
        for d in ("usr/code", "usr/builds", "usr/code-start", "usr/workspace"):
            entries.append((f"rootfs/{d}", None, 0o755))
        for script in sorted((IMAGE_FILES / "v2").glob("*.sh")):
            entries.append((f"rootfs/usr/local/src/{script.name}", script.read_bytes(), 0o755))
        server_dir = "rootfs/usr/local/src"
    else:
        server_dir = "rootfs/usr/local/server/src"
    if defn.contract == "v5":
        for d in ("mnt/code", "mnt/logs", "mnt/telemetry", "usr/local/build", "usr/local/server/src/function"):
            entries.append((f"rootfs/{d}", None, 0o755))
        for script in sorted((IMAGE_FILES / "helpers").glob("*.sh")):
            entries.append((f"rootfs/usr/local/server/helpers/{script.name}", script.read_bytes(), 0o755))
        hooks = IMAGE_FILES / "hooks" / defn.lang
        if hooks.is_dir():
            for hook in sorted(hooks.glob("*.sh")):
                entries.append((f"rootfs/usr/local/server/hooks/{hook.name}", hook.read_bytes(), 0o644))
    adapter = REPO / "runtimes" / defn.lang
    for path in _adapter_files(defn.lang):
        entries.append((f"{server_dir}/{path.relative_to(adapter)}", path.read_bytes(), 0o644))
    digest = hashlib.sha256()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        made = set()
        for name, data, mode in entries:
            digest.update(f"{name}|{mode}|".encode() + hashlib.sha256(data or b"").digest())
            parts = name.split("/")
            for i in range(1, len(parts)):  # parent directories with sane modes
                parent = "/".join(parts[:i])
                if parent not in made:
                    made.add(parent)
                    info = tarfile.TarInfo(parent)
                    info.type, info.mode = tarfile.DIRTYPE, 0o755
                    tar.addfile(info)
            info = tarfile.TarInfo(name)
            info.mode = mode
            if data is None:
                info.type = tarfile.DIRTYPE
                made.add(name)
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue(), digest.hexdigest()[:16]


def ensure_image(defn: ImageDef, log=None) -> str:
    """Build (or reuse) the test image for one language; returns its first tag."""
    import docker.errors
    if not has_adapter(defn.lang):
        raise AdapterMissing(f"runtimes/{defn.lang}/ has no adapter yet")
    base = ensure_base_image(log)
    context, inputs = _context(defn, base)
    tags = [f"{TEST_PREFIX}/{defn.lang}:{t}" for t in defn.tags]
    c = client(timeout=600)
    try:
        if all(_image_exists(c, t, inputs) for t in tags):
            return tags[0]
        with cache_lock("images"):
            if all(_image_exists(c, t, inputs) for t in tags):
                return tags[0]
            started = time.monotonic()
            previous = set()
            for t in tags:
                with contextlib.suppress(docker.errors.ImageNotFound):
                    previous.add(c.images.get(t).id)
            try:
                image, _ = c.images.build(fileobj=io.BytesIO(context), custom_context=True, tag=tags[0],
                                          labels={LABEL_INPUTS: inputs}, rm=True, forcerm=True, pull=False)
            except docker.errors.BuildError as exc:
                raise ImageBuildFailed(f"building {tags[0]} failed: {exc}\n"
                                        + "".join(str(x.get("stream", "")) for x in exc.build_log)[-3000:])
            for t in tags[1:]:
                repo, _, version = t.rpartition(":")
                image.tag(repo, version)
            _say(log, f"built {', '.join(tags)} in {time.monotonic() - started:.1f}s")
            # The image an input change replaced; still in use by a container → kept, no harm.
            for old in previous - {image.id}:
                with contextlib.suppress(docker.errors.APIError):
                    c.images.remove(old, noprune=False)
        return tags[0]
    finally:
        c.close()


def ensure_test_images(keys=None, log=None) -> dict[str, str]:
    """{key: image tag} ("python", "node", "python-v2", ...) for every image whose adapter exists
    (or the ones asked for). Only a missing adapter leaves an image out; a failed build raises
    ImageBuildFailed, so a broken image never turns into skipped tests."""
    out = {}
    for key in keys or TEST_IMAGES:
        try:
            out[key] = ensure_image(TEST_IMAGES[key], log)
        except AdapterMissing as exc:
            if keys:
                raise
            _say(log, f"{key}: skipped ({exc})")
    return out
