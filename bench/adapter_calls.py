"""Per-call cost of the runtime adapters by themselves (no API in front): `.venv/bin/python
bench/adapter_calls.py [language ...] [--calls N] [--seconds S] [--rounds R] [--json]`.

For each language in ADAPTERS (all whose toolchain is present, or those named): builds its hello
function once on the host (emulator.hostbuild, as a deployment's build does), starts one instance
the way bench/run.py `direct_instance` does (LocalExecutor + RuntimeSpec, logs dir as the executor
makes it) and calls it directly through the executor's own RuntimeClient, which also reads and
deletes the call's log files as a real execution does. It then measures:

  c1   N sequential calls: p50/p95 latency
  c8   concurrency 8 for S seconds: calls/s
  cpu  the adapter process's CPU (user + system, every thread: JIT and GC included, from /proc)
       per call over both, in ms

after a warm-up (JIT compilers and caches settle: JVM adapters need a few thousand calls). Several
languages are measured in interleaved rounds so each sees the same machine. Traffic: 127.0.0.1 only.
A language is one entry of ADAPTERS: runtime id, entrypoint, files of a function answering "ok".

--logs-on-tmpfs gives every measured language the logs dir on tmpfs that the executor gives only the
languages that opt in (`logs_on_tmpfs` in emulator/languages/<lang>.py): what opting in would change.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from run import load, pct  # noqa: E402  (bench/run.py)

from emulator.executors.base import ExecutionRequest, ExecutorError, RuntimeSpec  # noqa: E402
from emulator.executors.local import LocalExecutor  # noqa: E402
from emulator.hostbuild import build_on_host  # noqa: E402
from emulator.languages import language_for_runtime  # noqa: E402


def cpu_seconds(pid: int) -> float:
    """user + system CPU of `pid`, of its children it has reaped (the C++ adapter forks a process
    per call) and of those still running (the PHP adapter's calls run in long-lived forked
    workers), from /proc."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rpartition(")")[2].split()
    except OSError:
        return 0.0
    total = sum(int(field) for field in fields[11:15]) / os.sysconf("SC_CLK_TCK")
    return total + sum(cpu_seconds(child) for child in live_children(pid))


def live_children(pid: int) -> list[int]:
    children: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as fh:
                children.extend(int(child) for child in fh.read().split())
    except OSError:
        pass
    return children


@dataclass(frozen=True)
class Adapter:
    runtime: str
    entrypoint: str
    files: dict[str, str]
    warmup: int = 500  # calls before measuring


ADAPTERS: dict[str, Adapter] = {
    "java": Adapter("java-17.0", "src/Main.java", {"src/Main.java": (
        "package io.openruntimes.java.src;\n\n"
        "import io.openruntimes.java.RuntimeContext;\n"
        "import io.openruntimes.java.RuntimeOutput;\n\n"
        "public class Main {\n"
        "    public RuntimeOutput main(RuntimeContext context) {\n"
        "        return context.getRes().text(\"ok\");\n"
        "    }\n"
        "}\n")}, warmup=5000),
    "kotlin": Adapter("kotlin-2.3", "src/Main.kt", {"src/Main.kt": (
        "package io.openruntimes.kotlin.src\n\n"
        "import io.openruntimes.kotlin.RuntimeContext\n"
        "import io.openruntimes.kotlin.RuntimeOutput\n\n"
        "class Main {\n"
        "    fun main(context: RuntimeContext): RuntimeOutput = context.res.text(\"ok\")\n"
        "}\n")}, warmup=5000),
    "php": Adapter("php-8.2", "index.php", {"index.php": (
        "<?php\nreturn function ($context) {\n    return $context->res->text('ok');\n};\n")}),
    "ruby": Adapter("ruby-3.1", "index.rb", {"index.rb": "def main(context)\n  context.res.text('ok')\nend\n"}),
    "cpp": Adapter("cpp-17", "src/index.cc", {"src/index.cc": (
        '#include "../RuntimeContext.h"\n\n'
        "namespace runtime {\n"
        "class Handler {\n"
        " public:\n"
        '  static RuntimeOutput main(RuntimeContext &context) { return context.res.text("ok"); }\n'
        "};\n"
        "}  // namespace runtime\n")}),
    "swift": Adapter("swift-5.10", "Sources/index.swift", {"Sources/index.swift": (
        "func main(context: RuntimeContext) async throws -> RuntimeOutput? {\n"
        '    return context.res.text("ok")\n'
        "}\n")}),
}


class Running:
    """One built and started instance of a language's hello function, and a call to it."""

    def __init__(self, lang: str, adapter: Adapter, tmp: Path):
        self.lang = lang
        self.adapter = adapter
        self.tmp = tmp / lang
        self.executor: LocalExecutor | None = None

    async def start(self) -> None:
        build_dir = self.tmp / "build"
        for name, text in self.adapter.files.items():
            (build_dir / name).parent.mkdir(parents=True, exist_ok=True)
            (build_dir / name).write_text(text)
        language = language_for_runtime(self.adapter.runtime)
        await asyncio.to_thread(build_on_host, language, build_dir, self.adapter.entrypoint, "", {},
                                lambda text: None)
        self.executor = LocalExecutor(self.tmp / "run")
        spec = RuntimeSpec(f"adapter-{self.lang}", self.adapter.runtime, "v5", self.adapter.entrypoint, build_dir,
                           self.tmp / "output.tar.gz", {})
        self.inst = await self.executor.pool.acquire(spec)
        self.executor.pool.release(self.inst)
        self.pid = self.inst.handle.proc.pid
        self.request = ExecutionRequest("POST", "/", {"content-type": "text/plain"}, b"x", 15)

    async def call(self) -> bool:
        try:
            result = await self.executor.client.execute(self.inst, self.request)
        except ExecutorError:
            return False
        return result.status_code == 200 and result.body == b"ok"

    async def stop(self) -> None:
        if self.executor is not None:
            await self.executor.close()


async def measure(langs: list[str], calls: int, seconds: float, rounds: int) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="adapter-calls-"))
    running = [Running(lang, ADAPTERS[lang], tmp) for lang in langs]
    totals = {r.lang: {"c1": [], "c1_errors": 0, "c8_n": 0, "c8_errors": 0, "c8_s": 0.0, "cpu_s": 0.0, "calls": 0}
              for r in running}
    try:
        for r in running:
            await r.start()
            warm = await load(r.call, 8, count=r.adapter.warmup)
            if warm["errors"]:
                raise RuntimeError(f"{r.lang}: {warm['errors']} of {r.adapter.warmup} warm-up calls failed")
        for _ in range(rounds):
            for r in running:
                t = totals[r.lang]
                cpu = cpu_seconds(r.pid)
                c1_before = len(t["c1"])
                for _ in range(max(1, calls // rounds)):
                    started = time.perf_counter()
                    if await r.call():
                        t["c1"].append(time.perf_counter() - started)
                    else:
                        t["c1_errors"] += 1
                c8 = await load(r.call, 8, seconds=seconds / rounds)
                t["cpu_s"] += cpu_seconds(r.pid) - cpu
                t["calls"] += len(t["c1"]) - c1_before + c8["n"]
                t["c8_n"] += c8["n"]
                t["c8_errors"] += c8["errors"]
                t["c8_s"] += c8["seconds"]
    finally:
        for r in running:
            await r.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return {lang: {"runtime": ADAPTERS[lang].runtime,
                   "p50_ms": round(pct(t["c1"], 50) * 1000, 3), "p95_ms": round(pct(t["c1"], 95) * 1000, 3),
                   "c8_per_s": round(t["c8_n"] / max(t["c8_s"], 1e-9), 1),
                   "cpu_ms_per_call": round(t["cpu_s"] * 1000 / max(t["calls"], 1), 3),
                   "calls": t["calls"], "errors": t["c1_errors"] + t["c8_errors"]}
            for lang, t in totals.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("langs", nargs="*", help=f"languages to measure (default: all present of {', '.join(ADAPTERS)})")
    parser.add_argument("--calls", type=int, default=2000, help="sequential calls per language (all rounds)")
    parser.add_argument("--seconds", type=float, default=8.0, help="seconds at concurrency 8 per language (all rounds)")
    parser.add_argument("--rounds", type=int, default=4, help="interleaved rounds")
    parser.add_argument("--logs-on-tmpfs", action="store_true",
                        help="logs dir on tmpfs for every measured language (see above)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args()
    unknown = [lang for lang in args.langs if lang not in ADAPTERS]
    if unknown:
        parser.error(f"unknown language(s) {', '.join(unknown)}; known: {', '.join(ADAPTERS)}")
    langs = args.langs or list(ADAPTERS)
    present = []
    for lang in langs:
        toolchain = language_for_runtime(ADAPTERS[lang].runtime).toolchain()
        if toolchain.available:
            present.append(lang)
        else:
            print(f"{lang}: skipped, {toolchain.hint}", file=sys.stderr)
    if args.logs_on_tmpfs:
        for lang in present:
            type(language_for_runtime(ADAPTERS[lang].runtime)).logs_on_tmpfs = True
    results = asyncio.run(measure(present, args.calls, args.seconds, args.rounds))
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(f"{'adapter':<10}{'runtime':<14}{'p50 ms':>9}{'p95 ms':>9}{'c8 calls/s':>12}{'CPU ms/call':>13}{'errors':>8}")
        for lang, r in results.items():
            print(f"{lang:<10}{r['runtime']:<14}{r['p50_ms']:>9.3f}{r['p95_ms']:>9.3f}{r['c8_per_s']:>12.1f}"
                  f"{r['cpu_ms_per_call']:>13.3f}{r['errors']:>8}")
    return 0 if all(r["errors"] == 0 for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
