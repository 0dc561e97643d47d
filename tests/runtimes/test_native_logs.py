"""The per-call logs of the adapters outside the JVM (Ruby, C++, Swift, PHP, and the JavaScript core
that Node and Deno share), through the contract harness: the JVM adapters' tests (test_jvm_logs.py)
run here on NATIVE_FLOODS, PHP_FLOODS and JS_FLOODS. A call's log file holds at most what the
executor reads of it however much the call logs (context.log, or puts/std::cout/print/echo/
console.log), the adapter's memory does not grow with the flood, and a logs dir gone missing is made
again by the next call that writes logs. (PHP's calls run in a forked worker, whose output goes
straight to the file: there the bound that matters is the file's, which on tmpfs is memory.)"""
from __future__ import annotations

from . import test_jvm_logs
from .log_floods import JS_FLOODS, NATIVE_FLOODS, PHP_FLOODS

FLOODS = {**NATIVE_FLOODS, **PHP_FLOODS, **JS_FLOODS}

# Collected here too, where `driver` is this module's.
test_a_log_flood_keeps_what_the_executor_reads = test_jvm_logs.test_a_log_flood_keeps_what_the_executor_reads
test_a_missing_logs_dir_is_made_again = test_jvm_logs.test_a_missing_logs_dir_is_made_again


driver = test_jvm_logs.flood_driver(FLOODS)
