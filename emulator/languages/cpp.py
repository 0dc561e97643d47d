"""C++ (`cpp-17`, `cpp-20`): the adapter in runtimes/cpp/src is compiled together with the user's file.

Layout as Appwrite's C++ starter: `src/index.cc` includes `../RuntimeResponse.h` etc. and defines
`runtime::Handler::main`. The build copies the adapter headers to the build root (so those
includes resolve from `src/`), `#include`s the user file into `server.cc` and compiles one binary,
`cpp_runtime`, as the official image does: ISO C++ of the runtime's version (`-std=c++17` for
cpp-17, `-std=c++20` for cpp-20), linked with libcurl (plus jsoncpp and pthreads for the adapter).

A function with its own `CMakeLists.txt` is built with CMake the way the official build does it:
the function's file is appended to the runtime's CMake project (target `${PROJECT_NAME}`, that is
`cpp_runtime`), whose source dir holds the function's files as `src/`; so its
`target_link_libraries`, `find_package` and `target_sources(${PROJECT_NAME} PRIVATE src/x.cc)`
work unchanged. Without one, g++ is called directly with the same sources and flags (no CMake
configure step to pay for).

Code written for Appwrite 1.0-1.3 (a bare
`static RuntimeResponse &main(const RuntimeRequest &req, RuntimeResponse &res)`) is wrapped in
`class Handler` first, as the v2 build did; which API a handler uses is then decided at compile time
from the signature of `Handler::main`.
"""
from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .base import BuildError, Language, ServerCommand, Toolchain, run_logged

HEADERS = ("RuntimeContext.h", "RuntimeOutput.h", "RuntimeRequest.h", "RuntimeResponse.h")
BINARY = "cpp_runtime"
HANDLER_CLASS = re.compile(r"\b(?:class|struct)\s+Handler\b")
COMMENTS = re.compile(r"//[^\n]*|/\*.*?\*/", re.S)
HINT = "apt-get install -y g++ libjsoncpp-dev libcurl4-openssl-dev"
CMAKE_HINT = "apt-get install -y cmake"
USER_CMAKE = "CMakeLists.txt"  # the function's own, at its root (the official build appends it)
CMAKE_DIR = ".cpp-cmake"  # the runtime's CMake project, inside the build dir while it builds


@functools.lru_cache(maxsize=None)
def _library_flags(package: str, include_fallback: tuple[str, ...], lib_fallback: tuple[str, ...]
                   ) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(compile flags, link flags) of a pkg-config package, else Debian's layout."""
    if shutil.which("pkg-config"):
        cflags = subprocess.run(["pkg-config", "--cflags", package], capture_output=True, text=True)
        libs = subprocess.run(["pkg-config", "--libs", package], capture_output=True, text=True)
        if cflags.returncode == 0 and libs.returncode == 0:
            return tuple(cflags.stdout.split()), tuple(libs.stdout.split())
    return include_fallback, lib_fallback


def _jsoncpp_flags() -> tuple[tuple[str, ...], tuple[str, ...]]:
    return _library_flags("jsoncpp", ("-I/usr/include/jsoncpp",), ("-ljsoncpp",))


def _curl_flags() -> tuple[tuple[str, ...], tuple[str, ...]]:
    return _library_flags("libcurl", (), ("-lcurl",))


@functools.lru_cache(maxsize=None)
def _probe_libraries(compiler_version: str) -> Toolchain:
    # Preprocessing is enough to prove the -dev packages are there (they ship headers and the .so link).
    probe = ("#include <json/json.h>\n#include <json/version.h>\n#include <curl/curlver.h>\n"
             "JSONCPP_VERSION_STRING LIBCURL_VERSION\n")
    try:
        out = subprocess.run(["g++", "-E", "-P", "-x", "c++", *_jsoncpp_flags()[0], *_curl_flags()[0], "-"],
                             input=probe, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as exc:
        return Toolchain(False, "", f"g++ failed to run ({exc}). Install: {HINT}")
    if out.returncode != 0:
        missing = "curl/curlver.h" if "curl/" in out.stderr else "json/json.h"
        return Toolchain(False, "", f"{missing} not found (jsoncpp and libcurl headers are needed). Install: {HINT}")
    lines = out.stdout.strip().splitlines()
    jsoncpp, curl = (re.findall(r'"([^"]*)"', lines[-1] if lines else "") + ["", ""])[:2]
    return Toolchain(True, f"{compiler_version}, jsoncpp {jsoncpp}, libcurl {curl}", "")


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


def _cmake_arg(value: str) -> str:
    """A CMake quoted argument holding `value` as is (no variable expansion)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$") + '"'


@dataclass
class _Build:
    """One compile of the adapter with a user's file: what g++ and the CMake project are both given."""
    standard: str  # "17" or "20"
    source: Path  # runtimes/cpp/src/server.cc
    defines: list[str]  # NAME=VALUE
    include_dirs: list[str]
    compile_flags: list[str]  # library cflags other than -I
    libraries: list[str]  # linker flags for the adapter's libraries (jsoncpp); curl is added apart
    curl: list[str]  # linker flags for libcurl, linked into every function as the official image does
    output: Path

    def gxx_argv(self) -> list[str]:
        return ["g++", f"-std=c++{self.standard}", "-O2", "-pthread", *self.compile_flags,
                *(f"-I{d}" for d in self.include_dirs), *(f"-D{d}" for d in self.defines),
                str(self.source), "-o", str(self.output), *self.curl, *self.libraries, "-pthread"]

    def cmake_lists(self, user_lists: str) -> str:
        """The runtime's CMake project, shaped as the official image's (project `cpp_runtime`, the
        standard without GNU extensions, curl linked PUBLIC), then the function's CMakeLists.txt."""
        def args(values) -> str:
            return " ".join(_cmake_arg(str(v)) for v in values)
        lines = [
            "cmake_minimum_required(VERSION 3.5)",
            "project(cpp_runtime CXX)",
            f"set(CMAKE_CXX_STANDARD {self.standard})",
            "set(CMAKE_CXX_STANDARD_REQUIRED ON)",
            "set(CMAKE_CXX_EXTENSIONS OFF)",
            "set(THREADS_PREFER_PTHREAD_FLAG ON)",
            "find_package(Threads REQUIRED)",
            f"add_executable(${{PROJECT_NAME}} {args([self.source])})",
            f"target_compile_definitions(${{PROJECT_NAME}} PRIVATE {args(self.defines)})",
            f"target_include_directories(${{PROJECT_NAME}} PRIVATE ${{CMAKE_CURRENT_SOURCE_DIR}} {args(self.include_dirs)})",
        ]
        if self.compile_flags:
            lines.append(f"target_compile_options(${{PROJECT_NAME}} PRIVATE {args(self.compile_flags)})")
        lines += [
            f"target_link_libraries(${{PROJECT_NAME}} PRIVATE Threads::Threads {args(self.libraries)})",
            f"target_link_libraries(${{PROJECT_NAME}} PUBLIC {args(self.curl)})",
            "",
            f"# ---- the function's {USER_CMAKE}, appended as the official build does ----",
        ]
        return "\n".join(lines) + "\n" + user_lists + "\n"


class Cpp(Language):
    key = "cpp"
    name = "C++"
    versions = ("17", "20", "17.0", "20.0")
    logs_on_tmpfs = True  # runtimes/cpp/src/server.cc caps a call's logs, native output included
    default_entrypoint = "src/index.cc"
    compiled = True
    required_binaries = ("g++",)
    install_hint = HINT
    version_command = ("g++", "--version")
    test_entrypoints = {"context": "src/tests.cc", "legacy": "src/index.cc"}
    versioned_toolchain = False  # the runtime version is the C++ standard, whichever g++ builds it

    def toolchain(self) -> Toolchain:
        base = super().toolchain()
        if not base.available:
            return base
        return _probe_libraries(base.version)

    @property
    def standard(self) -> str:
        """The ISO C++ standard of the runtime version (cpp-17 and cpp-17.0: "17"); the newest unbound."""
        return (self.runtime_version or self.versions[-1]).split(".")[0]

    def compile(self, build_dir: Path, entrypoint: str, log) -> None:
        build_dir = Path(build_dir).resolve()
        src = self.adapter_dir / "src"
        for header in HEADERS:
            shutil.copyfile(src / header, build_dir / header)
        entry = build_dir / entrypoint
        defines = [f"OPR_ENTRYPOINT={_c_string(entrypoint)}"]
        if not entry.is_file():
            # Still build: the server answers 503 "Failed to load entrypoint" like the other adapters.
            log(f"Entrypoint {entrypoint} does not exist.\n")
            defines.append("OPR_ENTRY_MISSING")
        else:
            source = entry.read_text(encoding="utf-8", errors="replace")
            if not HANDLER_CLASS.search(COMMENTS.sub("", source)):
                wrapped = entry.with_name(f".{entry.stem}.v2{entry.suffix}")
                wrapped.write_text(wrap_v2(source, entrypoint), encoding="utf-8")
                log(f"No class Handler in {entrypoint}: wrapping it as an Appwrite 1.0-1.3 (v2) function.\n")
                entry = wrapped
            if '"' in str(entry):
                raise BuildError(f"Entrypoint path may not contain '\"': {entrypoint}")
            defines.append(f'OPR_ENTRY_FILE="{entry}"')
        cflags = [*_jsoncpp_flags()[0], *_curl_flags()[0]]
        build = _Build(standard=self.standard, source=src / "server.cc", defines=defines,
                       include_dirs=[str(build_dir), *(f[2:] for f in cflags if f.startswith("-I"))],
                       compile_flags=[f for f in cflags if not f.startswith("-I")],
                       libraries=list(_jsoncpp_flags()[1]), curl=list(_curl_flags()[1]),
                       output=build_dir / BINARY)
        user_lists = build_dir / USER_CMAKE
        if user_lists.is_file():
            self._cmake_build(build, user_lists.read_text(encoding="utf-8", errors="replace"), build_dir,
                              entrypoint, log)
        else:
            log(f"Compiling {entrypoint} with g++ -std=c++{build.standard} ...\n")
            run_logged(build.gxx_argv(), build_dir, None, log)

    def _cmake_build(self, build: _Build, user_lists: str, build_dir: Path, entrypoint: str, log) -> None:
        """The official build: the runtime's CMake project with the function's CMakeLists.txt appended
        and the function's files as its `src/`, configured and built; the binary moves to the build root."""
        cmake = shutil.which("cmake")
        if cmake is None:
            raise BuildError(f"The function has a {USER_CMAKE} and cmake is not installed. Install: {CMAKE_HINT}")
        project = build_dir / CMAKE_DIR
        shutil.rmtree(project, ignore_errors=True)
        project.mkdir()
        (project / "src").symlink_to("..")  # the function's files, where the official build copies them
        (project / "CMakeLists.txt").write_text(build.cmake_lists(user_lists), encoding="utf-8")
        binary_dir = project / "build"
        log(f"Compiling {entrypoint} with CMake (C++{build.standard}, the function's {USER_CMAKE} appended) ...\n")
        try:
            run_logged([cmake, "-S", str(project), "-B", str(binary_dir), "-DCMAKE_BUILD_TYPE=Release"],
                       build_dir, None, log)
            run_logged([cmake, "--build", str(binary_dir), "--parallel", str(os.cpu_count() or 1)],
                       build_dir, None, log)
            built = binary_dir / BINARY
            if not built.is_file():
                raise BuildError(f"CMake built no {BINARY}: the function's {USER_CMAKE} must keep the "
                                 "runtime's target (add to ${PROJECT_NAME}, do not replace it).")
            os.replace(built, build.output)
        finally:
            shutil.rmtree(project, ignore_errors=True)

    def server(self, code_dir: Path, entrypoint: str) -> ServerCommand:
        return ServerCommand([str(Path(code_dir).resolve() / BINARY)], cwd=str(code_dir))
