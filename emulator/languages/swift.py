"""Swift (`swift-5.5` … `swift-6.2`): runtimes/swift/Server.swift compiled with the user's Sources.

As in the official runtime, every `.swift` file of the user's `Sources/` joins one executable
module with the adapter (the entrypoint only needs to be one of them), so the user's global
`func main(context: RuntimeContext) async throws -> RuntimeOutput` is visible to the server. A
generated `Dispatch.swift` hands that function (or the Appwrite 1.0-1.3
`func main(req: RequestValue, res: RequestResponse)`) to the server. SwiftPM builds under
`.open-runtimes/swift` in the build dir; only Foundation is available to user code (the official
image also has Vapor, which needs GitHub to fetch).

Toolchain: `swift` on PATH when the host has one; otherwise Debian trixie's Swift 6 in a toolchain
root (emulator/toolchain_root.py), which compiles and runs the server inside that root. The build
records which one it used (`.open-runtimes/swift/toolchain-root`), so a build is always started
with the toolchain that compiled it.
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

from ..toolchain_root import SWIFT as SWIFT_ROOT
from .base import Language, ServerCommand, Toolchain, run_logged

GENERATED = Path(".open-runtimes") / "swift"
ROOT_RECORD = "toolchain-root"  # in GENERATED: the root the build compiled in, when it used one
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
    logs_on_tmpfs = True  # runtimes/swift/Server.swift caps a call's logs, print() included
    default_entrypoint = "Sources/index.swift"
    dependency_files = ("Package.swift", "Package.resolved")
    compiled = True
    required_binaries = ("swift",)
    install_hint = HINT
    version_command = ("swift", "--version")
    test_entrypoints = {"context": "Sources/Tests.swift", "legacy": "Sources/index.swift"}

    def toolchain(self) -> Toolchain:
        if shutil.which("swift") or not SWIFT_ROOT.present():
            host = super().toolchain()
            if host.available:
                return host
            return Toolchain(False, "", f"{host.hint}; or, as root, Swift from Debian trixie in a toolchain root: "
                                        f"{SWIFT_ROOT.build_hint()}")
        version = SWIFT_ROOT.version(self.version_command)
        if not version:
            return Toolchain(False, "", f"swift does not run in the toolchain root {SWIFT_ROOT.path} "
                                        f"(unshare/chroot need root or user namespaces). Install: {self.install_hint}")
        return Toolchain(True, f"{version} (Debian {SWIFT_ROOT.suite} toolchain root)", "")

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
        argv = ["swift", "build", "-c", "release", "--package-path", str(gen)]
        record = gen / ROOT_RECORD
        record.unlink(missing_ok=True)
        if shutil.which("swift") is None:
            log(f"Compiling with swift build in the toolchain root {SWIFT_ROOT.path} ...\n")
            record.write_text(str(SWIFT_ROOT.path), encoding="utf-8")
            argv = SWIFT_ROOT.command(argv, gen, (build_dir,))
        else:
            log("Compiling with swift build ...\n")
        run_logged(argv, gen, None, log)

    def server(self, code_dir: Path, entrypoint: str) -> ServerCommand:
        code_dir = Path(code_dir).resolve()
        binary = code_dir / GENERATED / ".build" / "release" / "Runtime"
        # Linked against the libraries of the toolchain that built it: run it where it was built.
        if (code_dir / GENERATED / ROOT_RECORD).is_file():
            return ServerCommand(SWIFT_ROOT.command([str(binary)], code_dir), cwd=str(code_dir))
        return ServerCommand([str(binary)], cwd=str(code_dir))
