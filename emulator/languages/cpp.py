"""C++ (`cpp-17`, `cpp-20`): the adapter in runtimes/cpp/src is compiled together with the user's file.

Layout as Appwrite's C++ starter: `src/index.cc` includes `../RuntimeResponse.h` etc. and defines
`runtime::Handler::main`. The build copies the adapter headers to the build root (so those
includes resolve from `src/`), `#include`s the user file into `server.cc` and compiles one binary,
`cpp_runtime`, with g++ and jsoncpp. Code written for Appwrite 1.0-1.3 (a bare
`static RuntimeResponse &main(const RuntimeRequest &req, RuntimeResponse &res)`) is wrapped in
`class Handler` first, as the v2 build did; which API a handler uses is then decided at compile time
from the signature of `Handler::main`.
"""
from __future__ import annotations

import functools
import re
import shutil
import subprocess
from pathlib import Path

from .base import BuildError, Language, ServerCommand, Toolchain, run_logged

HEADERS = ("RuntimeContext.h", "RuntimeOutput.h", "RuntimeRequest.h", "RuntimeResponse.h")
BINARY = "cpp_runtime"
HANDLER_CLASS = re.compile(r"\b(?:class|struct)\s+Handler\b")
COMMENTS = re.compile(r"//[^\n]*|/\*.*?\*/", re.S)
HINT = "apt-get install -y g++ libjsoncpp-dev"


@functools.lru_cache(maxsize=None)
def _jsoncpp_flags() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(compile flags, link flags) for jsoncpp: pkg-config when present, else Debian's layout."""
    if shutil.which("pkg-config"):
        cflags = subprocess.run(["pkg-config", "--cflags", "jsoncpp"], capture_output=True, text=True)
        libs = subprocess.run(["pkg-config", "--libs", "jsoncpp"], capture_output=True, text=True)
        if cflags.returncode == 0 and libs.returncode == 0:
            return tuple(cflags.stdout.split()), tuple(libs.stdout.split())
    return ("-I/usr/include/jsoncpp",), ("-ljsoncpp",)


@functools.lru_cache(maxsize=None)
def _probe_jsoncpp(compiler_version: str) -> Toolchain:
    # Preprocessing is enough to prove libjsoncpp-dev is there (it ships headers and the .so link).
    probe = "#include <json/json.h>\n#include <json/version.h>\nJSONCPP_VERSION_STRING\n"
    try:
        out = subprocess.run(["g++", "-E", "-P", "-x", "c++", *_jsoncpp_flags()[0], "-"], input=probe,
                             capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as exc:
        return Toolchain(False, "", f"g++ failed to run ({exc}). Install: {HINT}")
    if out.returncode != 0:
        return Toolchain(False, "", f"jsoncpp headers (json/json.h) not found. Install: {HINT}")
    lines = out.stdout.strip().splitlines()
    version = lines[-1].strip().strip('"') if lines else ""
    return Toolchain(True, f"{compiler_version}, jsoncpp {version}".strip(", "), "")


@functools.lru_cache(maxsize=None)
def _standard_flags() -> tuple[str, ...]:
    """C++20 when g++ has it, else C++17. compile() is not told the runtime version, so cpp-17 code
    is built as C++20 too; -fno-char8_t keeps C++17's u8"" literals compiling."""
    probe = subprocess.run(["g++", "-std=gnu++20", "-fno-char8_t", "-fsyntax-only", "-x", "c++", "-"],
                           input="int main() {}\n", capture_output=True, text=True, timeout=60)
    return ("-std=gnu++20", "-fno-char8_t") if probe.returncode == 0 else ("-std=gnu++17",)


def wrap_v2(source: str, display_name: str) -> str:
    """Appwrite 1.0-1.3 C++ functions are bare `static` functions that the v2 build pasted into a
    class: top-level `#...` and `using ...` lines stay at file scope, the rest goes in the class."""
    hoisted, body = [], []
    for line in source.splitlines():
        if line.startswith("#") or line.startswith("using "):
            hoisted.append(line)
            body.append("")  # keeps line numbers for the #line below
        else:
            body.append(line)
    name = display_name.replace("\\", "/").replace('"', "")
    return ("\n".join(hoisted) + "\nnamespace runtime {\nclass Handler {\n public:\n"
            + f'#line 1 "{name}"\n' + "\n".join(body) + "\n};\n}  // namespace runtime\n")


def _c_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Cpp(Language):
    key = "cpp"
    name = "C++"
    versions = ("17", "20", "17.0", "20.0")
    default_entrypoint = "src/index.cc"
    compiled = True
    required_binaries = ("g++",)
    install_hint = HINT
    version_command = ("g++", "--version")
    test_entrypoints = {"context": "src/tests.cc", "legacy": "src/index.cc"}

    def toolchain(self) -> Toolchain:
        base = super().toolchain()
        if not base.available:
            return base
        return _probe_jsoncpp(base.version)

    def compile(self, build_dir: Path, entrypoint: str, log) -> None:
        build_dir = Path(build_dir).resolve()
        src = self.adapter_dir / "src"
        for header in HEADERS:
            shutil.copyfile(src / header, build_dir / header)
        entry = build_dir / entrypoint
        defines = [f"-DOPR_ENTRYPOINT={_c_string(entrypoint)}"]
        if not entry.is_file():
            # Still build: the server answers 503 "Failed to load entrypoint" like the other adapters.
            log(f"Entrypoint {entrypoint} does not exist.\n")
            defines.append("-DOPR_ENTRY_MISSING")
        else:
            source = entry.read_text(encoding="utf-8", errors="replace")
            if not HANDLER_CLASS.search(COMMENTS.sub("", source)):
                wrapped = entry.with_name(f".{entry.stem}.v2{entry.suffix}")
                wrapped.write_text(wrap_v2(source, entrypoint), encoding="utf-8")
                log(f"No class Handler in {entrypoint}: wrapping it as an Appwrite 1.0-1.3 (v2) function.\n")
                entry = wrapped
            if '"' in str(entry):
                raise BuildError(f"Entrypoint path may not contain '\"': {entrypoint}")
            defines.append(f'-DOPR_ENTRY_FILE="{entry}"')
        cflags, libs = _jsoncpp_flags()
        argv = ["g++", *_standard_flags(), "-O2", "-pthread", *cflags, f"-I{build_dir}", *defines,
                str(src / "server.cc"), "-o", str(build_dir / BINARY), *libs, "-pthread"]
        log(f"Compiling {entrypoint} with g++ ...\n")
        run_logged(argv, build_dir, None, log)

    def server(self, code_dir: Path, entrypoint: str) -> ServerCommand:
        return ServerCommand([str(Path(code_dir).resolve() / BINARY)], cwd=str(code_dir))
