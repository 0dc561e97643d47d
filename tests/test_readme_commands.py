"""Every command of README.md runs as written, in a fresh shell, twice in a row; and `exec` finds a
function by its folder, id or name.

The README's ```bash blocks run line by line (backslash continuations joined) with `bash -e`,
its ```python blocks with the checkout's venv Python, in order, from a directory that looks like
the checkout (its files linked, `.venv` included) but where whatever the commands create
(`.emulator/`, `myfn/`) lands in a temporary folder. The shell has a fresh HOME, no activated venv
and a PATH without the venv. A line marked `# keeps running` is a server: it runs in the
background until the next such line replaces it (the README says to stop one before starting
the other), and the next command waits until it is ready. The README uses port 8080 as written:
the test needs it free.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from served import ServeProcess
from support import ROOT, JsonApi, in_ci, require_toolchain

README = ROOT / "README.md"
BLOCK = re.compile(r"^```(bash|sh|shell|python)\n(.*?)^```", re.M | re.S)
KEEPS_RUNNING = "# keeps running"
README_PORT = 8080
APPWRITE_CLI = ROOT / "tests" / "node" / "node_modules" / ".bin" / "appwrite"
# What is created by the commands, in the test's folder, not in the checkout.
CREATED = {".emulator", "myfn"}
COMMAND_TIMEOUT = 600


def readme_blocks() -> list[tuple[str, list[str]]]:
    """(language, commands) of each runnable block: shell lines with continuations joined and
    comment-only lines dropped; a python block is one command."""
    blocks = []
    for language, body in BLOCK.findall(README.read_text(encoding="utf-8")):
        if language == "python":
            blocks.append((language, [body]))
            continue
        commands, pending = [], ""
        for line in body.splitlines():
            if line.rstrip().endswith("\\"):
                pending += line.rstrip()[:-1] + " "
                continue
            line = pending + line
            pending = ""
            if line.strip() and not line.lstrip().startswith("#"):
                commands.append(line)
        blocks.append((language, commands))
    return blocks


def ready_line(command: str) -> str:
    """What a server the README starts prints once it takes commands: `dev` after deploying."""
    return r"Watching for changes" if re.search(r"\bdev\b", command) else r"listening on http://\S+/v1"


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds: TIME_WAIT is no obstacle
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def checkout_view(where: Path) -> Path:
    """A folder with a link to each top-level entry of the checkout, except what the commands create."""
    where.mkdir()
    for entry in ROOT.iterdir():
        if entry.name not in CREATED and entry.name != ".git":
            (where / entry.name).symlink_to(entry)
    return where


def fresh_env(home: Path) -> dict:
    env = {"HOME": str(home), "LANG": "C.UTF-8", "NO_COLOR": "1",
           "PATH": os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep)
                                   if p and not p.startswith(str(ROOT)))}
    if "CI" in os.environ:  # the Appwrite CLI asks nothing under CI
        env["CI"] = os.environ["CI"]
    return env


def run_tour(cwd: Path, env: dict, logs: Path, round_: int) -> list[str]:
    """Runs every block, the commands between two servers in one shell (a `cd` holds for the lines
    after it, as in a terminal); returns the output of each shell."""
    outputs = []
    server: ServeProcess | None = None

    def run(language: str, script: str, label: str) -> None:
        argv = [str(ROOT / ".venv" / "bin" / "python"), "-"] if language == "python" else ["bash", "-e", "-c", script]
        result = subprocess.run(argv, cwd=cwd, env=env, input=script if language == "python" else None,
                                stdin=None if language == "python" else subprocess.DEVNULL,
                                capture_output=True, text=True, timeout=COMMAND_TIMEOUT)
        output = result.stdout + result.stderr
        assert result.returncode == 0, f"{label}\nexited {result.returncode}:\n{output[-4000:]}"
        # The Appwrite CLI exits 0 even when a request failed: it says so instead.
        assert "Error" not in output, f"{label}\n{output[-4000:]}"
        outputs.append(output)

    try:
        for number, (language, commands) in enumerate(readme_blocks()):
            pending: list[str] = []
            for index, command in enumerate(commands + [None]):
                if command is not None and KEEPS_RUNNING not in command:
                    pending.append(command)
                    continue
                if pending:
                    run(language, "\n".join(pending), f"round {round_}, block {number}:\n" + "\n".join(pending))
                    pending = []
                if command is None:
                    break
                if server is not None:
                    server.stop()  # as the README says: stop `make run` before `dev`
                server = ServeProcess(["bash", "-c", command], cwd, env, logs / f"{round_}-{number}-{index}.log",
                                      ready=ready_line(command), timeout=COMMAND_TIMEOUT).__enter__()
    finally:
        if server is not None:
            server.stop()
    return outputs


def test_readme_commands_run_as_written_twice(tmp_path):
    if not port_free(README_PORT):
        message = f"port {README_PORT}, which the README's commands use, is taken by another program"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)
    for tool, hint in (("node", "apt-get install -y nodejs npm"), ("make", "apt-get install -y make")):
        if shutil.which(tool) is None:
            require_toolchain(tool, f"{tool} not found. Install: {hint}")
    if not APPWRITE_CLI.exists():
        require_toolchain("appwrite-cli", "appwrite-cli not installed. Run: make install (cd tests/node && npm install)")
    stale = subprocess.run(["make", "-q", ".venv/.installed"], cwd=ROOT, capture_output=True)
    if stale.returncode != 0:
        # `make run` would reinstall the venv from the linked copy of the checkout.
        message = "the venv is older than setup.cfg/pyproject.toml: run `make install` first"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)

    cwd = checkout_view(tmp_path / "checkout")
    home = tmp_path / "home"
    home.mkdir()
    logs = tmp_path / "logs"
    logs.mkdir()
    env = fresh_env(home)
    for round_ in (1, 2):  # the second run finds everything the first created
        outputs = run_tour(cwd, env, logs, round_)
        joined = "\n".join(outputs)
        assert '{"hello":"Appwrite"}' in joined  # the SDK part ran its function
        assert re.search(r"completed 200 .*POST /", joined)  # `exec myfn` ran the starter
        assert "users.u1.create -> " in joined  # `trigger` reached the subscribed starter
    config = json.loads((cwd / "myfn" / "appwrite.config.json").read_text())
    assert len(config["functions"]) == 1  # the second `init` reused the function
    assert (cwd / ".emulator" / "emulator.db").is_file() and not (ROOT / "myfn").exists()


# -- exec by folder, id or name ------------------------------------------------------------------
def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "emulator", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "NO_COLOR": "1"})


def test_exec_finds_a_function_by_folder_id_or_name(server_factory, tmp_path):
    server = server_factory()
    work = tmp_path / "work"
    work.mkdir()
    created = run_cli("init", "--runtime", "python-3.11", "--project-id", "folders", "--name", "Greeter", "greeter",
                      cwd=work)
    assert created.returncode == 0, created.stderr
    function_id = re.search(r"^Function id: (\S+)$", created.stdout, re.M).group(1)
    config = json.loads((work / "greeter" / "appwrite.config.json").read_text())
    assert config["functions"][0]["$id"] == function_id and config["projectId"] == "folders"
    fn = config["functions"][0]
    folder = work / "greeter"
    api = JsonApi(server.endpoint, "folders")
    api.deploy(function_id, {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*")
                             if p.is_file() and p.name != "appwrite.config.json"},
               entrypoint=fn["entrypoint"], runtime=fn["runtime"], commands=fn["commands"], name="Greeter")
    # Another project with a function of the same name: the folder's config picks the project.
    JsonApi(server.endpoint, "default").ok("POST", "/functions", {
        "functionId": "other", "name": "Greeter", "runtime": "python-3.11", "entrypoint": "main.py"})

    def executions() -> int:
        return api.ok("GET", f"/functions/{function_id}/executions")["total"]

    by_folder = run_cli("exec", "greeter", "--path", "/ping", "--endpoint", server.endpoint, cwd=work)
    assert by_folder.returncode == 0 and "Pong" in by_folder.stdout, by_folder.stdout + by_folder.stderr
    assert executions() == 1
    inside = run_cli("exec", ".", "--path", "/ping", "--endpoint", server.endpoint, cwd=folder)
    assert inside.returncode == 0 and "Pong" in inside.stdout, inside.stdout + inside.stderr
    by_id = run_cli("exec", function_id, "--path", "/ping", "--endpoint", server.endpoint, "--project", "folders",
                    cwd=tmp_path)
    assert by_id.returncode == 0 and "Pong" in by_id.stdout, by_id.stdout + by_id.stderr
    by_name = run_cli("exec", "Greeter", "--path", "/ping", "--endpoint", server.endpoint, "--project", "folders",
                      cwd=tmp_path)
    assert by_name.returncode == 0 and "Pong" in by_name.stdout, by_name.stdout + by_name.stderr
    assert executions() == 4
    missing = run_cli("exec", "nobody", "--endpoint", server.endpoint, "--project", "folders", cwd=tmp_path)
    assert missing.returncode == 1 and "No function with the id, name or folder 'nobody'" in missing.stderr
    assert executions() == 4


def test_exec_refuses_an_ambiguous_name(server_factory, tmp_path):
    server = server_factory()
    api = JsonApi(server.endpoint, "twins")
    for function_id in ("twin-a", "twin-b"):
        api.ok("POST", "/functions", {"functionId": function_id, "name": "Twin", "runtime": "python-3.11",
                                      "entrypoint": "main.py"})
    result = run_cli("exec", "Twin", "--endpoint", server.endpoint, "--project", "twins", cwd=tmp_path)
    assert result.returncode == 1 and "2 functions are named 'Twin'" in result.stderr
    assert "twin-a" in result.stderr and "twin-b" in result.stderr


def test_init_twice_reuses_and_a_different_function_is_refused_with_advice(tmp_path):
    first = run_cli("init", "--runtime", "python-3.11", "fn", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    function_id = re.search(r"^Function id: (\S+)$", first.stdout, re.M).group(1)
    (tmp_path / "fn" / "requirements.txt").unlink()
    again = run_cli("init", "--runtime", "python-3.11", "fn", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "already set up" in again.stdout and f"Function id: {function_id}" in again.stdout
    assert (tmp_path / "fn" / "requirements.txt").is_file()  # the missing starter file came back
    config = json.loads((tmp_path / "fn" / "appwrite.config.json").read_text())
    assert [f["$id"] for f in config["functions"]] == [function_id]
    other = run_cli("init", "--runtime", "node-18.0", "fn", cwd=tmp_path)
    assert other.returncode == 1 and "choose another directory" in other.stderr
    assert json.loads((tmp_path / "fn" / "appwrite.config.json").read_text()) == config
