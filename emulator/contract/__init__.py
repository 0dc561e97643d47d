"""The contract harness: the open-runtimes acceptance behaviour (docs/runtime-contract.md) as checks
any runtime adapter can be run against, and the drivers that run them.

    results.py   Result (one execution as the check sees it), CheckResult, expect
    registry.py  Check, @check / @v2check, picking and running the checks for a driver
    checks.py    the checks themselves (importing it registers them)
    table.py     format_table: checks × runtimes
    direct.py    DirectDriver: builds the canonical test function on the host, starts the adapter
    api.py       ApiDriver / run_contract: the same checks through the emulator's REST API

A *driver* sends requests to one running function and returns `Result`s. Checks only use
`driver.request(...)`, `driver.level` ("runtime" for `DirectDriver`, "emulator" for a driver that
goes through the emulator's REST API), `driver.runtime` and `driver.api`; checks marked `direct`
also use the wire-level extras of `DirectDriver` (secret, log ids, log files, server output).

The driver interface every check relies on:

    driver.request(method="POST", path="/", headers: dict | list[tuple] | None = None,
                   body: bytes | str = b"", *, timeout=<default>, read_timeout=30.0) -> Result

`timeout` is the execution timeout in seconds (DirectDriver: the `x-open-runtimes-timeout` header;
an API driver: the function's timeout). Direct-only checks also pass `secret=`, `logging=` and
`log_id=`, and read `driver.logs_dir` and `driver.server_output()`.

    driver = DirectDriver("python-3.11", api="context")
    driver.start(); results = run_suite(driver); driver.stop()
    print(format_table({"python-3.11/context": results}))
"""
from .api import ApiDriver, run_contract
from .checks import STARTED_LINE, TIMEOUT_HEADER_ERROR, UNAUTHORIZED  # importing checks registers them
from .direct import CUSTOM_ENV, ENFORCED_HEADERS, DirectDriver, wait_for_port
from .registry import (CHECKS, V2_CHECKS, Check, check, checks_for, checks_for_api, run_check,
                       run_suite, v2check)
from .results import CheckFailed, CheckResult, Result, ToolchainMissing, expect
from .table import format_table

__all__ = [
    "ApiDriver", "CHECKS", "CUSTOM_ENV", "Check", "CheckFailed", "CheckResult", "DirectDriver", "ENFORCED_HEADERS",
    "Result", "STARTED_LINE", "TIMEOUT_HEADER_ERROR", "ToolchainMissing", "UNAUTHORIZED", "V2_CHECKS",
    "check", "checks_for", "checks_for_api", "expect", "format_table", "run_check", "run_contract", "run_suite",
    "v2check", "wait_for_port",
]
