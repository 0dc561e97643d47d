"""The Ruby adapter's per-call path: a call with a soft timeout starts no thread (one watchdog thread
serves every call's deadline; Timeout.timeout of Ruby < 3.2 started one per call), and the timeout
still stops a call that overruns it. The contract is test_ruby_contract.py."""
from __future__ import annotations

from .contract_common import RuntimeContract

contract = RuntimeContract("ruby-3.1")

# Answers how many Ruby threads exist while it runs; x-sleep: seconds to sleep first.
FUNCTION = {"index.rb": """
    def main(context)
      sleep(context.req.headers['x-sleep'].to_f) if context.req.headers['x-sleep']
      context.res.text(Thread.list.size.to_s)
    end
"""}


def test_a_call_with_a_timeout_starts_no_thread(tmp_path):
    with contract.running(tmp_path, FUNCTION, "index.rb") as driver:
        first = driver.request(timeout=15)  # the watchdog starts with the first deadline and stays
        assert first.status == 200, first.short()
        without = [int(driver.request(timeout=None).text) for _ in range(5)]
        with_timeout = [int(driver.request(timeout=15).text) for _ in range(5)]
        # the same connection each time: the same threads, whether the call has a deadline or not
        assert set(with_timeout) == set(without) and len(set(without)) == 1, (without, with_timeout)
        late = driver.request(headers={"x-sleep": "30"}, timeout=1)
        assert late.status == 500 and "Execution timed out." in late.errors, late.short()
        after = driver.request(timeout=15)
        assert after.status == 200 and int(after.text) == without[0], after.short()
