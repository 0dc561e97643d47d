"""Kotlin (`kotlin-1.6` … `kotlin-2.3`): each version is compiled by a kotlinc of that Kotlin version when
one is installed (`version_candidates`: SDKMAN, /opt, ...) or by the one the user mapped it to
(`--toolchain kotlin-2.0=/path/to/kotlinc`), else by the default kotlinc, and the build says so. It
runs on the JDK on PATH; kotlinc is given that JDK's JAVA_HOME, so compiler and JVM agree.

One HTTP core for both JVM languages: the JDK-only Java core in runtimes/java/core is javac-compiled,
then kotlinc compiles the Kotlin facade (runtimes/kotlin/facade: io.openruntimes.kotlin.RuntimeContext
& co., and the loader) against it; the user's .kt files are compiled against both. kotlinc needs
seconds even for a small file, so the adapter is compiled once per adapter version and toolchain and
the user's classes once per distinct set of sources (per-machine cache, see java.cached). Classes
and kotlin-stdlib/kotlin-reflect end up in `.jvm-build`, so the build dir runs on a plain JDK.

As in the official image, kotlinx-coroutines-core and gson are on every function's classpath
(`bundled_libraries`), and the function's dependencies.gradle is resolved as for Java (java.py).

Layout as Appwrite's Kotlin starter: `src/Main.kt` declares `package io.openruntimes.kotlin.src` and
`class Main { fun main(context: RuntimeContext): RuntimeOutput }`. A file without a package header
(Appwrite 1.0-1.3 style, e.g. a top-level `fun main(req: RuntimeRequest, res: RuntimeResponse)`) is
given the package of its path and the runtime types' import first.

kotlinc is looked up on PATH, then in $KOTLIN_HOME/bin and the global npm folder, where the npm
package `kotlin-compiler` (the JetBrains distribution) installs it without putting it on PATH.
"""
from __future__ import annotations

import functools
import glob
import os
import re
import shutil
import subprocess
from pathlib import Path

from . import java as jvm
from .base import Language, ServerCommand, Toolchain, run_logged, version_matches

KOTLIN_VERSION = "2.4.20"
HINT = ("apt-get install -y default-jdk-headless && npm install -g kotlin-compiler@" + KOTLIN_VERSION
        + ' && ln -sf "$(npm root -g)/kotlin-compiler/bin/kotlinc" /usr/local/bin/kotlinc')
RUNTIME_JARS = ("kotlin-stdlib.jar", "kotlin-reflect.jar")
RUNTIMES_ROOT = jvm.CORE_DIR.parent.parent
PACKAGE_HEADER = re.compile(r"^\s*package\s+[\w.`]+", re.M)


@functools.lru_cache(maxsize=None)
def find_kotlinc() -> str | None:
    found = shutil.which("kotlinc")
    if found:
        return found
    candidates = []
    if os.environ.get("KOTLIN_HOME"):
        candidates.append(Path(os.environ["KOTLIN_HOME"]) / "bin" / "kotlinc")
    candidates += [Path(p) / "kotlin-compiler" / "bin" / "kotlinc"
                   for p in ("/usr/lib/node_modules", "/usr/local/lib/node_modules")]
    if shutil.which("npm"):
        try:
            root = subprocess.run(["npm", "root", "-g"], capture_output=True, text=True, timeout=30).stdout.strip()
            if root:
                candidates.append(Path(root) / "kotlin-compiler" / "bin" / "kotlinc")
        except (OSError, subprocess.SubprocessError):
            pass
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


@functools.lru_cache(maxsize=None)
def _kotlinc_version(kotlinc: str) -> str:
    # build.txt beside bin/ names the release; asking kotlinc itself costs a JVM start (seconds)
    build = kotlin_home(kotlinc) / "build.txt"
    try:
        return "kotlinc " + build.read_text().strip()
    except OSError:
        pass
    try:
        out = subprocess.run([kotlinc, "-version"], capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.SubprocessError):
        return ""
    text = (out.stderr or out.stdout).strip()
    return text.splitlines()[-1].replace("info: ", "") if text else ""


def _kotlinc(kotlinc: str, args: list[str], cwd: Path, log) -> None:
    run_logged([kotlinc, *jvm.COMPILER_JVM_FLAGS, *args], cwd,
               {"JAVA_OPTS": os.environ.get("JAVA_OPTS", "-Xmx768M -Xms128M"), **jvm.jdk_env("javac")}, log)


def bundled_libraries(kotlinc: str) -> list[jvm.Bundled]:
    """What the official Kotlin runtime's build.gradle puts in every function: kotlinx-coroutines-core
    (the compiler distribution ships the build matching its stdlib), gson, and the Kotlin stdlib and
    reflect (RUNTIME_JARS, copied beside them)."""
    coroutines = kotlin_home(kotlinc) / "lib" / "kotlinx-coroutines-core-jvm.jar"
    stdlib = kotlin_home(kotlinc) / "lib" / "kotlin-stdlib.jar"
    return [
        jvm.Bundled(("kotlinx-coroutines-core", "kotlinx-coroutines-core-jvm"),
                    coroutines if coroutines.is_file() else None, "kotlinx-coroutines-core",
                    "declare org.jetbrains.kotlinx:kotlinx-coroutines-core-jvm in dependencies.gradle"),
        jvm.gson(),
        # Declared or transitive, the compiler's own stdlib/reflect stand for these.
        jvm.Bundled(("kotlin-stdlib", "kotlin-stdlib-jdk7", "kotlin-stdlib-jdk8", "kotlin-stdlib-common",
                     "kotlin-reflect"), stdlib if stdlib.is_file() else None, "kotlin-stdlib", HINT),
    ]


def kotlin_home(kotlinc: str) -> Path:
    return Path(os.path.realpath(kotlinc)).parent.parent


def add_package_header(source: str, package: str) -> str:
    """Prefix the first line that is not a file annotation, so every line keeps its number."""
    lines = source.split("\n")
    index = 0
    while index < len(lines) and (lines[index].lstrip().startswith("@file:") or lines[index].startswith("#!")):
        index += 1
    if index == len(lines):
        lines.append("")
    lines[index] = f"package {package}; import io.openruntimes.kotlin.*; " + lines[index]
    return "\n".join(lines)


class Kotlin(Language):
    key = "kotlin"
    name = "Kotlin"
    versions = ("1.6", "1.8", "1.9", "2.0", "2.3")
    default_entrypoint = "src/Main.kt"
    dependency_files = jvm.DEPENDENCY_FILES
    compiled = True
    logs_on_tmpfs = True  # runtimes/java/core Logger caps a call's logs (shared with Java)
    required_binaries = ("java", "javac")
    install_hint = HINT
    version_command = ("javac", "-version")
    test_entrypoints = {"context": "Tests.kt", "legacy": "Index.kt"}
    # The runtime version is Kotlin's: a runtime can be mapped to a kotlinc.
    primary_binary = "kotlinc"

    def version_candidates(self) -> list[str]:
        v = self.runtime_version
        default = find_kotlinc()
        return [*([default] if default else []), f"~/.sdkman/candidates/kotlin/{v}.*/bin/kotlinc",
                f"/opt/kotlinc-{v}.*/bin/kotlinc", f"/opt/kotlin-{v}.*/bin/kotlinc",
                f"/usr/local/kotlin-{v}.*/bin/kotlinc"]

    def versioned_binary(self) -> str:
        if self.toolchain_override:
            return self.toolchain_override
        if not self.runtime_version:
            return ""
        # A distribution's build.txt names its release: no JVM start per candidate.
        wanted = self.wanted_version()
        for candidate in self.version_candidates():
            if any(ch in candidate for ch in "*?["):
                paths = sorted(glob.glob(os.path.expanduser(candidate)), reverse=True)
            else:
                paths = [candidate]
            for path in paths:
                if os.access(path, os.X_OK) and version_matches(_kotlinc_version(path), wanted):
                    return path
        return ""

    def kotlinc(self) -> str | None:
        """The kotlinc this runtime compiles with: its version's (or the mapped one), else the default."""
        return self.versioned_binary() or find_kotlinc()

    def toolchain(self) -> Toolchain:
        jdk = super().toolchain()
        if not jdk.available:
            return jdk
        kotlinc = self.kotlinc()
        if kotlinc is None:
            return Toolchain(False, "", f"kotlinc not found. Install: {HINT}")
        return Toolchain(True, f"{_kotlinc_version(kotlinc) or 'kotlinc'}, {jdk.version}", "")

    def compile(self, build_dir: Path, entrypoint: str, log) -> None:
        build_dir = Path(build_dir).resolve()
        kotlinc = self.kotlinc()
        out = jvm.prepare_output(build_dir)
        jvm.resolve_dependencies(build_dir, out, log, bundled_libraries(kotlinc))
        lib = out / "lib"
        # kotlinc brings its own stdlib; bundled and resolved jars and libs/*.jar are added
        jars = [Path(p) for p in jvm.compile_classpath(out)] + [Path(p) for p in jvm.user_jars(build_dir)]
        jars = [j for j in jars if j.name not in RUNTIME_JARS]
        for jar in RUNTIME_JARS:
            source = kotlin_home(kotlinc) / "lib" / jar
            if source.is_file():
                shutil.copyfile(source, lib / jar)
        sources = jvm.user_sources(build_dir, ".kt")
        entry = build_dir / entrypoint
        if not entry.is_file():
            # Still build: the server answers 503 "Failed to load entrypoint" like the other adapters.
            log(f"Entrypoint {entrypoint} does not exist.\n")
        else:
            package, _ = jvm.package_for(entrypoint, "io.openruntimes.kotlin")
            source = entry.read_text(encoding="utf-8", errors="replace")
            if not PACKAGE_HEADER.search(jvm.COMMENTS.sub("", source)):
                log(f"No package in {entrypoint}: compiling it as package {package} "
                    "(Appwrite 1.0-1.3 style).\n")
                wrapped = jvm.generated_entry(out, entrypoint, add_package_header(source, package))
                sources = [wrapped if s == entry else s for s in sources]
            elif not re.search(rf"^\s*package\s+{re.escape(package)}\s*;?\s*$", jvm.COMMENTS.sub("", source), re.M):
                log(f"Warning: {entrypoint} should declare 'package {package}' to be found at run time.\n")

        adapter = self._adapter_classes(kotlinc, log)
        key = jvm.digest([adapter.name.encode(), *jvm.fingerprint(build_dir, sources, jars)])

        def compile_user(target: Path) -> None:
            (target / "classes").mkdir(parents=True, exist_ok=True)
            if not sources:
                return
            log(f"Compiling {len(sources)} Kotlin source file(s) with kotlinc ...\n")
            classpath = [str(adapter / "classes"), *[str(j) for j in jars]]
            _kotlinc(kotlinc, ["-module-name", "function", "-cp", os.pathsep.join(classpath),
                               "-d", str(target / "classes"), *[str(p) for p in sources]], build_dir, log)

        user, hit = jvm.cached("kotlin-function-" + key, compile_user, out / "function")
        if hit:
            log("Sources unchanged since an earlier build: reusing its compiled classes.\n")
        shutil.copytree(adapter / "classes", out / "classes", dirs_exist_ok=True)
        shutil.copytree(user / "classes", out / "classes", dirs_exist_ok=True)
        shutil.rmtree(out / "function", ignore_errors=True)

    def _adapter_classes(self, kotlinc: str, log) -> Path:
        """The JVM core + Kotlin facade, compiled once per adapter version and toolchain."""
        core = jvm.adapter_sources(jvm.CORE_DIR)
        facade = sorted((self.adapter_dir / "facade").rglob("*.kt"))
        key = jvm.digest([self.toolchain().version.encode(), *jvm.fingerprint(RUNTIMES_ROOT, core + facade, [])])

        def compile_adapter(target: Path) -> None:
            log("Compiling the Kotlin adapter (once per adapter version) ...\n")
            (target / "classes").mkdir(parents=True, exist_ok=True)
            jvm.javac(core, [], target, target, log)
            _kotlinc(kotlinc, ["-nowarn", "-module-name", "openruntimes-adapter", "-cp", str(target / "classes"),
                               "-d", str(target / "classes"), *[str(p) for p in facade]], target, log)

        return jvm.cached("kotlin-adapter-" + key, compile_adapter, None)[0]

    def server(self, code_dir: Path, entrypoint: str) -> ServerCommand:
        return ServerCommand(["java", *jvm.JVM_FLAGS, "-cp", jvm.server_classpath(code_dir),
                              "io.openruntimes.kotlin.Server"], cwd=str(code_dir))
