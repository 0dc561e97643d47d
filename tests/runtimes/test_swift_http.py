"""The Swift adapter's connection handling since calls run on their connection's thread (Server.swift
CallExecutor, with one watchdog thread answering soft timeouts): a call that blocks past its timeout
is answered and its connection closed while it runs on, other connections being served meanwhile;
calls start no threads, each connection has one, which ends with it (tests/runtimes/http_common.py,
the rules the Python and JVM adapters are held to). The contract is test_swift_contract.py."""
from __future__ import annotations

import os

import pytest

from .contract_common import RuntimeContract
from .http_common import assert_no_thread_per_call, assert_timed_out_call_closes_its_connection_and_runs_on

contract = RuntimeContract("swift-5.10")
ENTRYPOINT = "Sources/index.swift"

FUNCTION = {
    ENTRYPOINT: """
        import Foundation

        func main(context: RuntimeContext) async throws -> RuntimeOutput? {
            let headers = context.req.headers
            if headers["x-action"] == "sleep" {
                context.log("sleep start")
                Thread.sleep(forTimeInterval: Double(headers["x-seconds"] ?? "0") ?? 0)  // blocks its thread
                FileManager.default.createFile(atPath: headers["x-marker"] ?? "", contents: nil)  // the test's signal
            }
            return try context.res.json(["body": context.req.bodyText, "headers": headers,
                                         "method": context.req.method, "path": context.req.path])
        }
    """,
}


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    with contract.running(tmp_path_factory.mktemp("swift-http"), FUNCTION, ENTRYPOINT) as running:
        yield running


def test_timed_out_call_closes_its_connection_and_runs_on(driver, tmp_path):
    assert_timed_out_call_closes_its_connection_and_runs_on(driver, tmp_path / "slept")


def test_no_thread_per_call(driver):
    assert_no_thread_per_call(driver, lambda: len(os.listdir(f"/proc/{driver.proc.pid}/task")))
