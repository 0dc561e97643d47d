"""The Swift adapter against the shared contract (emulator/contract/), plus Swift specifics: which
handler the build picks, runtime ids, the install hint, concurrent calls with per-call print() logs,
timeouts, exit, and the toolchain root (emulator/toolchain_root.py) the build and the server run in
when the host has no Swift. Without a Swift toolchain (host or root) the contract tests skip with the
hint, which includes the command that builds the root; under CI=true they fail instead."""
from __future__ import annotations

import concurrent.futures
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from emulator import toolchain_root
from emulator.languages import language_for_runtime
from emulator.languages.swift import HINT, dispatch_source
from support import JsonApi, require_toolchain, runtimes_of, wait_for

from .contract_common import (RuntimeContract, assert_exit_stops_server, assert_isolated_logs,
                              assert_timeout_drops_late_output, call_through_barrier, line_end_leaks,
                              native_context_lines, slow_function, upper_text)

RUNTIME = "swift-5.10"
contract = RuntimeContract(RUNTIME)

context_driver, legacy_driver, v2_driver = contract.driver_fixtures()
test_context, test_legacy, test_v2_wire = contract.contract_tests()


def test_runtime_ids_and_hint():
    language = contract.assert_runtime_ids("swift", ("5.5", "5.8", "5.9", "5.10", "6.2"), "4.2")
    assert language.default_entrypoint == "Sources/index.swift" and language.compiled
    toolchain = language.toolchain()
    if not toolchain.available:
        assert HINT in toolchain.hint and "-m emulator.toolchain_root build swift" in toolchain.hint, toolchain


def test_hint_without_swift_or_root(tmp_path, monkeypatch):
    """No swift on PATH and no root in the cache: unavailable, and the hint gives both ways to get one."""
    if shutil.which("swift"):
        pytest.skip("this machine has a host Swift (its probe is cached per process): no hint to check")
    monkeypatch.setattr(toolchain_root, "CACHE_DIR", tmp_path / "cache")
    monkeypatch.setenv("PATH", str(tmp_path))
    toolchain = language_for_runtime("swift-6.2").toolchain()
    assert not toolchain.available
    assert HINT in toolchain.hint and "swiftly" in toolchain.hint, toolchain
    assert "-m emulator.toolchain_root build swift" in toolchain.hint, toolchain


@pytest.mark.parametrize("sources,expected", [
    (["func main(context: RuntimeContext) async throws -> RuntimeOutput {\n  return context.res.empty()\n}\n"],
     ".context("),
    (["func main(req: RequestValue, res: RequestResponse) throws -> RequestResponse { res.send(\"x\") }\n"],
     ".legacy("),
    (["// func main(context: RuntimeContext)\nfunc handler(context: RuntimeContext) {}\n"], ".invalid("),
])
def test_dispatch(sources, expected):
    assert dispatch_source(sources).startswith("let userFunction: UserFunction = " + expected)


def test_dispatch_missing_entrypoint():
    source = dispatch_source([], missing_entry="Sources/nope.swift")
    assert "Failed to load entrypoint, file Sources/nope.swift does not exist." in source


CONCURRENT_FUNCTION = slow_function({
    "Sources/index.swift": """
        import Foundation

        func main(context: RuntimeContext) async throws -> RuntimeOutput {
            let token = context.req.headers["x-token"] ?? ""
            switch token {
            case "slow":  // blocks its thread: the timeout answers, the function runs on to its end
                context.log("slow start")
                Thread.sleep(forTimeInterval: SLOW_SECONDS)
                print("late native output")
                context.log("slow end")
                FileManager.default.createFile(atPath: context.req.headers["x-marker"]!, contents: nil)
                return context.res.text("finished")
            case "hang":  // holds its thread for good
                while true { sleep(3600) }
            case "ping":
                return context.res.text("pong")
            case "exit":
                FileHandle.standardError.write("exiting with 4\\n".data(using: .utf8)!)
                exit(4)
            default:
                print("native", token)
                context.log("context", token)
                let barrier = context.req.headers["x-barrier"]!  // see call_through_barrier
                FileManager.default.createFile(atPath: barrier + "/" + token, contents: nil)
                let deadline = Date().addingTimeInterval(30)
                while !FileManager.default.fileExists(atPath: barrier + "/release") && Date() < deadline {
                    try await Task.sleep(nanoseconds: 10_000_000)
                }
                return context.res.text(token.uppercased())
            }
        }
    """,
})


def test_concurrent_calls_timeout_isolated_logs_and_exit(tmp_path):
    """Calls on separate connections run at the same time, each print() lands in its own call's log;
    a timed-out call is answered at once and what it prints afterwards is dropped; calls that hang
    for good do not stall the ones after them; exit inside a
    function ends the runtime with its code (through the toolchain root's exec chain too). One build."""
    with contract.running(tmp_path, CONCURRENT_FUNCTION, "Sources/index.swift") as driver:
        tokens = [f"t{i}" for i in range(6)]
        results = call_through_barrier(driver, tokens, tmp_path / "barrier")
        assert_isolated_logs(tokens, results, response=upper_text, lines=native_context_lines, leaks=line_end_leaks)
        assert_timeout_drops_late_output(driver, tmp_path / "slow.done", "slow", function_stopped=False,
                                         empty_body=True, late_output_hidden=True)
        # More hung calls than Swift's shared pool has threads (one per core): each holds only its own.
        hung = len(os.sched_getaffinity(0)) + 1
        with concurrent.futures.ThreadPoolExecutor(hung) as pool:
            for r in pool.map(lambda _: driver.request(headers={"x-token": "hang"}, timeout=1), range(hung)):
                assert r.status == 500 and "Execution timed out." in r.errors, r.short()
        # A stalled pool would hang this call too: its timeout is the bound, generous for a loaded machine.
        r = driver.request(headers={"x-token": "ping"}, timeout=25)
        assert r.status == 200 and r.text == "pong", r.short()
        assert_exit_stops_server(driver, {"x-token": "exit"}, 4, "exiting with 4")


test_development_mode_and_empty_secret = contract.development_mode_test(custom_log_id=True)
test_throughput = contract.throughput_test(
    "Warm trivial calls, one after another, share one keep-alive connection (speed: make bench).")


# --- the toolchain root ---------------------------------------------------------------------------

def require_root() -> Path:
    root = toolchain_root.SWIFT
    if not root.present():
        require_toolchain("swift", f"no Swift toolchain root; build it with: {root.build_hint()}")
    return root.path


def test_root_runs_trixie_with_host_paths_bound(tmp_path):
    """A command in the root sees Debian 13's system and the host's working directory at its own
    path; its bind mounts live in a namespace of its own, never in the host's mount table."""
    path = require_root()
    script = "cat /etc/debian_version; echo written inside > made-inside.txt"
    out = subprocess.run(toolchain_root.SWIFT.command(["sh", "-c", script], tmp_path), capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    version = out.stdout.strip()
    assert version.split(".")[0] == "13" and version != Path("/etc/debian_version").read_text().strip(), out.stdout
    assert (tmp_path / "made-inside.txt").read_text() == "written inside\n"
    assert str(path) not in Path("/proc/self/mountinfo").read_text(), "the root's mounts leaked into the host"


def test_local_executor_runs_swift_in_the_root_and_ends_it(server):
    """Through the API: the instance is a process whose root is the toolchain root, with its binds in a
    private mount namespace; deleting the function ends it (and with it that namespace)."""
    path = require_root()
    api = JsonApi(server.endpoint, "swiftroot")
    api.deploy("swiftroot", {"Sources/index.swift": """
        import Foundation
        func main(context: RuntimeContext) async throws -> RuntimeOutput {
            print("native in root")
            return context.res.text(try String(contentsOfFile: "/etc/debian_version", encoding: .utf8))
        }
    """}, entrypoint="Sources/index.swift", runtime="swift-6.2", wait=600)
    execution = api.ok("POST", "/functions/swiftroot/executions", {"body": "", "async": False})
    assert execution["status"] == "completed" and execution["responseBody"].startswith("13"), execution
    assert "native in root" in execution["logs"], execution
    pids = runtimes_of(server.data_dir)
    assert pids, "the instance's process must be running"
    for pid in pids:
        assert os.readlink(f"/proc/{pid}/root") == str(path)
        assert os.readlink(f"/proc/{pid}/ns/mnt") != os.readlink("/proc/self/ns/mnt")
    assert str(path) not in Path("/proc/self/mountinfo").read_text()
    api.ok("DELETE", "/functions/swiftroot")
    wait_for(lambda: not runtimes_of(server.data_dir), timeout=60, message="the Swift instance to be ended")
