"""The Python adapter's own HTTP layer (runtimes/python/server.py parses requests itself and runs each
call on its connection's thread, a watchdog thread answering soft timeouts): malformed requests get
a 4xx and change nothing, keep-alive and Expect rules, header parsing, a timed-out call's connection
closing, and no thread per call. The open-runtimes contract itself is test_python_contract.py."""
from __future__ import annotations

import os

from .contract_common import RuntimeContract
from .http_common import (assert_headers_as_the_function_sees_them, assert_keep_alive_rules_and_expect_continue,
                          assert_malformed_requests_refused, assert_no_thread_per_call,
                          assert_timed_out_call_closes_its_connection_and_runs_on, connect)

contract = RuntimeContract("python-3.11")

FUNCTION = {
    "main.py": """
        import time

        def main(context):
            if context.req.headers.get("x-action") == "sleep":
                context.log("sleep start")
                time.sleep(float(context.req.headers["x-seconds"]))
                open(context.req.headers["x-marker"], "w").close()  # the test's signal: the call ended
            return context.res.json({"headers": context.req.headers, "method": context.req.method,
                                     "body": context.req.body_text})
    """,
}


def threads(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def test_malformed_requests_get_4xx_and_the_adapter_keeps_serving(tmp_path):
    with contract.running(tmp_path, FUNCTION, "main.py") as driver:
        assert_malformed_requests_refused(driver)


def test_headers_as_the_function_sees_them(tmp_path):
    with contract.running(tmp_path, FUNCTION, "main.py") as driver, connect(driver) as sock:
        assert_headers_as_the_function_sees_them(driver, sock)


def test_keep_alive_rules_and_expect_continue(tmp_path):
    with contract.running(tmp_path, FUNCTION, "main.py") as driver:
        assert_keep_alive_rules_and_expect_continue(driver)


def test_timed_out_call_closes_its_connection_and_runs_on(tmp_path):
    with contract.running(tmp_path, FUNCTION, "main.py") as driver:
        assert_timed_out_call_closes_its_connection_and_runs_on(driver, tmp_path / "slow.done")


def test_no_thread_per_call(tmp_path):
    with contract.running(tmp_path, FUNCTION, "main.py") as driver:
        assert_no_thread_per_call(driver, lambda: threads(driver.proc.pid))
