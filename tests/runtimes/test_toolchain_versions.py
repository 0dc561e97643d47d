"""Honest runtime versions on the local executor (issue 13, item 6): a runtime runs on the host
toolchain of its version when one is installed, on the binary the user mapped it to with
`--toolchain RUNTIME=PATH`, and otherwise says in the build log and in `python -m emulator runtimes`
which version actually runs. Checked with real interpreters: the deployed function reports the
interpreter it runs on."""
from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys

import pytest

from emulator.languages import language_for_runtime
from emulator.languages.base import wanted_version
from emulator.languages.python import Python
from support import ROOT, JsonApi

PROJECT = "versions"
REPORT = {"main.py": "import os, sys\n\ndef main(context):\n"
                     "    return context.res.json({'version': '%d.%d.%d' % sys.version_info[:3],\n"
                     "                             'executable': os.path.realpath(sys.executable)})\n"}


def interpreter_version(path: str) -> str:
    out = subprocess.run([path, "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
                         capture_output=True, text=True, timeout=60)
    return out.stdout.strip() if out.returncode == 0 else ""


def installed_python(minor_version: str) -> str:
    """A python of `minor_version` (e.g. "3.12") found without the emulator's own lookup, or ""."""
    pyenv = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    candidates = [shutil.which(f"python{minor_version}") or "", f"/usr/bin/python{minor_version}",
                  f"/usr/local/bin/python{minor_version}",
                  *glob.glob(f"{pyenv}/versions/{minor_version}.*/bin/python{minor_version}"),
                  *glob.glob(os.path.expanduser(f"~/.local/share/uv/python/cpython-{minor_version}.*/bin/python{minor_version}"))]
    for path in candidates:
        if path and os.access(path, os.X_OK) and interpreter_version(path).startswith(minor_version + "."):
            return path
    return ""


def default_python() -> tuple[str, str]:
    """(real path, version) of `python3` on PATH: what runs a runtime without a toolchain of its own."""
    python3 = shutil.which("python3")
    out = subprocess.run([python3, "-c", "import os, sys; print(os.path.realpath(getattr(sys, '_base_executable', "
                                         "sys.executable)))"], capture_output=True, text=True, timeout=60)
    return out.stdout.strip(), interpreter_version(python3)


def run(api: JsonApi, function_id: str) -> dict:
    doc = api.ok("POST", f"/functions/{function_id}/executions", {})
    assert doc["status"] == "completed", doc
    return json.loads(doc["responseBody"])


def minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def test_wanted_version_reads_appwrite_ids():
    # X.0 is the X line where the language lists no other X.y (node-16.0, java-17.0), else X.0 itself.
    node = language_for_runtime("node-16.0")
    assert node.wanted_version() == "16" and language_for_runtime("node-14.5").wanted_version() == "14.5"
    assert language_for_runtime("java-17.0").wanted_version() == "17"
    assert language_for_runtime("php-8.0").wanted_version() == "8.0"
    assert language_for_runtime("ruby-3.0").wanted_version() == "3.0"
    assert wanted_version("22", ("20.0", "22")) == "22"


def test_mapped_interpreter_is_the_one_that_runs(server_factory):
    """--toolchain wins over any interpreter of the runtime's version, and the build log says the
    mapped one has another version."""
    mapped = os.path.realpath(getattr(sys, "_base_executable", sys.executable))
    mapped_version = interpreter_version(mapped)
    runtime = next(f"python-{v}" for v in reversed(Python.versions) if v != minor(mapped_version))
    srv = server_factory("--toolchain", f"{runtime}={mapped}")
    api = JsonApi(srv.endpoint, PROJECT)
    dep = api.deploy("mapped", REPORT, runtime=runtime)
    out = run(api, "mapped")
    assert out == {"version": mapped_version, "executable": mapped}, out
    assert f"{runtime} runs on the mapped toolchain, Python {mapped_version}" in dep["buildLogs"], dep["buildLogs"]


def test_a_runtime_runs_on_the_installed_interpreter_of_its_version(server_factory):
    default_path, default_version = default_python()
    other = next(((v, path) for v in Python.versions if v != minor(default_version)
                  for path in [installed_python(v)] if path), None)
    if other is None:
        pytest.skip("no Python besides python3 installed here: nothing to pick")
    version, path = other
    srv = server_factory()
    api = JsonApi(srv.endpoint, PROJECT)
    dep = api.deploy("picked", REPORT, runtime=f"python-{version}")
    out = run(api, "picked")
    assert minor(out["version"]) == version and out["executable"] != default_path, out
    assert "Note:" not in dep["buildLogs"], dep["buildLogs"]


def test_an_unmatched_version_says_what_runs(server_factory):
    default_path, default_version = default_python()
    missing = next((v for v in Python.versions if v != minor(default_version) and not installed_python(v)), None)
    if missing is None:
        pytest.skip("every Python version is installed here: none runs on another one")
    runtime = f"python-{missing}"
    srv = server_factory()
    api = JsonApi(srv.endpoint, PROJECT)
    dep = api.deploy("unmatched", REPORT, runtime=runtime)
    out = run(api, "unmatched")
    assert out == {"version": default_version, "executable": default_path}, out
    assert (f"Note: {runtime} runs on this machine's toolchain, Python {default_version}; no Python {missing} "
            f"is used here") in dep["buildLogs"], dep["buildLogs"]
    assert f"--toolchain {runtime}=/path/to/python3" in dep["buildLogs"], dep["buildLogs"]

    listing = subprocess.run([sys.executable, "-m", "emulator", "runtimes"], cwd=ROOT, capture_output=True,
                             text=True, timeout=300)
    assert listing.returncode == 0, listing.stderr
    line = next(line for line in listing.stdout.splitlines() if line.split()[:1] == [runtime])
    assert f"NOT {missing}: runs on Python {default_version}" in line, line


def test_runtimes_lists_a_mapping_and_refuses_bad_ones():
    mapped = os.path.realpath(getattr(sys, "_base_executable", sys.executable))
    mapped_version = interpreter_version(mapped)
    runtime = f"python-{minor(mapped_version)}"

    def runtimes(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "emulator", "runtimes", *args], cwd=ROOT,
                              capture_output=True, text=True, timeout=300)

    listing = runtimes("--toolchain", f"{runtime}={mapped}")
    assert listing.returncode == 0, listing.stderr
    line = next(line for line in listing.stdout.splitlines() if line.split()[:1] == [runtime])
    assert line.split()[1:] == ["Python", mapped_version, f"({mapped})"], line

    for bad, why in ((f"{runtime}=/nonexistent/python3", "is not an executable file"),
                     (f"cpp-17={mapped}", "cannot be mapped"),
                     (f"python-9.9={mapped}", "unknown runtime"),
                     ("python-3.12", "expected RUNTIME=PATH")):
        refused = runtimes("--toolchain", bad)
        assert refused.returncode == 2 and why in refused.stderr, (bad, refused.stderr)


def test_serve_refuses_a_bad_mapping(tmp_path):
    out = subprocess.run([sys.executable, "-m", "emulator", "serve", "--port", "0", "--data-dir", str(tmp_path / "d"),
                          "--toolchain", "node-20.0=/nonexistent/node"], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 2 and "is not an executable file" in out.stderr, out.stderr
    assert not (tmp_path / "d").exists()  # refused before anything was created


def test_node_runtime_of_another_major_is_honest_about_what_runs(server_factory):
    """Whichever node runs a runtime of another major than `node` on PATH (one of that version if
    installed in a well-known place, else the default), the build log tells the truth about it."""
    if shutil.which("node") is None:
        pytest.skip("node not installed")
    default = subprocess.run(["node", "--version"], capture_output=True, text=True, timeout=60).stdout.strip()
    runtime = next(f"node-{v}" for v in ("14.5", "16.0", "18.0") if language_for_runtime(f"node-{v}")
                   .wanted_version().split(".")[0] != default.lstrip("v").split(".")[0])
    wanted = language_for_runtime(runtime).wanted_version()
    srv = server_factory()
    api = JsonApi(srv.endpoint, PROJECT)
    dep = api.deploy("nodever", {"index.js": "module.exports = async (context) => context.res.json({ version: process.version });\n"},
                     entrypoint="index.js", runtime=runtime)
    ran = run(api, "nodever")["version"]
    if ran.lstrip("v").startswith(wanted + "."):
        assert "Note:" not in dep["buildLogs"], dep["buildLogs"]
    else:
        assert ran == default, ran
        assert (f"Note: {runtime} runs on this machine's toolchain, {default}; no Node.js {wanted} is used here."
                in dep["buildLogs"]), dep["buildLogs"]
