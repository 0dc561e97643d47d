"""A JVM function's declared dependencies, resolved as Appwrite's Java and Kotlin runtimes do.

The official build (`hooks/build-prepare.sh` of openruntimes/java and openruntimes/kotlin) adds
`apply from: "<file>"` to the runtime's build.gradle for every top-level `*.gradle*` file of the
function (in practice `dependencies.gradle`), and Gradle fetches what its `dependencies { }` block
declares, with its transitive dependencies, from Maven Central into the function's fat jar.

Gradle is not needed for that: the declared coordinates are read from those files (string
`'group:artifact:version[:classifier][@ext]'` and map `group: 'g', name: 'a', version: 'v'`
notations, Groovy and Kotlin DSL) and Maven resolves them (`mvn dependency:copy-dependencies`
against a generated pom). The repository is Maven Central, or `APPWRITE_EMULATOR_MAVEN_REPOSITORY`
(an http(s) or file URL: a company mirror, or an offline directory such as Debian's
/usr/share/maven-repo). Every other repository, including ones named by dependency POMs, is routed
to that one, and the local Maven repository lives inside the build's work folder, never ~/.m2.
"""
from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from .base import BuildError, run_logged, xml_escape

REPOSITORY_ENV = "APPWRITE_EMULATOR_MAVEN_REPOSITORY"
MAVEN_CENTRAL = "https://repo.maven.apache.org/maven2"
INSTALL_HINT = "apt-get install -y maven"
PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin"
PLUGIN_VERSION = "3.5.0"  # used unless a file repository holds another one
# Gradle configurations that end up in the official fat jar, and the compile-only one.
RUNTIME_CONFIGURATIONS = ("implementation", "api", "compile", "runtimeOnly", "runtime")
COMPILE_ONLY = "compileOnly"
CONFIGURATION = r"\b(" + "|".join((*RUNTIME_CONFIGURATIONS, COMPILE_ONLY)) + r")\b"
STRING_NOTATION = re.compile(CONFIGURATION + r"\s*\(?\s*(['\"])([^'\"\n]*)\2")
MAP_NOTATION = re.compile(CONFIGURATION + r"\s*\(?\s*(group\s*[:=][^\n]*)")
MAP_ENTRY = re.compile(r"\b(group|name|version|classifier|ext)\s*[:=]\s*(['\"])([^'\"\n]*)\2")
# Any other use of a configuration (platform(), project(), files(), a variable) cannot be resolved here.
OTHER_NOTATION = re.compile(CONFIGURATION + r"(?:\s+|\s*\(\s*)(?!['\"(]|group\s*[:=])(\S[^\n]*)")
COMMENTS = re.compile(r"//[^\n]*|/\*.*?\*/", re.S)
NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")
VERSION = re.compile(r"^[A-Za-z0-9_.\-\[\]\(\),]+$")
ANSI = re.compile(r"\x1b\[[0-9;]*m")  # Debian's mvn resets colours even when told not to use any


class DependencyError(BuildError):
    """A declared dependency cannot be read or resolved; the message names it."""


@dataclass(frozen=True)
class Coordinate:
    group: str
    artifact: str
    version: str
    classifier: str = ""
    extension: str = "jar"
    compile_only: bool = False

    def __str__(self) -> str:
        text = f"{self.group}:{self.artifact}:{self.version}"
        text += f":{self.classifier}" if self.classifier else ""
        return text + (f"@{self.extension}" if self.extension != "jar" else "")


def gradle_files(build_dir: Path) -> list[Path]:
    """The files the official build applies: `./*.gradle*` at the top of the function's folder
    (a link pointing out of it is not read)."""
    root = Path(build_dir).resolve()
    return sorted(p for p in root.glob("*.gradle*") if p.is_file() and p.resolve().is_relative_to(root))


def declared(build_dir: Path) -> list[Coordinate]:
    """Every dependency the function's gradle files declare, in order, without repeats.
    Raises DependencyError naming the file and line of a declaration that cannot be resolved."""
    found: list[Coordinate] = []
    for path in gradle_files(build_dir):
        text = COMMENTS.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), path.read_text("utf-8", "replace"))
        for match in sorted([*STRING_NOTATION.finditer(text), *MAP_NOTATION.finditer(text),
                             *OTHER_NOTATION.finditer(text)], key=lambda m: m.start()):
            where = f"{path.name}:{text.count(chr(10), 0, match.start()) + 1}"
            compile_only = match.group(1) == COMPILE_ONLY
            if match.re is STRING_NOTATION:
                coordinate = parse_string(match.group(3), compile_only, where)
            elif match.re is MAP_NOTATION:
                coordinate = parse_map(match.group(2), compile_only, where)
            else:
                raise DependencyError(f"{where}: cannot resolve '{match.group(0).strip()}': only "
                                      "'group:artifact:version' and group:/name:/version: notations are supported.")
            if coordinate not in found:
                found.append(coordinate)
    return found


def parse_string(notation: str, compile_only: bool, where: str) -> Coordinate:
    """'group:artifact:version[:classifier][@extension]'."""
    text, _, extension = notation.partition("@")
    parts = text.split(":")
    if len(parts) not in (3, 4):
        raise DependencyError(f"{where}: '{notation}' is not a 'group:artifact:version' coordinate.")
    return checked(Coordinate(parts[0], parts[1], parts[2], parts[3] if len(parts) == 4 else "",
                              extension or "jar", compile_only), where)


def parse_map(notation: str, compile_only: bool, where: str) -> Coordinate:
    """group: 'g', name: 'a', version: 'v' (Groovy) or group = "g", name = "a", version = "v" (Kotlin)."""
    entries = {m.group(1): m.group(3) for m in MAP_ENTRY.finditer(notation)}
    if not all(entries.get(key) for key in ("group", "name", "version")):
        raise DependencyError(f"{where}: '{notation.strip()}' needs group, name and version.")
    return checked(Coordinate(entries["group"], entries["name"], entries["version"], entries.get("classifier", ""),
                              entries.get("ext") or "jar", compile_only), where)


def checked(coordinate: Coordinate, where: str) -> Coordinate:
    names = (coordinate.group, coordinate.artifact, coordinate.extension)
    if not all(NAME.match(n) for n in names) or (coordinate.classifier and not NAME.match(coordinate.classifier)):
        raise DependencyError(f"{where}: '{coordinate}' is not a valid Maven coordinate.")
    if "$" in str(coordinate):
        raise DependencyError(f"{where}: '{coordinate}': Gradle variables cannot be resolved here; write the value.")
    if "+" in coordinate.version or coordinate.version.startswith("latest."):
        raise DependencyError(f"{where}: '{coordinate}': dynamic Gradle versions cannot be resolved here; "
                              "use a fixed version or a Maven range such as [1.0,2.0).")
    if not VERSION.match(coordinate.version):
        raise DependencyError(f"{where}: '{coordinate}' has an invalid version.")
    return coordinate


def repository_url() -> str:
    url = (os.environ.get(REPOSITORY_ENV) or MAVEN_CENTRAL).strip().rstrip("/")
    if urlparse(url).scheme not in ("http", "https", "file"):
        raise DependencyError(f"{REPOSITORY_ENV}={url!r} is not an http(s):// or file:// URL.")
    return url


def plugin_version(url: str) -> str:
    """A file repository (an offline one) may hold another maven-dependency-plugin than the default."""
    parsed = urlparse(url)
    if parsed.scheme != "file":
        return PLUGIN_VERSION
    folder = Path(parsed.path) / PLUGIN.replace(".", "/").replace(":", "/")
    versions = [p.name for p in folder.glob("*") if list(p.glob("*.jar"))] if folder.is_dir() else []
    if not versions or PLUGIN_VERSION in versions:
        return PLUGIN_VERSION
    return max(versions, key=lambda v: [int(x) if x.isdigit() else 0 for x in re.split(r"[.-]", v)])


def pom(coordinates: list[Coordinate]) -> str:
    entries = []
    for c in coordinates:
        extra = (f"<classifier>{xml_escape(c.classifier)}</classifier>" if c.classifier else "")
        extra += f"<type>{xml_escape(c.extension)}</type>" if c.extension != "jar" else ""
        scope = "provided" if c.compile_only else "compile"
        entries.append(f"    <dependency><groupId>{xml_escape(c.group)}</groupId><artifactId>{xml_escape(c.artifact)}"
                       f"</artifactId><version>{xml_escape(c.version)}</version>{extra}<scope>{scope}</scope></dependency>")
    return ("<project xmlns=\"http://maven.apache.org/POM/4.0.0\">\n  <modelVersion>4.0.0</modelVersion>\n"
            "  <groupId>io.openruntimes</groupId><artifactId>function</artifactId><version>1.0.0</version>\n"
            "  <packaging>pom</packaging>\n  <dependencies>\n" + "\n".join(entries) + "\n  </dependencies>\n</project>\n")


def settings(url: str, local_repository: Path) -> str:
    # `central` redefined and every repository mirrored to it: nothing else is ever contacted.
    # A file repository (Debian's has no checksum files) is not checksum-verified.
    policy = "ignore" if url.startswith("file:") else "warn"
    repo = (f"<id>central</id><url>{xml_escape(url)}</url><releases><checksumPolicy>{policy}</checksumPolicy></releases>"
            "<snapshots><enabled>false</enabled></snapshots>")
    return ("<settings>\n"
            f"  <localRepository>{xml_escape(str(local_repository))}</localRepository>\n"
            "  <interactiveMode>false</interactiveMode>\n"
            f"  <mirrors><mirror><id>function-repository</id><mirrorOf>*</mirrorOf><url>{xml_escape(url)}</url></mirror></mirrors>\n"
            "  <profiles><profile><id>function-repository</id>\n"
            f"    <repositories><repository>{repo}</repository></repositories>\n"
            f"    <pluginRepositories><pluginRepository>{repo}</pluginRepository></pluginRepositories>\n"
            "  </profile></profiles>\n"
            "  <activeProfiles><activeProfile>function-repository</activeProfile></activeProfiles>\n"
            "</settings>\n")


def resolve(coordinates: list[Coordinate], work: Path, runtime_dir: Path, compile_dir: Path, log,
            exclude: tuple[str, ...] = ()) -> None:
    """Copy the coordinates' jars and their transitive dependencies into `runtime_dir` (and
    compileOnly ones into `compile_dir`). `exclude`: artifact ids the runtime bundles already.
    `work` is emptied and removed afterwards. Raises BuildError with Maven's reason."""
    if not coordinates:
        return
    if shutil.which("mvn") is None:
        raise DependencyError(f"Resolving {', '.join(map(str, coordinates))} needs Maven (mvn), which is not "
                              f"installed. Install: {INSTALL_HINT}")
    url = repository_url()
    log(f"Resolving {len(coordinates)} declared dependenc{'y' if len(coordinates) == 1 else 'ies'} "
        f"with Maven from {url} ({REPOSITORY_ENV}) ...\n")
    if work.exists():
        shutil.rmtree(work)
    (work / ".mvn").mkdir(parents=True)  # Maven's project base: keeps .mvn/ config of the function's folder out
    (work / "pom.xml").write_text(pom(coordinates), encoding="utf-8")
    (work / "settings.xml").write_text(settings(url, work / "repository"), encoding="utf-8")
    goal = f"{PLUGIN}:{plugin_version(url)}:copy-dependencies"
    common = ["mvn", "-B", "-q", "-Dstyle.color=never", "-s", str(work / "settings.xml"),
              "-gs", str(work / "settings.xml"), "-f", str(work / "pom.xml"), goal]
    if exclude:
        common.append("-DexcludeArtifactIds=" + ",".join(exclude))
    env = {"MAVEN_OPTS": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC", "MAVEN_ARGS": ""}
    try:
        runs = [("runtime", runtime_dir)]
        if any(c.compile_only for c in coordinates):
            runs.append(("provided", compile_dir))
        for scope, target in runs:
            try:
                run_logged([*common, f"-DincludeScope={scope}", f"-DoutputDirectory={target}"], work, env,
                           lambda text: log(ANSI.sub("", text)), timeout=600)
            except BuildError as exc:
                raise DependencyError(f"Could not resolve the declared dependencies from {url}: {exc}. "
                                      "Maven's reason is in the lines above.") from None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    jars = sorted(p.name for d in {runtime_dir, compile_dir} if d.is_dir() for p in d.glob("*.jar"))
    log(f"Resolved: {', '.join(jars) or 'no jars'}\n")
