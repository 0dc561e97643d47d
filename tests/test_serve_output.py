"""What `serve` prints while it runs (emulator/access_log.py), read from the real server's output:
a line per execution (time, function, trigger, method path, status code, duration, status) and
per build (start, its output as it comes, end with duration or failure reason); function logs
only with --logs; nothing per request with --quiet; colour on a terminal only.
"""
from __future__ import annotations

import json
import os
import pty
import re
import signal
import subprocess
import sys
import threading

import pytest
from dev.devproc import DevProcess
from served import ServeProcess
from support import ROOT, JsonApi, archive_bytes, wait_for

TIME = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"
DURATION = r"\d+(?:\.\d+)? m?s"  # "12 ms", "1.25 s"
ANSI = "\x1b["
CODE = {"main.py": "def main(context):\n"
                   "    context.log('log line from ' + context.req.path)\n"
                   "    context.error('error line from ' + context.req.path)\n"
                   "    if context.req.path == '/crash':\n"
                   "        raise RuntimeError('boom')\n"
                   "    return context.res.text('ok', 201)\n"}
# Printed by the build command, one line at a time, as a dependency install would.
BUILD_COMMANDS = "echo first-build-step; echo second-build-step"


def deploy(api: JsonApi, function_id: str = "hello") -> dict:
    return api.deploy(function_id, CODE, commands=BUILD_COMMANDS)


@pytest.fixture
def serve(tmp_path):
    """Starts `serve` with extra arguments; its output (stdout and stderr) is read from a file."""
    started = []

    def start(*args: str) -> ServeProcess:
        argv = [sys.executable, "-m", "emulator", "serve", "--port", "0", "--data-dir", tmp_path / "data", *args]
        started.append(ServeProcess(argv, ROOT, None, tmp_path / "serve.log").__enter__())
        return started[-1]

    yield start
    for served in started:
        served.stop()


def test_a_line_per_build_and_per_execution_without_colour_in_a_file(serve):
    server = serve()
    api = JsonApi(server.endpoint, "demo")
    deployment = deploy(api)
    dep = deployment["$id"]
    server.wait_for_line(rf"^{TIME} build +demo/hello {dep} ready in {DURATION}$")
    lines = server.lines()
    started = lines.index(next(ln for ln in lines if re.search(rf"^{TIME} build +demo/hello {dep} started$", ln)))
    ended = lines.index(next(ln for ln in lines if re.search(rf"build +demo/hello {dep} ready", ln)))
    progress = lines[started + 1:ended]
    # The build's output, each line under the function's prefix, in order, between start and end.
    assert "    hello | first-build-step" in progress and "    hello | second-build-step" in progress, progress
    assert progress.index("    hello | first-build-step") < progress.index("    hello | second-build-step")

    api.ok("POST", "/functions/hello/executions", {"path": "/ok", "method": "GET"})
    api.ok("POST", "/functions/hello/executions", {"path": "/crash", "method": "PUT"})
    server.wait_for_line(rf"^{TIME} execution demo/hello http GET /ok 201 {DURATION} completed$")
    server.wait_for_line(rf"^{TIME} execution demo/hello http PUT /crash 500 {DURATION} failed$")
    # Function logs are not shown without --logs; no colour codes in a file.
    assert not any("log line from" in ln or "error line from" in ln for ln in server.lines())
    assert ANSI not in server.output()


def test_a_failed_build_prints_its_reason(serve):
    server = serve()
    api = JsonApi(server.endpoint, "demo")
    api.ok("POST", "/functions", {"functionId": "broken", "name": "broken", "runtime": "python-3.11",
                                  "entrypoint": "main.py", "commands": "echo about-to-fail; exit 3"})
    dep = api.upload_ok("broken", archive_bytes(CODE))["$id"]
    end = server.wait_for_line(rf"^{TIME} build +demo/broken {dep} failed in {DURATION}: (.+)$")
    assert "exited with code 3" in end.group(1), end.group(0)
    assert "    broken | about-to-fail" in server.lines()


def test_a_synchronous_execution_past_the_cap_is_printed_as_failed(serve):
    server = serve("--sync-timeout", "1")
    api = JsonApi(server.endpoint, "demo")
    api.deploy("slow", {"main.py": "import time\n\ndef main(context):\n    time.sleep(5)\n    return context.res.text('late')\n"})
    status, _ = api.call("POST", "/functions/slow/executions", {"path": "/slow", "method": "GET"})
    assert status == 408
    server.wait_for_line(rf"^{TIME} execution demo/slow http GET /slow 500 {DURATION} failed$")


def test_logs_prints_the_function_logs_and_errors(serve):
    server = serve("--logs")
    api = JsonApi(server.endpoint, "demo")
    deploy(api)
    api.ok("POST", "/functions/hello/executions", {"path": "/with-logs", "method": "GET"})
    head = server.wait_for_line(rf"^{TIME} execution demo/hello http GET /with-logs 201 {DURATION} completed$")
    lines = server.lines()
    at = lines.index(head.group(0))
    assert lines[at + 1:at + 3] == ["    log | log line from /with-logs", "    error | error line from /with-logs"]


def test_quiet_prints_nothing_per_build_or_execution(serve):
    server = serve("--quiet")
    api = JsonApi(server.endpoint, "demo")
    deploy(api)
    execution = api.ok("POST", "/functions/hello/executions", {"path": "/quiet", "method": "GET"})
    assert execution["status"] == "completed"
    # A sync execution's line is printed once its answer has left, in the same loop step: by the
    # time the server answers another request, it would have been written.
    api.ok("GET", "/functions/hello")
    printed = [ln for ln in server.lines()
               if re.search(rf"^{TIME} (execution|build) ", ln) or ln.startswith("    hello |")]
    assert printed == []


def test_colour_on_a_terminal(tmp_path):
    """The same lines on a pseudo-terminal carry ANSI colour codes."""
    leader, follower = pty.openpty()
    received = bytearray()

    def drain():  # a terminal nobody reads from would block the server
        while True:
            try:
                data = os.read(leader, 4096)
            except OSError:  # the server is gone (EIO)
                return
            if not data:
                return
            received.extend(data)

    def text() -> str:
        return bytes(received).decode(errors="replace")

    with open(tmp_path / "stderr.log", "wb") as stderr:
        proc = subprocess.Popen([sys.executable, "-m", "emulator", "serve", "--port", "0", "--data-dir",
                                 str(tmp_path / "data")], cwd=ROOT, stdin=subprocess.DEVNULL, stdout=follower,
                                stderr=stderr, start_new_session=True)
    os.close(follower)
    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        endpoint = wait_for(lambda: re.search(r"listening on (http://\S+/v1)", text()),
                            message="the banner on the terminal").group(1)
        api = JsonApi(endpoint, "demo")
        deploy(api)
        api.ok("POST", "/functions/hello/executions", {"path": "/tty", "method": "GET"})
        line = wait_for(lambda: next((ln for ln in text().splitlines() if "execution" in ln and "/tty" in ln), None),
                        message="the execution's line on the terminal")
        assert ANSI in line and re.sub(r"\x1b\[[0-9;]*m", "", line).rstrip().endswith(" completed"), repr(line)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(60)
        reader.join(timeout=30)
        os.close(leader)


def test_dev_streams_build_output_as_it_comes(tmp_path):
    """`dev` shows a build's output lines under the function's prefix while the build still runs:
    the first line is on the console before the build's command has finished."""
    folder = tmp_path / "project"
    folder.mkdir()
    release = tmp_path / "release"  # the build command waits for this file after its first line
    (folder / "appwrite.config.json").write_text(json.dumps({"projectId": "devout", "functions": [{
        "$id": "streamed", "name": "streamed", "runtime": "python-3.11", "path": ".", "entrypoint": "main.py",
        "commands": f"echo first-dev-step; while [ ! -e {release} ]; do sleep 0.05; done; echo second-dev-step",
        "ignore": ["data"]}]}))
    (folder / "main.py").write_text(CODE["main.py"])
    dev = DevProcess(folder, tmp_path / "data")
    try:
        # `start` waits for the first deploys, which wait for this build: release it from a thread
        # once its first line is on the console.
        seen_while_building = []

        def release_after_first_line():
            try:
                wait_for(lambda: any(re.search(r"streamed \| first-dev-step$", ln) for ln in list(dev.lines)),
                         timeout=120, message="the first build line")
                seen_while_building.append(True)
            finally:
                release.touch()

        releaser = threading.Thread(target=release_after_first_line, daemon=True)
        releaser.start()
        dev.start(timeout=180)
        releaser.join(timeout=30)
        # Streamed, not replayed at the end: the first line was on the console before the file that
        # lets the build command go on existed.
        assert seen_while_building
        dev.wait_for(r"streamed \| second-dev-step$")
        dev.wait_for(r"streamed\s+deployed \S+")
    finally:
        release.touch()
        dev.stop()
