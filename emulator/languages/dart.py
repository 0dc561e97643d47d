"""Dart (`dart-2.15` … `dart-3.11`): runtimes/dart/server.dart compiled with the user's package.

The user's code is a pub package (`pubspec.yaml`, entry `lib/main.dart` with
`Future<dynamic> main(final context)`, or `Future<void> start(final req, final res)` for
Appwrite 1.0-1.3 code). The build generates a small server package under `.open-runtimes/dart`
that depends on the user's package by path, imports the entry file and calls the handler the entry
file defines; `dart compile exe` makes one native binary, `server`, in the build dir.
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

from .base import BuildError, Language, ServerCommand, run_logged

BINARY = "server"
GENERATED = Path(".open-runtimes") / "dart"
HINT = ("wget -qO- https://dl-ssl.google.com/linux/linux_signing_key.pub | gpg --dearmor -o /usr/share/keyrings/dart.gpg"
        " && echo 'deb [signed-by=/usr/share/keyrings/dart.gpg arch=amd64] "
        "https://storage.googleapis.com/download.dartlang.org/linux/debian stable main'"
        " > /etc/apt/sources.list.d/dart_stable.list && apt-get update && apt-get install -y dart")
COMMENTS = re.compile(r"//[^\n]*|/\*.*?\*/", re.S)
TOP_LEVEL_FUNCTION = re.compile(r"^[\w<>?,\s]*?\b(main|start)\s*\(([^)]*)\)", re.M)
MISSING_MAIN = "Function signature invalid. Did you forget to export a 'main' function?"


def handler_kind(source: str) -> str | None:
    """'context' for `main(context)`, 'legacy' for `start(req, res)`, None when neither is there."""
    found = {}
    for match in TOP_LEVEL_FUNCTION.finditer(COMMENTS.sub("", source)):
        params = [p for p in match.group(2).split(",") if p.strip()]
        found.setdefault(match.group(1), len(params))
    if found.get("main") == 1:
        return "context"
    if found.get("start") == 2:
        return "legacy"
    return None


def _dart_string(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'").replace("$", "\\$") + "'"


class Dart(Language):
    key = "dart"
    name = "Dart"
    versions = ("2.15", "2.16", "2.17", "2.18", "2.19", "3.0", "3.1", "3.3", "3.5", "3.8", "3.9", "3.10", "3.11")
    default_entrypoint = "lib/main.dart"
    dependency_files = ("pubspec.yaml", "pubspec.lock")
    compiled = True
    required_binaries = ("dart",)
    install_hint = HINT
    version_command = ("dart", "--version")
    test_entrypoints = {"context": "lib/tests.dart", "legacy": "lib/main.dart"}

    def build_env(self, build_dir: Path) -> dict[str, str]:
        # The package cache belongs to the deployment, like Python's venv.
        return {"PUB_CACHE": str(Path(build_dir).resolve() / ".pub-cache")}

    def default_install(self, build_dir: Path) -> str:
        return "dart pub get" if (Path(build_dir) / "pubspec.yaml").is_file() else ""

    def compile(self, build_dir: Path, entrypoint: str, log) -> None:
        build_dir = Path(build_dir).resolve()
        gen = build_dir / GENERATED
        shutil.rmtree(gen, ignore_errors=True)
        (gen / "bin").mkdir(parents=True)
        shutil.copyfile(self.adapter_dir / "server.dart", gen / "bin" / "server.dart")

        pubspec = build_dir / "pubspec.yaml"
        package = None
        if pubspec.is_file():
            match = re.search(r"^name:\s*['\"]?([A-Za-z_]\w*)", pubspec.read_text(encoding="utf-8"), re.M)
            if not match:
                raise BuildError("pubspec.yaml has no package name.")
            package = match.group(1)
        dependencies = f"  {package}:\n    path: ../..\n" if package else ""
        (gen / "pubspec.yaml").write_text(
            "name: open_runtimes_server\npublish_to: none\nenvironment:\n  sdk: '>=2.15.0 <4.0.0'\n"
            + ("dependencies:\n" + dependencies if dependencies else ""), encoding="utf-8")

        entry = build_dir / entrypoint
        if not entry.is_file():
            call = f"opr.serve(loadError: {_dart_string(f'Failed to load entrypoint, file {entrypoint} does not exist.')})"
            imports = ""
        else:
            kind = handler_kind(entry.read_text(encoding="utf-8", errors="replace"))
            if package and entrypoint.startswith("lib/"):
                target = f"package:{package}/{entrypoint[len('lib/'):]}"
            else:
                target = "../../../" + entrypoint
            imports = f"import {_dart_string(target)} as user;\n" if kind else ""
            if kind == "context":
                call = "opr.serve(handler: user.main)"
            elif kind == "legacy":
                log(f"{entrypoint} defines start(req, res): serving it with the Appwrite 1.0-1.3 (v2) API.\n")
                call = "opr.serve(handler: user.start, legacy: true)"
            else:
                call = f"opr.serve(loadError: {_dart_string(MISSING_MAIN)})"
        (gen / "bin" / "main.dart").write_text(
            f"import 'server.dart' as opr;\n{imports}\nFuture<void> main() => {call};\n", encoding="utf-8")

        env = self.build_env(build_dir)
        log("Compiling with dart ...\n")
        run_logged(["dart", "pub", "get"], gen, env, log)
        run_logged(["dart", "compile", "exe", "bin/main.dart", "-o", str(build_dir / BINARY)], gen, env, log)

    def server(self, code_dir: Path, entrypoint: str) -> ServerCommand:
        return ServerCommand([str(Path(code_dir).resolve() / BINARY)], cwd=str(code_dir))
