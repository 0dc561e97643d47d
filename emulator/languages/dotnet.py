""".NET (`dotnet-3.1` … `dotnet-10`): runtimes/dotnet/Server.cs compiled with the user's C# files.

User code as in Appwrite's .NET starter: `Index.cs` with `namespace DotNetRuntime; public class
Handler { public async Task<RuntimeOutput> Main(RuntimeContext Context) }`; every `.cs` file of the
deployment is compiled (the class is always `Handler`), and `PackageReference`s of a user `.csproj`
are carried over. Appwrite 1.0-1.3 snippets (a bare `Main(RuntimeRequest req, RuntimeResponse res)`)
are wrapped in `class Handler` first, as the v2 build did; the adapter then picks the API by
reflection. `dotnet publish` writes the program to `.open-runtimes/dotnet/out` in the build dir.
"""
from __future__ import annotations

import functools
import re
import shutil
import subprocess
from pathlib import Path

from .base import Language, ServerCommand, run_logged, xml_escape

GENERATED = Path(".open-runtimes") / "dotnet"
HINT = ("curl -sSL https://dot.net/v1/dotnet-install.sh | bash -s -- --channel 8.0 --install-dir /usr/share/dotnet"
        " && ln -sf /usr/share/dotnet/dotnet /usr/local/bin/dotnet"
        " (or apt-get install -y dotnet-sdk-8.0 from packages.microsoft.com)")
COMMENTS = re.compile(r"//[^\n]*|/\*.*?\*/", re.S)
HANDLER_CLASS = re.compile(r"\bclass\s+Handler\b")
PACKAGE_REFERENCE = re.compile(r"<PackageReference\b[^>]*?(?:/>|>.*?</PackageReference>)", re.S)
# Compiler noise that the official images' user code triggers (nullable annotations, async without await).
NO_WARN = "CS8600;CS8601;CS8602;CS8603;CS8604;CS8618;CS8625;CS1998;CS0028"


@functools.lru_cache(maxsize=None)
def _target_framework() -> str:
    try:
        out = subprocess.run(["dotnet", "--version"], capture_output=True, text=True, timeout=120)
        major = int(out.stdout.strip().split(".")[0])
    except (OSError, ValueError, subprocess.SubprocessError):
        major = 8
    return f"net{major}.0" if major >= 5 else f"netcoreapp{major}.1"


def wrap_v2(source: str, display_name: str) -> str:
    """Appwrite 1.0-1.3 .NET functions are methods without a class, pasted into one by the v2 build:
    top-level `using` lines stay at file scope, the rest goes into `DotNetRuntime.Handler`."""
    usings, body = [], []
    for line in source.splitlines():
        if line.startswith("using ") and line.rstrip().endswith(";") and "(" not in line:
            usings.append(line)
            body.append("")
        else:
            body.append(line)
    name = display_name.replace("\\", "/").replace('"', "")
    return ("\n".join(usings) + "\nnamespace DotNetRuntime\n{\npublic class Handler\n{\n"
            + f'#line 1 "{name}"\n' + "\n".join(body) + "\n#line default\n}\n}\n")


class DotNet(Language):
    key = "dotnet"
    name = ".NET"
    versions = ("3.1", "6.0", "7.0", "8.0", "10")
    default_entrypoint = "Index.cs"
    dependency_files = ("Function.csproj",)
    compiled = True
    required_binaries = ("dotnet",)
    install_hint = HINT
    version_command = ("dotnet", "--version")
    test_entrypoints = {"context": "Tests.cs", "legacy": "Index.cs"}

    def build_env(self, build_dir: Path) -> dict[str, str]:
        root = Path(build_dir).resolve()
        return {"NUGET_PACKAGES": str(root / ".nuget"), "DOTNET_CLI_HOME": str(root / ".dotnet-home"),
                "DOTNET_CLI_TELEMETRY_OPTOUT": "1", "DOTNET_NOLOGO": "1", "DOTNET_SKIP_FIRST_TIME_EXPERIENCE": "1"}

    def compile(self, build_dir: Path, entrypoint: str, log) -> None:
        build_dir = Path(build_dir).resolve()
        gen = build_dir / GENERATED
        shutil.rmtree(gen, ignore_errors=True)
        gen.mkdir(parents=True)
        shutil.copyfile(self.adapter_dir / "Server.cs", gen / "Server.cs")

        excludes = ["../../.open-runtimes/**", "../../**/bin/**", "../../**/obj/**", "../../.nuget/**",
                    "../../.dotnet-home/**"]
        entry = build_dir / entrypoint
        if entry.is_file():
            source = entry.read_text(encoding="utf-8", errors="replace")
            if not HANDLER_CLASS.search(COMMENTS.sub("", source)):
                (gen / "Function.cs").write_text(wrap_v2(source, entrypoint), encoding="utf-8")
                excludes.append("../../" + entrypoint)
                log(f"No class Handler in {entrypoint}: wrapping it as an Appwrite 1.0-1.3 (v2) function.\n")
        else:
            log(f"Entrypoint {entrypoint} does not exist.\n")

        references = []
        for project in sorted(build_dir.glob("*.csproj")):
            references += PACKAGE_REFERENCE.findall(project.read_text(encoding="utf-8", errors="replace"))
        project = f"""<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup>
    <OutputType>Exe</OutputType>
    <TargetFramework>{_target_framework()}</TargetFramework>
    <ImplicitUsings>enable</ImplicitUsings>
    <Nullable>enable</Nullable>
    <LangVersion>latest</LangVersion>
    <AssemblyName>DotNetRuntime</AssemblyName>
    <RootNamespace>DotNetRuntime</RootNamespace>
    <StartupObject>DotNetRuntime.Server</StartupObject>
    <EnableDefaultCompileItems>false</EnableDefaultCompileItems>
    <NoWarn>{NO_WARN}</NoWarn>
  </PropertyGroup>
  <ItemGroup>
    <Compile Include="*.cs" />
    <Compile Include="../../**/*.cs" Exclude="{xml_escape(';'.join(excludes))}" />
  </ItemGroup>
  <ItemGroup>
    {chr(10).join('    ' + r for r in references).strip()}
  </ItemGroup>
</Project>
"""
        (gen / "DotNetRuntime.csproj").write_text(project, encoding="utf-8")
        log("Compiling with dotnet publish ...\n")
        run_logged(["dotnet", "publish", "DotNetRuntime.csproj", "-c", "Release", "-o", "out", "--nologo"],
                   gen, self.build_env(build_dir), log)

    def server(self, code_dir: Path, entrypoint: str) -> ServerCommand:
        dll = Path(code_dir).resolve() / GENERATED / "out" / "DotNetRuntime.dll"
        return ServerCommand(["dotnet", str(dll)], env={"DOTNET_CLI_TELEMETRY_OPTOUT": "1", "DOTNET_NOLOGO": "1"},
                             cwd=str(code_dir))
