"""The native adapters' (Ruby, C++, Swift) per-call logs, through the contract harness: the JVM
adapters' tests (test_jvm_logs.py) run here on NATIVE_FLOODS (a call's log file holds at most what the
executor reads of it, the adapter's memory does not grow with the flood, a logs dir gone missing is
made again by the next call that writes logs), and a flood of the language's own output is capped the
same way."""
from __future__ import annotations

import pytest

from .contract_common import RuntimeContract
from .log_floods import NATIVE_FLOODS
from .test_jvm_logs import (STREAM_LIMIT, peak_rss_kb, test_a_log_flood_keeps_what_the_executor_reads,  # noqa: F401
                            test_a_missing_logs_dir_is_made_again)

NATIVE_NOTICE = "Native logs detected. Use context.log() or context.error() for better experience.\n"


@pytest.fixture(scope="module", params=sorted(NATIVE_FLOODS))
def driver(request, tmp_path_factory):
    entrypoint, source = NATIVE_FLOODS[request.param]
    with RuntimeContract(request.param).running(tmp_path_factory.mktemp(request.param), {entrypoint: source},
                                                entrypoint) as running:
        yield running


def test_a_flood_of_native_output_keeps_what_the_executor_reads(driver):
    driver.request(body="warm", read_timeout=120)
    before = peak_rss_kb(driver.proc.pid)
    flood = driver.request(body="native", log_id="native", read_timeout=120)
    assert flood.status == 200 and flood.body == b"done false", flood.short()
    assert len(flood.logs) == STREAM_LIMIT, (len(flood.logs), flood.logs[:200])
    assert flood.logs.startswith("native\n" + NATIVE_NOTICE + "x" * 8000 + "\n"), flood.logs[:200]
    assert flood.logs.count("Native logs detected.") == 1 and flood.errors == "", flood.errors[:300]
    grown_mb = (peak_rss_kb(driver.proc.pid) - before) / 1024
    assert grown_mb < 40, f"the adapter's peak memory grew by {grown_mb:.0f} MB for 100 MB of output"
    after = driver.request(body="ok")
    assert after.status == 200 and after.logs == "ok\n" and after.errors == "", after.short()
