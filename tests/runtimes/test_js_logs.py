"""The JavaScript adapters' (Node, Deno: one core, runtimes/node/core.mjs) per-call logs, through the
contract harness: the JVM adapters' tests (test_jvm_logs.py) run here on JS_FLOODS. A call's log file
holds at most what the executor reads of it however much the call logs (context.log or console.log),
the adapter's memory does not grow with the flood, and a logs dir gone missing is made again by the
next call that writes logs."""
from __future__ import annotations

from . import test_jvm_logs
from .log_floods import JS_FLOODS

# Collected here too, where `driver` is this module's.
test_a_log_flood_keeps_what_the_executor_reads = test_jvm_logs.test_a_log_flood_keeps_what_the_executor_reads
test_a_missing_logs_dir_is_made_again = test_jvm_logs.test_a_missing_logs_dir_is_made_again

driver = test_jvm_logs.flood_driver(JS_FLOODS)
