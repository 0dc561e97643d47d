"""Java (`java-8.0` … `java-25`): each version runs on a host JDK of that version when one is installed
(`jdk_candidates`: PATH, $JAVA_HOME, /usr/lib/jvm, SDKMAN, ...) or on the JDK the user mapped it to
(`--toolchain java-17.0=/path/to/javac`), else on the JDK on PATH, and the build says so. javac and
java always come from the same JDK. The adapter is in runtimes/java.

The adapter is a JDK-only HTTP core (runtimes/java/core, shared with Kotlin) plus the Java facade
(runtimes/java/facade: io.openruntimes.java.RuntimeContext & co.). The adapter is compiled once per
adapter version and JDK into a per-machine cache (~/.cache/appwrite-emulator/jvm); each build javac-
compiles the user's .java files against it and puts both in `.jvm-build/classes`, so the build dir
runs on its own: `java -cp … io.openruntimes.java.Server`.

Layout as Appwrite's Java starter: `src/Main.java` is class `io.openruntimes.java.src.Main` (package
from the path, class from the file name). Code written for Appwrite 1.0-1.3 (a bare
`public RuntimeResponse main(RuntimeRequest req, RuntimeResponse res)` with no class around it) is
wrapped in that class first, as the v2 build did; the adapter then picks the API from main's
parameter types. Jars in `libs/` join the classpath.

Libraries as in the official image: gson is on every function's classpath (the runtime's
build.gradle bundles it; here Debian's libgoogle-gson-java), and what the function's `*.gradle`
files (dependencies.gradle) declare is resolved with its transitive dependencies through Maven
(maven.py) into `.jvm-build/lib`. A pom.xml is not read, as by the official build.
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from . import maven
from .base import RUNTIMES_DIR, Language, ServerCommand, Toolchain, _probe_toolchain, run_logged

OUT = ".jvm-build"  # inside the build dir: compiled classes, runtime jars, generated sources
CORE_DIR = RUNTIMES_DIR / "java" / "core"
# C1 only and the JDK's class-data archive: a warm instance is up in well under a second.
JVM_FLAGS = ("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xshare:auto", "-XX:-UsePerfData",
             "-Dfile.encoding=UTF-8", "-Dsun.stdout.encoding=UTF-8", "-Dsun.stderr.encoding=UTF-8")
DEPENDENCY_FILES = ("dependencies.gradle", "dependencies.gradle.kts", "build.gradle", "build.gradle.kts",
                    "settings.gradle", "settings.gradle.kts")
SKIP_DIRS = {OUT, "node_modules", "build", "target", "out"}
COMMENTS = re.compile(r"//[^\n]*|/\*.*?\*/", re.S)
CACHE_ENTRIES = 40
# C1 only: a short compiler run spends its time warming up, not in optimised code.
COMPILER_JVM_FLAGS = ("-J-XX:TieredStopAtLevel=1", "-J-XX:+UseSerialGC")


def package_for(entrypoint: str, root_package: str) -> tuple[str, str]:
    """`src/Main.java` -> ("io.openruntimes.java.src", "Main"), as the official runtimes load it."""
    path = entrypoint.replace("\\", "/")
    while path.startswith("./"):
        path = path[2:]
    parts = path.split("/")
    base = parts[-1].rsplit(".", 1)[0]
    return ".".join([root_package, *parts[:-1]]), base


def user_sources(build_dir: Path, suffix: str) -> list[Path]:
    """The function's own sources: everything but hidden and build-output folders."""
    found = []
    for root, dirs, files in os.walk(build_dir):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIP_DIRS)
        found.extend(Path(root) / f for f in sorted(files) if f.endswith(suffix))
    return found


def prepare_output(build_dir: Path) -> Path:
    out = build_dir / OUT
    if out.exists():
        shutil.rmtree(out)
    (out / "classes").mkdir(parents=True)
    (out / "lib").mkdir()
    return out


def user_jars(build_dir: Path) -> list[str]:
    libs = build_dir / "libs"
    return [str(p) for p in sorted(libs.glob("*.jar"))] if libs.is_dir() else []


@dataclass(frozen=True)
class Bundled:
    """A library the official runtime's build.gradle puts in every function's jar."""
    artifacts: tuple[str, ...]  # Maven artifact ids it stands for (declared or transitive)
    jar: Path | None  # where this machine has it, or None
    name: str
    hint: str  # how to get it when missing


def gson() -> Bundled:
    jar = Path("/usr/share/java/gson.jar")  # Debian's libgoogle-gson-java
    return Bundled(("gson",), jar if jar.is_file() else None, "gson",
                   "apt-get install -y libgoogle-gson-java, or declare com.google.code.gson:gson in dependencies.gradle")


def resolve_dependencies(build_dir: Path, out: Path, log, bundled: list[Bundled]) -> None:
    """Put the runtime's bundled libraries and what the function's *.gradle files declare (with
    their transitive dependencies, see maven.py) into `out/lib` (compileOnly: `out/compile-lib`).
    Raises BuildError when a declaration cannot be read or resolved."""
    if (build_dir / "pom.xml").is_file():
        log("pom.xml is not read: Appwrite's Java and Kotlin runtimes apply the function's *.gradle files "
            "(dependencies.gradle).\n")
    present = [b for b in bundled if b.jar is not None]
    for library in bundled:
        if library.jar is None:
            log(f"Warning: {library.name}, which the official runtime bundles, is not installed here: {library.hint}.\n")
        else:
            shutil.copyfile(library.jar, out / "lib" / library.jar.name)
    coordinates = maven.declared(build_dir)
    wanted = []
    for coordinate in coordinates:
        library = next((b for b in present if coordinate.artifact in b.artifacts), None)
        if library is not None:
            log(f"{coordinate}: bundled with the runtime ({library.jar}).\n")
        else:
            wanted.append(coordinate)
    maven.resolve(wanted, out / "maven", out / "lib", out / "compile-lib", log,
                  exclude=tuple(a for b in present for a in b.artifacts))


def compile_classpath(out: Path) -> list[str]:
    """Resolved and bundled jars; compileOnly ones too, which are not on the run-time classpath."""
    return [str(p) for d in ("lib", "compile-lib") for p in sorted((out / d).glob("*.jar"))]


def declares_type(source: str, name: str) -> bool:
    pattern = rf"\b(class|interface|enum|record|object)\s+{re.escape(name)}\b"
    return re.search(pattern, COMMENTS.sub("", source)) is not None


def wrap_java_v2(source: str, package: str, name: str) -> str:
    """A v2 snippet (imports + members, no class) becomes `package …; public class <Name> { … }`.
    Everything is added on existing lines, so compiler errors and stack traces keep their lines."""
    lines = source.split("\n")
    code = COMMENTS.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), source).split("\n")
    has_package = any(line.strip().startswith("package ") for line in code)
    last_import = max((i for i, line in enumerate(code) if line.strip().startswith("import ")), default=-1)
    opener = last_import + 1
    if opener >= len(lines):
        lines.append("")
    lines[opener] = f"public class {name} {{ " + lines[opener]
    header = "import io.openruntimes.java.*; "
    if not has_package:
        header = f"package {package}; " + header
        lines[0] = header + lines[0]
    else:
        index = next(i for i, line in enumerate(code) if line.strip().startswith("package "))
        lines[index] = lines[index] + " " + header
    return "\n".join(lines) + "\n}\n"


def generated_entry(out: Path, entrypoint: str, source: str) -> Path:
    target = out / "gen" / entrypoint
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(source, encoding="utf-8")
    return target


def jdk_candidates() -> list[str]:
    """Where JDKs live (javac binaries), the PATH's first: a runtime takes the first of its version."""
    java_home = os.environ.get("JAVA_HOME")
    return ["javac", *([os.path.join(java_home, "bin", "javac")] if java_home else []),
            "/usr/lib/jvm/*/bin/javac", "/opt/java/*/bin/javac", "/opt/jdk*/bin/javac",
            "~/.sdkman/candidates/java/*/bin/javac", "~/.jdks/*/bin/javac", "~/.asdf/installs/java/*/bin/javac"]


def jdk_home(javac_binary: str) -> Path | None:
    """The JDK a javac belongs to (through the /usr/bin alternatives' symlinks), None when not found."""
    found = shutil.which(javac_binary)
    return Path(os.path.realpath(found)).parent.parent if found else None


def jdk_env(javac_binary: str) -> dict[str, str]:
    """JAVA_HOME and PATH of that JDK, for build commands and kotlinc (which runs on JAVA_HOME's java)."""
    home = jdk_home(javac_binary)
    if home is None:
        return {}
    return {"JAVA_HOME": str(home), "PATH": os.pathsep.join([str(home / "bin"), os.environ.get("PATH", "")])}


def jdk_tool(javac_binary: str, name: str) -> str:
    """`name` (java, javac) of the JDK `javac_binary` belongs to; bare `name` when it has none."""
    home = jdk_home(javac_binary)
    tool = home / "bin" / name if home else None
    return str(tool) if tool is not None and os.access(tool, os.X_OK) else name


def javac(files: list[Path], classpath: list[str], out: Path, build_dir: Path, log, javac_binary: str = "javac") -> None:
    # An @argfile keeps long source lists clear of the command-line limit.
    argfile = out / "javac-sources.txt"
    argfile.write_text("\n".join('"' + str(f).replace("\\", "\\\\") + '"' for f in files) + "\n", encoding="utf-8")
    argv = [javac_binary, *COMPILER_JVM_FLAGS, "-encoding", "UTF-8", "-proc:none", "-nowarn", "-d", str(out / "classes")]
    if classpath:
        argv += ["-cp", os.pathsep.join(classpath)]
    run_logged([*argv, f"@{argfile}"], build_dir, None, log)


def adapter_sources(*dirs: Path) -> list[Path]:
    return [p for d in dirs for p in sorted(d.rglob("*.java"))]


def digest(parts) -> str:
    hasher = hashlib.sha256()
    for part in parts:
        hasher.update(len(part).to_bytes(8, "big") + part)
    return hasher.hexdigest()[:32]


def fingerprint(root: Path, sources: list[Path], jars: list[Path]) -> list[bytes]:
    parts = []
    for source in sources:
        parts += [os.path.relpath(source, root).encode(), source.read_bytes()]
    for jar in jars:
        # by content: bundled and resolved jars are copied afresh by every build
        with open(jar, "rb") as fh:
            parts += [jar.name.encode(), hashlib.file_digest(fh, "sha256").digest()]
    return parts


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "appwrite-emulator" / "jvm"


def cached(key: str, produce, fallback: Path | None) -> tuple[Path, bool]:
    """(directory holding `produce`'s output, whether it was already cached). JVM compiles take
    seconds, so identical inputs are compiled once per machine. Entries are written to a temporary
    name and renamed, so concurrent builds never see half an entry; the least recently used are
    dropped beyond CACHE_ENTRIES. Without a writable cache, `produce` writes to `fallback`."""
    root = cache_root()
    target = root / key
    if (target / "complete").is_file():
        os.utime(target)
        return target, True
    try:
        root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=root))
    except OSError:
        if fallback is None:
            fallback = Path(tempfile.mkdtemp(prefix="jvm-build-"))
        produce(fallback)
        return fallback, False
    try:
        produce(staging)
        (staging / "complete").write_text("")
        try:
            staging.rename(target)
        except OSError:  # an identical build finished first
            shutil.rmtree(staging, ignore_errors=True)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    prune(root)
    return target, False


def prune(root: Path) -> None:
    entries = sorted((p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")),
                     key=lambda p: p.stat().st_mtime, reverse=True)
    for stale in entries[CACHE_ENTRIES:]:
        shutil.rmtree(stale, ignore_errors=True)


def server_classpath(code_dir: Path) -> str:
    code_dir = Path(code_dir).resolve()
    entries = [str(code_dir / OUT / "classes"), str(code_dir / OUT / "lib" / "*")]
    if (code_dir / "libs").is_dir():
        entries.append(str(code_dir / "libs" / "*"))
    return os.pathsep.join(entries)


class Java(Language):
    key = "java"
    name = "Java"
    versions = ("8.0", "11.0", "17.0", "18.0", "21.0", "22", "25")
    default_entrypoint = "src/Main.java"
    dependency_files = DEPENDENCY_FILES
    compiled = True
    logs_on_tmpfs = True  # runtimes/java/core Logger caps a call's logs
    required_binaries = ("java", "javac")
    install_hint = "apt-get install -y default-jdk-headless"
    version_command = ("javac", "-version")
    test_entrypoints = {"context": "Tests.java", "legacy": "src/Index.java"}
    # A runtime can be mapped to a JDK's javac; its java runs the function.
    primary_binary = "javac"

    def version_candidates(self) -> list[str]:
        return jdk_candidates()

    def wanted_version(self) -> str:
        # JDK 8 calls itself 1.8 ("javac 1.8.0_412").
        wanted = super().wanted_version()
        return "1.8" if wanted == "8" else wanted

    def tool(self, name: str) -> str:
        """java or javac of the JDK this runtime runs on."""
        return jdk_tool(self.binary(), name)

    def toolchain(self) -> Toolchain:
        return _probe_toolchain((self.tool("java"), self.tool("javac")), (self.tool("javac"), "-version"),
                                self.install_hint)

    def build_env(self, build_dir: Path) -> dict[str, str]:
        return jdk_env(self.binary())

    def compile(self, build_dir: Path, entrypoint: str, log) -> None:
        build_dir = Path(build_dir).resolve()
        out = prepare_output(build_dir)
        resolve_dependencies(build_dir, out, log, [gson()])
        sources = user_sources(build_dir, ".java")
        entry = build_dir / entrypoint
        if not entry.is_file():
            # Still build: the server answers 503 "Failed to load entrypoint" like the other adapters.
            log(f"Entrypoint {entrypoint} does not exist.\n")
        else:
            package, name = package_for(entrypoint, "io.openruntimes.java")
            source = entry.read_text(encoding="utf-8", errors="replace")
            if not declares_type(source, name):
                log(f"No class {name} in {entrypoint}: wrapping it as an Appwrite 1.0-1.3 (v2) function.\n")
                wrapped = generated_entry(out, entrypoint, wrap_java_v2(source, package, name))
                sources = [wrapped if s == entry else s for s in sources]
            elif not re.search(rf"^\s*package\s+{re.escape(package)}\s*;", COMMENTS.sub("", source), re.M):
                log(f"Warning: {entrypoint} should declare 'package {package};' to be found at run time.\n")
        adapter = self._adapter_classes(log)
        if sources:
            log(f"Compiling {len(sources)} Java source file(s) ...\n")
            classpath = [str(adapter / "classes"), *compile_classpath(out), *user_jars(build_dir)]
            javac(sources, classpath, out, build_dir, log, self.tool("javac"))
        shutil.copytree(adapter / "classes", out / "classes", dirs_exist_ok=True)

    def _adapter_classes(self, log) -> Path:
        """The JVM core + Java facade, compiled once per adapter version and JDK."""
        files = adapter_sources(CORE_DIR, self.adapter_dir / "facade")
        key = digest([self.toolchain().version.encode(), *fingerprint(CORE_DIR.parent, files, [])])

        def compile_adapter(target: Path) -> None:
            log("Compiling the Java adapter (once per adapter version) ...\n")
            javac(files, [], target, target, log, self.tool("javac"))

        return cached("java-adapter-" + key, compile_adapter, None)[0]

    def server(self, code_dir: Path, entrypoint: str) -> ServerCommand:
        return ServerCommand([self.tool("java"), *JVM_FLAGS, "-cp", server_classpath(code_dir),
                              "io.openruntimes.java.Server"], cwd=str(code_dir))
