"""The JVM adapters' (Java, Kotlin: one core, runtimes/java/core) per-call logs, through the contract
harness: a call's log file holds at most what the executor reads of it (5 MiB + 1 byte, then it notes
the truncation) however much the call logs (context.log or System.out), and the adapter's memory does
not grow with the flood; a logs dir gone missing is made again by the next call that writes logs."""
from __future__ import annotations

import shutil

import pytest

from .contract_common import RuntimeContract
from .log_floods import JVM_FLOODS

STREAM_LIMIT = 5 * 1024 * 1024 + 1  # Logger.STREAM_LIMIT; the executor reads 5 MiB of a file
NATIVE_NOTICE = "Native logs detected. Use context.log() or context.error() for better experience.\n"


def peak_rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:"))


def flood_driver(floods: dict[str, tuple[str, str]]):
    """A module-scoped `driver` fixture: one running adapter per runtime of `floods`."""
    @pytest.fixture(scope="module", params=sorted(floods), name="driver")
    def driver(request, tmp_path_factory):
        entrypoint, source = floods[request.param]
        with RuntimeContract(request.param).running(tmp_path_factory.mktemp(request.param), {entrypoint: source},
                                                    entrypoint) as running:
            yield running
    return driver


driver = flood_driver(JVM_FLOODS)


@pytest.mark.parametrize("mode", ["flood", "native"])  # context.log, or the language's own output
def test_a_log_flood_keeps_what_the_executor_reads(driver, mode):
    warm = driver.request(body="warm", read_timeout=120)
    assert warm.status == 200 and warm.body == b"done true" and warm.logs == "warm\n", warm.short()
    before = peak_rss_kb(driver.proc.pid)
    flood = driver.request(body=mode, log_id=mode, read_timeout=120)
    assert flood.status == 200 and flood.body == b"done false", flood.short()
    # exactly the cap (the logs are ASCII: characters are bytes), starting with what came first
    first = mode + "\n" + (NATIVE_NOTICE if mode == "native" else "") + "x" * 8000 + "\n"
    assert len(flood.logs) == STREAM_LIMIT and flood.logs.startswith(first), (len(flood.logs), flood.logs[:200])
    assert flood.logs.count("Native logs detected.") == (mode == "native") and flood.errors == "", \
        flood.errors[:300]
    grown_mb = (peak_rss_kb(driver.proc.pid) - before) / 1024
    assert grown_mb < 40, f"the adapter's peak memory grew by {grown_mb:.0f} MB for 100 MB of logs"
    after = driver.request(body="ok")
    assert after.status == 200 and after.logs == "ok\n" and after.errors == "", after.short()


def test_a_missing_logs_dir_is_made_again(driver):
    shutil.rmtree(driver.logs_dir)
    silent = driver.request(body="ok", logging="disabled")
    assert silent.status == 200 and not driver.logs_dir.exists(), "logging disabled must not make the logs dir"
    r = driver.request(body="ok", log_id="again")
    assert r.status == 200 and r.log_files and r.logs == "ok\n" and r.errors == "", r.short()
