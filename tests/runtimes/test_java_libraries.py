"""What the official Java runtime gives every function: gson on the classpath, and the function's
dependencies.gradle resolved with its transitive dependencies (emulator/languages/maven.py). Offline:
the resolver is pointed at the Maven repository Debian installs (file:///usr/share/maven-repo) and
nothing else is ever contacted (every repository is mirrored to it)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from emulator.languages import maven
from emulator.languages.base import BuildError
from support import JsonApi, archive_bytes, require_toolchain, wait_for

from .contract_common import RuntimeContract, write

contract = RuntimeContract("java-17.0")
LOCAL_REPOSITORY = Path("/usr/share/maven-repo")
MAVEN_HINT = ("mvn or Debian's Maven repository packages missing. Install: apt-get install -y maven "
              "libcommons-lang3-java libmaven-dependency-plugin-java junit4")
GSON_HINT = "/usr/share/java/gson.jar missing. Install: apt-get install -y libgoogle-gson-java"
LANG3 = "org/apache/commons/commons-lang3/3.12.0/commons-lang3-3.12.0.jar"
DEPENDENCIES = "dependencies {\n    implementation 'org.apache.commons:commons-lang3:3.12.0'\n}\n"


@pytest.fixture
def offline_repository(monkeypatch):
    monkeypatch.setenv(maven.REPOSITORY_ENV, LOCAL_REPOSITORY.as_uri())
    return LOCAL_REPOSITORY.as_uri()


def require_gson() -> None:
    contract.require_toolchain()
    if not Path("/usr/share/java/gson.jar").is_file():
        require_toolchain("libgoogle-gson-java", GSON_HINT)


def require_maven() -> None:
    contract.require_toolchain()
    plugin = LOCAL_REPOSITORY / "org/apache/maven/plugins/maven-dependency-plugin"
    if maven.shutil.which("mvn") is None or not (LOCAL_REPOSITORY / LANG3).is_file() or not plugin.is_dir():
        require_toolchain("maven", MAVEN_HINT)


GSON_FUNCTION = {
    "src/Main.java": """
        package io.openruntimes.java.src;

        import com.google.gson.Gson;
        import com.google.gson.JsonObject;
        import io.openruntimes.java.RuntimeContext;
        import io.openruntimes.java.RuntimeOutput;

        public class Main {
            public RuntimeOutput main(RuntimeContext context) {
                JsonObject parsed = new Gson().fromJson(context.getReq().getBodyText(), JsonObject.class);
                JsonObject out = new JsonObject();
                out.addProperty("doubled", parsed.get("n").getAsInt() * 2);
                out.addProperty("library", Gson.class.getSimpleName());
                return context.getRes().text(new Gson().toJson(out), 200);
            }
        }
    """,
}


def test_gson_is_bundled(tmp_path):
    require_gson()
    with contract.running(tmp_path, GSON_FUNCTION, "src/Main.java") as driver:
        assert (driver.code_dir / ".jvm-build" / "lib" / "gson.jar").is_file()
        r = driver.request(body='{"n": 21}')
        assert r.status == 200, r.short()
        assert r.json() == {"doubled": 42, "library": "Gson"}


LANG3_FUNCTION = {
    "src/Main.java": """
        package io.openruntimes.java.src;

        import io.openruntimes.java.RuntimeContext;
        import io.openruntimes.java.RuntimeOutput;
        import org.apache.commons.lang3.StringUtils;

        public class Main {
            public RuntimeOutput main(RuntimeContext context) {
                String body = context.getReq().getBodyText();
                return context.getRes().text(StringUtils.reverse(body) + "|" + StringUtils.capitalize(body));
            }
        }
    """,
    "dependencies.gradle": DEPENDENCIES,
}


def assert_resolved_in_build_dir(code_dir: Path, build_log: str) -> None:
    lib = code_dir / ".jvm-build" / "lib"
    assert (lib / "commons-lang3-3.12.0.jar").is_file(), sorted(p.name for p in lib.iterdir())
    assert f"from {LOCAL_REPOSITORY.as_uri()}" in build_log, build_log
    # Maven's work folder and its local repository are gone; nothing went to a repository outside
    assert not (code_dir / ".jvm-build" / "maven").exists()


def test_dependencies_gradle_resolved(tmp_path, offline_repository):
    require_maven()
    with contract.running(tmp_path, LANG3_FUNCTION, "src/Main.java") as driver:
        assert_resolved_in_build_dir(driver.code_dir, driver.build_log)
        r = driver.request(body="hello")
        assert r.status == 200, r.short()
        assert r.text == "olleh|Hello"


def test_bad_coordinate_fails_the_build(tmp_path, offline_repository):
    require_maven()
    files = {**LANG3_FUNCTION, "dependencies.gradle": "dependencies {\n  implementation 'org.example.nowhere:no-such-lib:9.9.9'\n}\n"}
    build_log = contract.build_log_of_failed_build(tmp_path, files, "src/Main.java")
    assert "Could not find artifact org.example.nowhere:no-such-lib:jar:9.9.9" in build_log, build_log
    assert "\x1b" not in build_log


def test_unreadable_declaration_fails_the_build(tmp_path, offline_repository):
    contract.require_toolchain()
    write(tmp_path, {**LANG3_FUNCTION, "dependencies.gradle": "dependencies {\n  implementation platform('a:b:1')\n}\n"})
    with pytest.raises(BuildError, match=re.escape("dependencies.gradle:2: cannot resolve 'implementation platform('a:b:1')'")):
        contract.host_build(tmp_path, "src/Main.java")


def test_through_the_api(server_factory, offline_repository):
    """Deploy and execute through the emulator's API: the server's builds resolve the same way."""
    require_maven()
    require_gson()
    files = {**LANG3_FUNCTION, "src/Main.java": LANG3_FUNCTION["src/Main.java"].replace(
        "StringUtils.capitalize(body)", "new com.google.gson.Gson().toJson(StringUtils.capitalize(body))")}
    server = server_factory()  # started with the offline repository in its environment
    api = JsonApi(server.endpoint, "javalibs")
    dep = api.deploy("javalibs", files, entrypoint="src/Main.java", runtime="java-17.0")
    assert "commons-lang3-3.12.0.jar" in dep["buildLogs"], dep["buildLogs"]
    execution = api.ok("POST", "/functions/javalibs/executions", {"body": "hello"})
    assert execution["status"] == "completed" and execution["responseStatusCode"] == 200, execution
    assert execution["responseBody"] == 'olleh|"Hello"'


def test_bad_coordinate_through_the_api(server_factory, offline_repository):
    """A failed build (no 5xx, no hang) whose log names the coordinate and Maven's reason."""
    require_maven()
    api = JsonApi(server_factory().endpoint, "javalibs")
    api.ok("POST", "/functions", {"functionId": "bad", "name": "bad", "runtime": "java-17.0",
                                  "entrypoint": "src/Main.java"})
    files = {**LANG3_FUNCTION, "dependencies.gradle": "dependencies { implementation 'org.example.nowhere:gone:1.0' }\n"}
    dep_id = api.upload_ok("bad", archive_bytes(files))["$id"]
    dep = wait_for(lambda: (d := api.ok("GET", f"/functions/bad/deployments/{dep_id}"))["status"] in ("ready", "failed")
                   and d, timeout=300, message="the build to end")
    assert dep["status"] == "failed", dep
    assert "Could not find artifact org.example.nowhere:gone:jar:1.0" in dep["buildLogs"], dep["buildLogs"]
    assert "Build failed: Could not resolve the declared dependencies from file:///usr/share/maven-repo" in dep["buildLogs"]


# ---------------------------------------------------------------- reading dependencies.gradle (no toolchain)

def test_declared_notations(tmp_path):
    (tmp_path / "dependencies.gradle").write_text("""
        // implementation 'commented:out:1'
        dependencies {
            implementation "com.google.code.gson:gson:2.9.0"
            implementation ('org.apache.commons:commons-lang3:3.12.0') { exclude group: 'x' }
            api group: 'commons-io', name: 'commons-io', version: '2.11.0'
            compileOnly("javax.inject:javax.inject:1")
            testImplementation 'junit:junit:4.13'
            runtimeOnly "a.b:c:1.0:linux@zip"
        }
        configurations.implementation.exclude group: 'q'
    """)
    (tmp_path / "extra.gradle.kts").write_text(
        'dependencies { implementation(group = "g.h", name = "i", version = "[1.0,2.0)") }\n')
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "ignored.gradle").write_text("dependencies { implementation 'not:top:level' }\n")
    assert [str(c) for c in maven.declared(tmp_path)] == [
        "com.google.code.gson:gson:2.9.0", "org.apache.commons:commons-lang3:3.12.0", "commons-io:commons-io:2.11.0",
        "javax.inject:javax.inject:1", "a.b:c:1.0:linux@zip", "g.h:i:[1.0,2.0)"]
    assert [c.compile_only for c in maven.declared(tmp_path)] == [False, False, False, True, False, False]


def test_a_link_out_of_the_folder_is_not_read(tmp_path):
    outside = tmp_path / "outside.gradle"
    outside.write_text("dependencies { implementation 'secret:line:1' }\n")
    (tmp_path / "function").mkdir()
    (tmp_path / "function" / "dependencies.gradle").symlink_to(outside)
    (tmp_path / "function" / "inside.gradle").write_text("dependencies { implementation 'a:b:1' }\n")
    assert [str(c) for c in maven.declared(tmp_path / "function")] == ["a:b:1"]


@pytest.mark.parametrize("line, message", [
    ("implementation platform('a:b:1')", "cannot resolve 'implementation platform('a:b:1')'"),
    ("implementation 'a:b'", "'a:b' is not a 'group:artifact:version' coordinate"),
    ("implementation 'a:b:1.+'", "dynamic Gradle versions cannot be resolved here"),
    ('implementation "a:b:$version"', "Gradle variables cannot be resolved here"),
    ("implementation 'a b:c:1'", "is not a valid Maven coordinate"),
    ("implementation group: 'a', name: 'b'", "needs group, name and version"),
])
def test_unreadable_declarations(tmp_path, line, message):
    (tmp_path / "dependencies.gradle").write_text(f"dependencies {{\n    {line}\n}}\n")
    with pytest.raises(maven.DependencyError, match="dependencies.gradle:2: ") as raised:
        maven.declared(tmp_path)
    assert message in str(raised.value)


def test_repository_must_be_a_url(monkeypatch):
    monkeypatch.setenv(maven.REPOSITORY_ENV, "/usr/share/maven-repo")
    with pytest.raises(maven.DependencyError, match="not an http"):
        maven.repository_url()
    monkeypatch.delenv(maven.REPOSITORY_ENV)
    assert maven.repository_url() == maven.MAVEN_CENTRAL


def test_generated_settings_contact_only_the_repository(tmp_path):
    settings = maven.settings("file:///r", tmp_path / "repo")
    assert "<mirrorOf>*</mirrorOf><url>file:///r</url>" in settings
    assert "<checksumPolicy>ignore</checksumPolicy>" in settings
    assert f"<localRepository>{tmp_path / 'repo'}</localRepository>" in settings
    assert "<checksumPolicy>warn</checksumPolicy>" in maven.settings(maven.MAVEN_CENTRAL, tmp_path)
