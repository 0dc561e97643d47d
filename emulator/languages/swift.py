"""Swift (`swift-5.5` … `swift-6.2`): runtimes/swift/Server.swift compiled with the user's Sources.

As in the official runtime, every `.swift` file of the user's `Sources/` joins one executable
module with the adapter (the entrypoint only needs to be one of them), so the user's global
`func main(context: RuntimeContext) async throws -> RuntimeOutput` is visible to the server. A
generated `Dispatch.swift` hands that function (or the Appwrite 1.0-1.3
`func main(req: RequestValue, res: RequestResponse)`) to the server. SwiftPM builds under
`.open-runtimes/swift` in the build dir; only Foundation is available to user code.
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

from .base import Language, ServerCommand, run_logged

GENERATED = Path(".open-runtimes") / "swift"
HINT = ("curl -sSLO https://download.swift.org/swiftly/linux/swiftly-$(uname -m).tar.gz"
        " && tar zxf swiftly-$(uname -m).tar.gz && ./swiftly init --assume-yes --quiet-shell-followup"
        " && . ~/.local/share/swiftly/env.sh  (https://www.swift.org/install/linux/)")
COMMENTS = re.compile(r"//[^\n]*|/\*.*?\*/", re.S)
CONTEXT_MAIN = re.compile(r"\bfunc\s+main\s*\(\s*context\s*:")
LEGACY_MAIN = re.compile(r"\bfunc\s+main\s*\(\s*req\s*:")
MISSING_MAIN = "Function signature invalid. Did you forget to export a 'main' function?"
PACKAGE = """// swift-tools-version:5.5
import PackageDescription

let package = Package(
    name: "Runtime",
    platforms: [.macOS(.v12)],
    targets: [.executableTarget(name: "Runtime", path: "Sources/Runtime")]
)
"""


def _swift_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def dispatch_source(sources: list[str], missing_entry: str | None = None) -> str:
    """The `userFunction` the server calls, from the user's Swift sources."""
    code = COMMENTS.sub("", "\n".join(sources))
    if missing_entry is not None:
        value = f".invalid({_swift_string(f'Failed to load entrypoint, file {missing_entry} does not exist.')})"
    elif CONTEXT_MAIN.search(code):
        value = ".context({ context in try await main(context: context) })"
    elif LEGACY_MAIN.search(code):
        value = ".legacy({ req, res in try await main(req: req, res: res) })"
    else:
        value = f".invalid({_swift_string(MISSING_MAIN)})"
    return f"let userFunction: UserFunction = {value}\n"


class Swift(Language):
    key = "swift"
    name = "Swift"
    versions = ("5.5", "5.8", "5.9", "5.10", "6.2")
    default_entrypoint = "Sources/index.swift"
    dependency_files = ("Package.swift", "Package.resolved")
    compiled = True
    required_binaries = ("swift",)
    install_hint = HINT
    version_command = ("swift", "--version")
    test_entrypoints = {"context": "Sources/Tests.swift", "legacy": "Sources/index.swift"}

    def compile(self, build_dir: Path, entrypoint: str, log) -> None:
        build_dir = Path(build_dir).resolve()
        gen = build_dir / GENERATED
        shutil.rmtree(gen / "Sources", ignore_errors=True)
        target = gen / "Sources" / "Runtime"
        (target / "User").mkdir(parents=True)
        shutil.copyfile(self.adapter_dir / "Server.swift", target / "main.swift")
        (gen / "Package.swift").write_text(PACKAGE, encoding="utf-8")

        entry = build_dir / entrypoint
        files = sorted(p for p in (build_dir / "Sources").rglob("*.swift")) if (build_dir / "Sources").is_dir() else []
        if entry.is_file() and entry not in files:
            files.append(entry)
        sources = []
        for path in files:
            relative = path.relative_to(build_dir)
            if GENERATED.parts[0] in relative.parts or relative.name == "Package.swift":
                continue
            name = "_".join(relative.parts)
            if name == "main.swift":
                name = "user_main.swift"
            text = path.read_text(encoding="utf-8", errors="replace")
            shutil.copyfile(path, target / "User" / name)
            sources.append(text)
        if (build_dir / "Package.swift").is_file():
            log("Note: dependencies in Package.swift are not installed by the local executor; only Foundation is available.\n")
        (target / "Dispatch.swift").write_text(
            dispatch_source(sources, None if entry.is_file() else entrypoint), encoding="utf-8")
        log("Compiling with swift build ...\n")
        run_logged(["swift", "build", "-c", "release", "--package-path", str(gen)], gen, None, log)

    def server(self, code_dir: Path, entrypoint: str) -> ServerCommand:
        binary = Path(code_dir).resolve() / GENERATED / ".build" / "release" / "Runtime"
        return ServerCommand([str(binary)], cwd=str(code_dir))
