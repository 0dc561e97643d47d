"""Benchmarks of the emulator: `make bench` (or `.venv/bin/python bench/run.py [--quick]`).

Starts `python -m emulator serve` on a free 127.0.0.1 port with a temporary data dir and measures,
with an aiohttp load generator in this process (traffic to 127.0.0.1 only):

  overhead     warm sync execution latency through the API vs a direct HTTP call to an instance
               of the same adapter running the same built code (p50/p95/p99, ratio)
  throughput   sync executions/s at concurrency 1, 8, 64 (trivial python and node functions)
  async        async executions/s end to end (create -> completed), none lost
  cold start   deploy-ready to first response, every language whose toolchain is present
  memory       RSS of the idle server and of one warm instance per runtime
  scale        latency and memory with 1, 10, 100 functions; list latency with 10^3 and 10^5
               stored executions, and the query plans SQLite uses for those lists
  extras       bench/bench_docker.py, bench/bench_reload.py when they exist and expose `run()`

Prints a table and writes bench/results.json. Every section has a time budget; the whole run
stays within about 5 minutes on a 2-core machine (`--quick`: about 1 minute).
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import inspect
import io
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402

import peers  # noqa: E402  (bench/peers.py)

sys.path.insert(0, str(ROOT / "tests"))
from support import Server, archive_bytes  # noqa: E402  (the test suite's server and archives)

from emulator.executors.base import RuntimeSpec  # noqa: E402
from emulator.executors.local import LocalExecutor  # noqa: E402
from emulator.languages import LANGUAGES  # noqa: E402
from emulator.services.listing import list_documents  # noqa: E402
from emulator.store import Store  # noqa: E402

PROJECT = "bench"
HEADERS = {"x-appwrite-project": PROJECT, "x-appwrite-key": "bench"}
# A header the origin guard lets through that sends a create-execution request down aiohttp's
# path (emulator/connection.py answers only requests that need none of the middlewares).
VIA_AIOHTTP = {"Sec-Fetch-Site": "same-origin"}
# functions_scale's server stops instances idle this long (seconds): `serve --idle-timeout`.
SCALE_IDLE_TIMEOUT = 20

TRIVIAL = {
    "python": ("python-3.11", "main.py", {"main.py": "def main(context):\n    return context.res.text('ok')\n"}),
    "node": ("node-20.0", "index.js", {"index.js": "module.exports = async ({ res }) => res.text('ok');\n"}),
}


# -- measuring ----------------------------------------------------------------------------------

def pct(samples: list[float], p: float) -> float:
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def summary(latencies: list[float], elapsed: float, errors: int) -> dict:
    return {"n": len(latencies), "errors": errors, "seconds": round(elapsed, 3),
            "per_s": round(len(latencies) / elapsed, 1) if elapsed else 0.0,
            "p50_ms": round(pct(latencies, 50) * 1000, 3), "p95_ms": round(pct(latencies, 95) * 1000, 3),
            "p99_ms": round(pct(latencies, 99) * 1000, 3)}


async def load(call, concurrency: int, *, seconds: float | None = None, count: int | None = None) -> dict:
    """Run `call()` from `concurrency` workers for `seconds` or `count` calls; True means success."""
    latencies: list[float] = []
    errors = 0
    issued = 0
    started = time.perf_counter()
    stop_at = started + (seconds or 1e9)

    async def worker():
        nonlocal errors, issued
        while True:
            if count is not None:
                if issued >= count:
                    return
                issued += 1
            if time.perf_counter() >= stop_at:
                return
            t = time.perf_counter()
            try:
                ok = await call()
            except (aiohttp.ClientError, asyncio.TimeoutError, ValueError, KeyError):
                ok = False
            if ok:
                latencies.append(time.perf_counter() - t)
            else:
                errors += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return summary(latencies, time.perf_counter() - started, errors)


async def interleaved(calls: list, count: int, rounds: int = 20) -> list[dict]:
    """`count` sequential calls of each, alternating in rounds; a summary of each."""
    parts: list[list] = [[] for _ in calls]
    errors = [0] * len(calls)
    elapsed = [0.0] * len(calls)
    for _ in range(rounds):
        for i, call in enumerate(calls):
            started = time.perf_counter()
            for _ in range(max(1, count // rounds)):
                t = time.perf_counter()
                try:
                    ok = await call()
                except (aiohttp.ClientError, asyncio.TimeoutError, ValueError, KeyError):
                    ok = False
                if ok:
                    parts[i].append(time.perf_counter() - t)
                else:
                    errors[i] += 1
            elapsed[i] += time.perf_counter() - started
    return [summary(p, e, n) for p, e, n in zip(parts, elapsed, errors)]


def rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    """user + system CPU time of a process so far."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return 0.0


def children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                stat = fh.read()
        except OSError:
            continue
        if int(stat.rpartition(")")[2].split()[1]) == pid:
            out.append(int(entry))
    return out


def descendants(pid: int) -> list[int]:
    out = []
    for child in children(pid):
        out += [child, *descendants(child)]
    return out


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def loadavg() -> str:
    try:
        return " ".join(open("/proc/loadavg").read().split()[:3])
    except OSError:
        return ""


def machine() -> dict:
    cpu = ""
    try:
        cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "")
    except OSError:
        pass
    mem = 0
    try:
        mem = next(int(line.split()[1]) for line in open("/proc/meminfo") if line.startswith("MemTotal"))
    except (OSError, StopIteration):
        pass
    node = shutil.which("node")
    return {"nproc": os.cpu_count(), "cpu": cpu or platform.processor(), "ram_gb": round(mem / 1024 / 1024, 1),
            "python": platform.python_version(), "platform": platform.platform(),
            "node": subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip() if node else ""}


# -- the server and the API ---------------------------------------------------------------------

def archive(files: dict[str, str | bytes] | Path) -> bytes:
    """A tar.gz of `files` (name -> content), or of a folder's files (dependencies and caches left out)."""
    if not isinstance(files, Path):
        return archive_bytes(files)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for path in sorted(files.rglob("*")):
            if "node_modules" not in path.parts and "__pycache__" not in path.parts:
                tar.add(path, arcname=str(path.relative_to(files)), recursive=False)
    return buf.getvalue()


class Api:
    def __init__(self, session: aiohttp.ClientSession, endpoint: str):
        self.s, self.e = session, endpoint

    async def call(self, method: str, path: str, json_body=None, data=None, params=None) -> tuple[int, dict]:
        async with self.s.request(method, self.e + path, json=json_body, data=data, params=params,
                                  headers=HEADERS) as r:
            body = await r.read()
            return r.status, (json.loads(body) if body else {})

    async def ok(self, method: str, path: str, json_body=None, data=None, params=None) -> dict:
        status, doc = await self.call(method, path, json_body, data, params)
        if status >= 400:
            raise RuntimeError(f"{method} {path} -> {status}: {doc.get('message')}")
        return doc

    async def create_function(self, fid: str, runtime: str, entrypoint: str, timeout: int = 15) -> None:
        await self.ok("POST", "/functions", {"functionId": fid, "name": fid, "runtime": runtime,
                                             "entrypoint": entrypoint, "timeout": timeout})

    async def upload(self, fid: str, code: bytes, entrypoint: str) -> str:
        form = aiohttp.FormData()
        form.add_field("activate", "true")
        form.add_field("entrypoint", entrypoint)
        form.add_field("code", code, filename="code.tar.gz", content_type="application/gzip")
        return (await self.ok("POST", f"/functions/{fid}/deployments", data=form))["$id"]

    async def wait_ready(self, fid: str, did: str, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            dep = await self.ok("GET", f"/functions/{fid}/deployments/{did}")
            if dep["status"] in ("ready", "failed", "canceled"):
                if dep["status"] != "ready":
                    raise RuntimeError(f"build of {fid} {dep['status']}: {dep.get('buildLogs', '')[-1500:]}")
                # activation follows the status by a moment
                for _ in range(100):
                    if (await self.ok("GET", f"/functions/{fid}"))["deploymentId"] == did:
                        return dep
                    await asyncio.sleep(0.02)
                return dep
            if time.monotonic() > deadline:
                raise TimeoutError(f"build of {fid} not ready after {timeout:.0f}s")
            await asyncio.sleep(0.1)

    async def deploy(self, fid: str, runtime: str, entrypoint: str, code: bytes, timeout: float = 120) -> str:
        await self.create_function(fid, runtime, entrypoint)
        did = await self.upload(fid, code, entrypoint)
        await self.wait_ready(fid, did, timeout)
        return did

    async def execute(self, fid: str, body: str = "", headers: dict | None = None) -> dict:
        payload = {"body": body}
        if headers:
            payload["headers"] = headers
        return await self.ok("POST", f"/functions/{fid}/executions", payload)


# -- sections -----------------------------------------------------------------------------------

class Bench:
    def __init__(self, args):
        self.args = args
        self.quick = args.quick
        self.results: dict = {"machine": machine(), "sections": {}}
        self.tmp = Path(tempfile.mkdtemp(prefix="emulator-bench-"))
        self.server: Server | None = None
        self.deployed: dict[str, tuple[str, str]] = {}  # language -> (function id, deployment id)

    def section(self, name: str, value) -> None:
        self.results["sections"][name] = value

    def build_dir(self, fid: str, did: str) -> Path:
        return self.tmp / "data" / "projects" / PROJECT / "functions" / fid / "deployments" / did / "build"

    async def run(self) -> dict:
        server_args = ["--idle-timeout", "0"]  # sections reuse warm instances across minutes
        if self.args.pool_size:
            server_args += ["--pool-size", str(self.args.pool_size)]
        self.server = Server(self.tmp / "data", *server_args).start(timeout=60)
        await asyncio.sleep(1.0)
        self.section("idle_server", {"rss_mb": round(rss_kb(self.server.proc.pid) / 1024, 1)})
        connector = aiohttp.TCPConnector(limit=0, force_close=False)
        try:
            async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=120)) as s:
                self.api = Api(s, self.server.endpoint)
                self.session = s
                steps = [("overhead", self.overhead), ("peers", self.peers), ("throughput", self.throughput), ("async", self.async_e2e),
                         ("memory", self.memory), ("cold_start", self.cold_start),
                         ("functions_scale", self.functions_scale), ("executions_scale", self.executions_scale)]
                only = set(self.args.only.split(",")) if self.args.only else None
                for name, step in steps:
                    if only and name not in only:
                        continue
                    t = time.monotonic()
                    try:
                        await step()
                    except Exception as exc:  # one broken section must not lose the others
                        self.section(name, {"error": f"{type(exc).__name__}: {exc}"})
                    print(f"  [{name}: {time.monotonic() - t:.1f}s]", file=sys.stderr, flush=True)
                self.results["sections"]["server_after"] = {
                    "rss_mb": round(rss_kb(self.server.proc.pid) / 1024, 1)}
        finally:
            self.server.stop()
        if not self.args.only or "extras" in self.args.only:
            await self.extras()
        shutil.rmtree(self.tmp, ignore_errors=True)
        return self.results

    async def ensure_trivial(self, lang: str) -> tuple[str, str]:
        if lang not in self.deployed:
            runtime, entry, files = TRIVIAL[lang]
            fid = f"trivial-{lang}"
            did = await self.api.deploy(fid, runtime, entry, archive(files))
            for _ in range(20):  # warm: instance started, code imported, connections open
                await self.api.execute(fid)
            self.deployed[lang] = (fid, did)
        return self.deployed[lang]

    def available(self, lang: str) -> bool:
        return LANGUAGES[lang].toolchain().available

    async def api_call(self, fid: str, api: Api | None = None, headers: dict | None = None):
        endpoint = (api or self.api).e
        headers = {**HEADERS, **(headers or {})}

        async def call():
            async with self.session.post(f"{endpoint}/functions/{fid}/executions",
                                         json={"body": "x"}, headers=headers) as r:
                doc = await r.json()
                return r.status == 201 and doc["status"] == "completed" and doc["responseBody"] == "ok"
        return call

    @contextlib.asynccontextmanager
    async def direct_instance(self, lang: str):
        """A runtime of the trivial `lang` function started apart from the server, and a call that
        reaches it directly (no API): (instance, call)."""
        fid, did = await self.ensure_trivial(lang)
        runtime, entry, _ = TRIVIAL[lang]
        executor = LocalExecutor(self.tmp / f"direct-{lang}")
        try:
            spec = RuntimeSpec(f"direct-{lang}", runtime, "v5", entry, self.build_dir(fid, did),
                               self.build_dir(fid, did).parent / "output.tar.gz", {})
            inst = await executor.pool.acquire(spec)
            executor.pool.release(inst)
            url = f"http://127.0.0.1:{inst.port}/"
            headers = {"x-open-runtimes-secret": inst.secret, "x-open-runtimes-timeout": "15",
                       "x-open-runtimes-logging": "enabled", "content-type": "text/plain"}

            async def direct():
                async with self.session.post(url, data=b"x", headers=headers) as r:
                    return r.status == 200 and await r.read() == b"ok"

            yield inst, direct
        finally:
            await executor.close()

    @contextlib.asynccontextmanager
    async def proxy_floor(self, inst, processes: int | str = 1):
        """bench/proxy_floor.py in front of `inst` (`processes` of it on one socket, or "raw": no aiohttp),
        and a call through it."""
        floor = subprocess.Popen([sys.executable, str(ROOT / "bench" / "proxy_floor.py"), str(inst.port),
                                  inst.secret, str(inst.logs_dir), str(processes)],
                                 stdout=subprocess.PIPE, start_new_session=True)
        try:
            url = "http://127.0.0.1:{}/execute".format(floor.stdout.readline().decode().split()[-1])

            async def proxied():
                async with self.session.post(url, json={"body": "x"}) as r:
                    return r.status == 200 and (await r.json())["responseBody"] == "ok"

            yield proxied
        finally:
            os.killpg(floor.pid, 9)  # the forked ones too
            floor.wait()

    # (1) API overhead: the same request through the API, through a bare aiohttp proxy (the floor
    # for any aiohttp server in front of the runtime, bench/proxy_floor.py) and straight to an instance
    async def overhead(self) -> None:
        out = {}
        n = 300 if self.quick else 1500
        for lang in ("python", "node"):
            if not self.available(lang):
                out[lang] = {"skipped": LANGUAGES[lang].toolchain().hint}
                continue
            fid, _ = await self.ensure_trivial(lang)
            async with self.direct_instance(lang) as (inst, direct), self.proxy_floor(inst) as proxied:
                api = await self.api_call(fid)
                for call in (direct, proxied, api):
                    await load(call, 1, count=50)
                # Interleaved rounds: every path sees the same machine (other load comes and goes).
                d, f, a = await interleaved([direct, proxied, api], n)
            out[lang] = {"api": a, "floor": f, "direct": d,
                         "ratio_p50": round(a["p50_ms"] / d["p50_ms"], 2),
                         "ratio_p95": round(a["p95_ms"] / d["p95_ms"], 2),
                         "ratio_p99": round(a["p99_ms"] / d["p99_ms"], 2),
                         "floor_ratio_p50": round(f["p50_ms"] / d["p50_ms"], 2),
                         "overhead_p50_ms": round(a["p50_ms"] - d["p50_ms"], 3),
                         "floor_overhead_p50_ms": round(f["p50_ms"] - d["p50_ms"], 3),
                         "emulator_own_p50_ms": round(a["p50_ms"] - f["p50_ms"], 3)}
        self.section("overhead", out)

    # (1b) the bare-runner limit: Google's Functions Framework (bench/peers.py) on the same hello
    # function, against our adapter called directly and the API; p50 at c1, throughput at c8
    # and launch-to-first-answer, each interleaved in rounds with the emulator's.
    async def peers(self) -> None:
        out = {}
        n = 300 if self.quick else 1500
        rounds, seconds = (2, 1.0) if self.quick else (4, 2.0)
        for lang in ("python", "node"):
            if not self.available(lang):
                out[lang] = {"skipped": LANGUAGES[lang].toolchain().hint}
                continue
            try:
                folder = await asyncio.to_thread(peers.install, lang)
            except peers.PeerUnavailable as exc:
                out[lang] = {"skipped": str(exc)[:300]}
                continue
            fid, _ = await self.ensure_trivial(lang)
            api = await self.api_call(fid)
            # The same request through aiohttp's request objects and middlewares instead of its
            # connection's direct answer (emulator/connection.py): what that answer is worth.
            api_aiohttp = await self.api_call(fid, headers=VIA_AIOHTTP)
            peer = peers.PeerServer(lang, folder)
            try:
                await asyncio.to_thread(peer.wait_ready)

                async def framework():
                    async with self.session.post(peer.url, data=b"x") as r:
                        return r.status == 200 and await r.read() == b"ok"

                # The bare aiohttp proxy (no work at all) with one and with two processes: the ceiling
                # of any aiohttp server in front of the runtime, and what more processes would lift it to.
                # And the same proxy without aiohttp (an asyncio protocol): what a leaner HTTP layer could give.
                async with self.direct_instance(lang) as (inst, direct), self.proxy_floor(inst) as floor1, \
                        self.proxy_floor(inst, 2) as floor2, self.proxy_floor(inst, "raw") as raw:
                    calls = {"framework": framework, "adapter": direct, "floor": floor1, "floor2": floor2,
                             "raw": raw, "api_aiohttp": api_aiohttp, "api": api}
                    for call in calls.values():
                        await load(call, 1, count=50)
                    c1 = dict(zip(calls, await interleaved(list(calls.values()), n)))
                    c8 = {name: {"n": 0, "elapsed": 0.0} for name in calls}
                    # Who spends the CPU at c8, in the framework's runs and the API's: on a machine
                    # whose cores are all busy, that, not latency, sets the throughput.
                    parties = {"framework": {"framework": [peer.proc.pid, *descendants(peer.proc.pid)]},
                               "api": {"server": [self.server.proc.pid], "runtime": descendants(self.server.proc.pid)}}
                    cpu = {name: dict.fromkeys(["client", *groups], 0.0) for name, groups in parties.items()}
                    for _ in range(rounds):  # alternate c8 runs so each sees the same machine
                        for name, call in calls.items():
                            groups = parties.get(name, {})
                            before = {group: sum(map(cpu_seconds, pids)) for group, pids in groups.items()}
                            client_before = time.process_time()
                            result = await load(call, 8, seconds=seconds)
                            c8[name]["n"] += result["n"]
                            c8[name]["elapsed"] += result["seconds"]
                            if groups:
                                cpu[name]["client"] += time.process_time() - client_before
                                for group, pids in groups.items():
                                    cpu[name][group] += sum(map(cpu_seconds, pids)) - before[group]
            finally:
                peer.stop()
            per_s = {name: round(r["n"] / max(r["elapsed"], 1e-9), 1) for name, r in c8.items()}
            cpu_ms = {name: {group: round(spent * 1000 / max(c8[name]["n"], 1), 3) for group, spent in groups.items()}
                      for name, groups in cpu.items()}
            # The cores the framework's runs kept busy, shared at 0.75x its throughput: what is left
            # for the server once the load generator and the runtime of the API's runs have theirs.
            busy_cores = sum(cpu_ms["framework"].values()) * per_s["framework"] / 1000
            server_budget = busy_cores * 1000 / (0.75 * per_s["framework"]) - cpu_ms["api"]["client"] - cpu_ms["api"]["runtime"]
            # Interleaved in rounds, as the latencies are: a start takes 0.15-0.4 s, and a busy
            # neighbour for one of them would otherwise move one side's median only.
            starts, dev_starts = [], []
            for _ in range(1 if self.quick else 5):
                starts += await asyncio.to_thread(peers.start_time, lang, folder, 1)
                dev_starts += await asyncio.to_thread(peers.dev_start_time, lang, 1)
            out[lang] = {
                "p50_ms": {name: r["p50_ms"] for name, r in c1.items()},
                "c8_per_s": per_s,
                "framework_start_s": round(statistics.median(starts), 3),
                "dev_start_s": round(statistics.median(dev_starts), 3),
                "dev_vs_framework_start": round(statistics.median(dev_starts) / statistics.median(starts), 2),
                "adapter_vs_framework_p50": round(c1["adapter"]["p50_ms"] / c1["framework"]["p50_ms"], 2),
                "api_vs_framework_p50": round(c1["api"]["p50_ms"] / c1["framework"]["p50_ms"], 2),
                "adapter_vs_framework_c8": round(per_s["adapter"] / per_s["framework"], 2),
                "api_vs_framework_c8": round(per_s["api"] / per_s["framework"], 2),
                "api_aiohttp_vs_framework_p50": round(c1["api_aiohttp"]["p50_ms"] / c1["framework"]["p50_ms"], 2),
                "api_aiohttp_vs_framework_c8": round(per_s["api_aiohttp"] / per_s["framework"], 2),
                "floor_vs_framework_p50": round(c1["floor"]["p50_ms"] / c1["framework"]["p50_ms"], 2),
                "floor_vs_framework_c8": round(per_s["floor"] / per_s["framework"], 2),
                "floor2_vs_framework_c8": round(per_s["floor2"] / per_s["framework"], 2),
                "raw_vs_framework_p50": round(c1["raw"]["p50_ms"] / c1["framework"]["p50_ms"], 2),
                "raw_vs_framework_c8": round(per_s["raw"] / per_s["framework"], 2),
                "c8_cpu_ms_per_call": cpu_ms,
                "framework_busy_cores": round(busy_cores, 2),
                "server_cpu_ms_left_at_075": round(server_budget, 3),
            }
        self.section("peers", out)

    # (2) sync executions/s at concurrency 1, 8, 64
    async def throughput(self) -> None:
        out = {}
        seconds = 2.0 if self.quick else 5.0
        for lang in ("python", "node"):
            if not self.available(lang):
                out[lang] = {"skipped": LANGUAGES[lang].toolchain().hint}
                continue
            fid, _ = await self.ensure_trivial(lang)
            call = await self.api_call(fid)
            out[lang] = {}
            instances = children(self.server.proc.pid)
            for conc in (1, 8, 64):
                await load(call, conc, count=conc * 4)
                profiler = self.start_profiler() if (lang, conc) == ("python", 8) and self.args.profile else None
                server_cpu, inst_cpu = cpu_seconds(self.server.proc.pid), sum(map(cpu_seconds, instances))
                result = await load(call, conc, seconds=seconds)
                n = max(1, result["n"])
                # CPU per execution is what bounds throughput on an idle machine, whatever the noise.
                result["server_cpu_ms"] = round((cpu_seconds(self.server.proc.pid) - server_cpu) * 1000 / n, 3)
                result["instances_cpu_ms"] = round((sum(map(cpu_seconds, instances)) - inst_cpu) * 1000 / n, 3)
                out[lang][f"c{conc}"] = result
                if profiler:
                    self.section("profile", await self.finish_profiler(profiler))
        self.section("throughput", out)

    def start_profiler(self):
        """py-spy on the server while it runs python executions at concurrency 8 (`--profile`)."""
        spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        if not os.path.exists(spy):
            self.section("profile", {"skipped": "py-spy not installed (.venv/bin/pip install py-spy)"})
            return None
        out = self.tmp / "profile.raw"
        return out, subprocess.Popen([spy, "record", "-p", str(self.server.proc.pid), "-d", "4", "-r", "400",
                                      "-f", "raw", "-o", str(out), "--nonblocking"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    async def finish_profiler(self, profiler) -> dict:
        out, proc = profiler
        await asyncio.to_thread(proc.wait, 30)
        if not out.exists():
            return {"skipped": "py-spy could not attach (ptrace not permitted?)"}
        return summarise_profile(out.read_text())

    # (3) async executions end to end
    async def async_e2e(self) -> None:
        runtime, entry, files = TRIVIAL["python"]
        fid = "async-python"  # its own function: the counts below are this section's executions only
        await self.api.deploy(fid, runtime, entry, archive(files))
        await self.api.execute(fid)
        total = 200 if self.quick else 1000
        path = f"/functions/{fid}/executions"
        started = time.perf_counter()
        ids: list[str] = []

        async def create():
            status, doc = await self.api.call("POST", path, {"body": "x", "async": True})
            if status == 202:
                ids.append(doc["$id"])
            return status == 202

        created = await load(create, 16, count=total)
        created_at = time.perf_counter() - started

        async def count(status: str) -> int:
            q = json.dumps({"method": "equal", "attribute": "status", "values": [status]})
            doc = await self.api.ok("GET", path, params={"queries[0]": q,
                                                         "queries[1]": json.dumps({"method": "limit", "values": [1]})})
            return doc["total"]

        deadline = time.monotonic() + 120
        done = failed = 0
        while time.monotonic() < deadline:
            done, failed = await count("completed"), await count("failed")
            if done + failed >= len(ids):
                break
            await asyncio.sleep(0.05)
        elapsed = time.perf_counter() - started
        done -= 1  # the warm-up execution
        self.section("async", {"requested": total, "accepted": len(ids), "completed": done, "failed": failed,
                               "lost": len(ids) - done - failed, "create_per_s": created["per_s"],
                               "create_p50_ms": created["p50_ms"], "enqueue_seconds": round(created_at, 2),
                               "e2e_seconds": round(elapsed, 2), "e2e_per_s": round(done / elapsed, 1)})

    # (5) RSS per warm instance
    async def memory(self) -> None:
        out = {"server_mb": round(rss_kb(self.server.proc.pid) / 1024, 1), "instances": {}}
        for lang in ("python", "node"):
            if self.available(lang):
                await self.ensure_trivial(lang)
        for pid in children(self.server.proc.pid):
            cmd = cmdline(pid)
            cwd = os.readlink(f"/proc/{pid}/cwd") if os.path.exists(f"/proc/{pid}/cwd") else ""
            for lang in ("python", "node"):
                if lang in self.deployed and f"/functions/{self.deployed[lang][0]}/" in cwd + "/":
                    out["instances"].setdefault(lang, []).append(
                        {"pid": pid, "rss_mb": round(rss_kb(pid) / 1024, 1), "cmd": cmd[-80:]})
        self.section("memory", out)

    # (4) cold start: deploy-ready to first response, per language
    async def cold_start(self) -> None:
        out = {}
        budget_end = time.monotonic() + (60 if self.quick else self.args.cold_budget)
        langs = sorted(LANGUAGES.values(), key=lambda lang: (lang.compiled, lang.key))
        pending = {}
        for lang in langs:
            if lang.key == "python-ml":
                continue  # the same adapter and toolchain as python
            if not lang.toolchain().available:
                out[lang.key] = {"skipped": lang.toolchain().hint[:200]}
                continue
            entry = lang.test_entrypoints.get("context")
            source = lang.adapter_dir / "tests" / "context"
            if not entry or not source.is_dir():
                out[lang.key] = {"skipped": "no canonical test function"}
                continue
            runtime = f"{lang.key}-{lang.versions[-1]}"
            fid = f"cold-{lang.key}"
            try:
                await self.api.create_function(fid, runtime, entry)
                pending[lang.key] = (fid, await self.api.upload(fid, archive(source), entry), time.monotonic())
            except Exception as exc:  # noqa: BLE001
                out[lang.key] = {"error": str(exc)[:300]}
        samples = 1 if self.quick else 3
        for key, (fid, did, uploaded) in pending.items():
            remaining = budget_end - time.monotonic()
            if remaining <= 5:
                out[key] = {"skipped": "over the cold-start time budget (build still running)"}
                continue
            try:
                dep = await self.api.wait_ready(fid, did, remaining)
            except Exception as exc:  # noqa: BLE001
                out[key] = {"error": str(exc)[:300]}
                continue
            firsts = []
            for i in range(samples):
                if i:  # a changed variable changes the instance's environment: the next call starts a new one
                    await self.api.ok("POST", f"/functions/{fid}/variables",
                                      {"variableId": "unique()", "key": f"COLD_{i}", "value": str(i)})
                t = time.perf_counter()
                ex = await self.api.execute(fid, headers={"x-action": "plaintextResponse"})
                firsts.append(time.perf_counter() - t)
                if ex["status"] != "completed":
                    out[key] = {"error": f"first execution {ex['status']}: {ex['errors'][:300]}"}
                    break
            else:
                t = time.perf_counter()
                await self.api.execute(fid, headers={"x-action": "plaintextResponse"})
                warm = time.perf_counter() - t
                out[key] = {"runtime": dep.get("$id") and fid.replace("cold-", ""), "build_s": dep.get("buildDuration"),
                            "cold_ms": round(statistics.median(firsts) * 1000, 1),
                            "cold_samples_ms": [round(x * 1000, 1) for x in firsts], "warm_ms": round(warm * 1000, 2)}
            # free the instance's memory for the sections after this one
            await self.api.call("DELETE", f"/functions/{fid}")
        self.section("cold_start", out)

    # (6a) latency and memory with 1, 10, 100 functions, then after the idle timeout stopped them
    async def functions_scale(self) -> None:
        if not self.available("python"):
            self.section("functions_scale", {"skipped": LANGUAGES["python"].toolchain().hint})
            return
        runtime, entry, files = TRIVIAL["python"]
        code = archive(files)
        sizes = (1, 10) if self.quick else (1, 10, 100)
        # A server of its own, whose idle timeout is long enough for the measurements and short
        # enough to wait for: what `serve --idle-timeout` gives back is part of the result.
        server = Server(self.tmp / "scale-data", "--idle-timeout", str(SCALE_IDLE_TIMEOUT)).start(timeout=60)
        api = Api(self.session, server.endpoint)

        def instances() -> list[int]:
            return [p for p in children(server.proc.pid)
                    if "/functions/scale-" in (os.readlink(f"/proc/{p}/cwd") if os.path.exists(f"/proc/{p}/cwd") else "")]

        made: list[str] = []
        out = {}
        deadline = time.monotonic() + (40 if self.quick else 120)
        try:
            for size in sizes:
                new = [f"scale-{i}" for i in range(len(made), size)]
                for fid in new:
                    await api.create_function(fid, runtime, entry)
                dids = await asyncio.gather(*(api.upload(fid, code, entry) for fid in new))
                for fid, did in zip(new, dids):
                    await api.wait_ready(fid, did, max(5, deadline - time.monotonic()))
                made += new
                for fid in made:  # warm every instance
                    await api.execute(fid)
                index = 0

                async def call():
                    nonlocal index
                    fid = made[index % len(made)]
                    index += 1
                    return await (await self.api_call(fid, api))()

                result = await load(call, 1, count=max(200, len(made) * 2))
                mine = instances()
                out[str(size)] = {"latency": result, "server_rss_mb": round(rss_kb(server.proc.pid) / 1024, 1),
                                  "instances": len(mine),
                                  "instances_rss_mb": round(sum(rss_kb(p) for p in mine) / 1024, 1)}
                if time.monotonic() > deadline:
                    break
            idle_from = time.monotonic()
            while instances() and time.monotonic() - idle_from < SCALE_IDLE_TIMEOUT * 3:
                await asyncio.sleep(0.5)
            mine = instances()
            out["after_idle"] = {"idle_timeout_s": SCALE_IDLE_TIMEOUT, "waited_s": round(time.monotonic() - idle_from, 1),
                                 "server_rss_mb": round(rss_kb(server.proc.pid) / 1024, 1), "instances": len(mine),
                                 "instances_rss_mb": round(sum(rss_kb(p) for p in mine) / 1024, 1)}
        finally:
            server.stop()
        self.section("functions_scale", out)

    # (6b) list latency with 10^3 and 10^5 stored executions
    async def executions_scale(self) -> None:
        fid = "stored"
        await self.api.create_function(fid, "python-3.11", "main.py")
        store = Store(self.tmp / "data" / "emulator.db")
        out = {}
        inserted = 0
        path = f"/functions/{fid}/executions"
        sizes = (1000, 100_000) if not self.quick else (1000, 20_000)
        probe_id = ""
        for size in sizes:
            t = time.perf_counter()
            store.db.execute("BEGIN")
            base = time.time() - 86400
            for i in range(inserted, size):
                created = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(base + i * 0.5)) + f".{i % 1000:03d}+00:00"
                doc = {"$id": f"e{i:09d}", "$createdAt": created, "$updatedAt": created, "$permissions": [],
                       "resourceId": fid, "resourceType": "functions", "deploymentId": "d1",
                       "trigger": ("http", "schedule", "event")[i % 3],
                       "status": "failed" if i % 10 == 0 else "completed", "requestMethod": "POST",
                       "requestPath": "/", "requestHeaders": [], "responseStatusCode": 200, "responseBody": "",
                       "responseHeaders": [], "logs": "log line " * 5, "errors": "", "duration": 0.01,
                       "scheduledAt": None}
                store.insert("executions", PROJECT, fid, doc)
            store.db.execute("COMMIT")
            insert_s = time.perf_counter() - t
            inserted = size
            probe_id = f"e{size // 2:09d}"
            cases = {
                "default": {},
                "status_failed": {"queries[0]": json.dumps({"method": "equal", "attribute": "status",
                                                             "values": ["failed"]})},
                "order_createdAt_desc": {"queries[0]": json.dumps({"method": "orderDesc", "attribute": "$createdAt"})},
                "cursor_after": {"queries[0]": json.dumps({"method": "cursorAfter", "values": [probe_id]})},
                "trigger_and_order": {
                    "queries[0]": json.dumps({"method": "equal", "attribute": "trigger", "values": ["schedule"]}),
                    "queries[1]": json.dumps({"method": "orderDesc", "attribute": "$createdAt"})},
                # `search` is a LIKE over several attributes: no index can serve it (a full scan).
                "search": {"search": "e00000050"},
                "get_one": None,
            }
            row = {"insert_s": round(insert_s, 2)}
            for name, params in cases.items():
                if params is None:
                    async def call():
                        status, _ = await self.api.call("GET", f"{path}/{probe_id}")
                        return status == 200
                else:
                    async def call(params=params):
                        status, doc = await self.api.call("GET", path, params=params)
                        return status == 200 and len(doc["executions"]) > 0
                row[name] = await load(call, 1, count=20 if self.quick else 60)
            row["server_rss_mb"] = round(rss_kb(self.server.proc.pid) / 1024, 1)
            if size == sizes[-1] and self.available("python"):
                row["executions_beside_searches"] = await self.beside_searches(path)
            out[str(size)] = row
        out["query_plans"] = self.query_plans(store, fid)
        store.close()
        self.section("executions_scale", out)

    async def beside_searches(self, path: str) -> dict:
        """Sync executions of another function while full-scan searches run: they must not wait."""
        fid, _ = await self.ensure_trivial("python")
        call = await self.api_call(fid)
        alone = await load(call, 1, seconds=1.5)
        stop = asyncio.Event()
        searches = 0

        async def search_loop():
            nonlocal searches
            while not stop.is_set():
                await self.api.call("GET", path, params={"search": "e0000005"})
                searches += 1

        searcher = asyncio.ensure_future(search_loop())
        try:
            beside = await load(call, 1, seconds=3.0)
        finally:
            stop.set()
            await searcher
        return {"alone": alone, "beside_searches": beside, "searches": searches}

    def query_plans(self, store: Store, fid: str) -> dict:
        """The SQL the list endpoint runs for each case, and SQLite's plan for it."""
        statements: list[str] = []
        store.db.set_trace_callback(statements.append)
        cases = {
            "default": {},
            "status_failed": {"queries": [{"method": "equal", "attribute": "status", "values": ["failed"]}]},
            "order_createdAt_desc": {"queries": [{"method": "orderDesc", "attribute": "$createdAt"}]},
            "cursor_after": {"queries": [{"method": "cursorAfter", "values": ["e000000500"]}]},
        }
        plans = {}
        for name, params in cases.items():
            statements.clear()
            list_documents(store, "executions", PROJECT, fid, params)
            plans[name] = []
            for sql in [s for s in statements if s.lstrip().upper().startswith("SELECT")]:
                rows = store.db.execute("EXPLAIN QUERY PLAN " + sql).fetchall()
                plans[name].append({"sql": sql[:300], "plan": [r[-1] for r in rows]})
        store.db.set_trace_callback(None)
        return plans

    # (7) other engineers' benchmarks, when present
    async def extras(self) -> None:
        for module_name in ("bench_docker", "bench_reload"):
            if not (ROOT / "bench" / f"{module_name}.py").exists():
                continue
            try:
                sys.path.insert(0, str(ROOT / "bench"))
                module = importlib.import_module(module_name)
                fn = next((getattr(module, n) for n in ("run", "bench", "benchmark")
                           if callable(getattr(module, n, None))), None)
                if fn is None:
                    self.section(module_name, {"skipped": "module exposes no run()/bench() function"})
                    continue
                wanted = {"budget": 45 if self.quick else 90, "edits": 5, "dep_edits": 2, "requests": 100}
                kwargs = {k: v for k, v in wanted.items() if k in inspect.signature(fn).parameters}
                if inspect.iscoroutinefunction(fn):
                    result = await fn(**kwargs)
                else:  # a sync function may run its own event loop: give it a thread
                    result = await asyncio.to_thread(fn, **kwargs)
                self.section(module_name, result)
            except Exception as exc:  # noqa: BLE001 (others' benchmarks must not break this one)
                self.section(module_name, {"skipped": f"{type(exc).__name__}: {exc}"[:300]})


def summarise_profile(raw: str, top: int = 30) -> dict:
    """py-spy's collapsed stacks -> the share of samples each function is on the stack (inclusive)
    and at the top of it (self), by function and file."""
    inclusive: dict[str, int] = {}
    own: dict[str, int] = {}
    total = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = []
        for frame in stack.split(";"):
            name, _, where = frame.partition(" (")
            frames.append(f"{name} ({where.split(':')[0].rsplit('/', 1)[-1]})" if where else name)
        for name in set(frames):
            inclusive[name] = inclusive.get(name, 0) + n
        if frames:
            own[frames[-1]] = own.get(frames[-1], 0) + n
    # Frames every sample shares (interpreter start, click, the event loop itself) say nothing.
    generic = ("runpy", "(core.py)", "(__main__.py)", "(cli.py)", "(runners.py)", "(base_events.py)", "(events.py)")
    share = lambda d: [(k, round(100 * v / total, 1)) for k, v in sorted(d.items(), key=lambda kv: -kv[1])
                       if not any(g in k for g in generic)][:top]
    return {"samples": total, "inclusive_pct": share(inclusive), "self_pct": share(own)}


# -- output -------------------------------------------------------------------------------------

def table(results: dict) -> str:
    s = results["sections"]
    m = results["machine"]
    lines = [f"machine: {m['nproc']} cores, {m['cpu']}, {m['ram_gb']} GB RAM, Python {m['python']}, node {m['node']}; "
             f"load average {m.get('loadavg_before', '?')} before, {m.get('loadavg_after', '?')} after", ""]

    def row(*cells, widths=(40, 9, 9, 9, 9, 11)):
        return "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    lines.append(row("measure", "p50 ms", "p95 ms", "p99 ms", "per s", "cpu ms/op"))
    lines.append("-" * 96)
    for lang, r in (s.get("overhead") or {}).items():
        if isinstance(r, dict) and "api" in r:
            lines.append(row(f"{lang} sync, direct to runtime", r["direct"]["p50_ms"], r["direct"]["p95_ms"],
                             r["direct"]["p99_ms"], r["direct"]["per_s"]))
            if "floor" in r:
                lines.append(row(f"{lang} sync, bare aiohttp proxy (floor)", r["floor"]["p50_ms"],
                                 r["floor"]["p95_ms"], r["floor"]["p99_ms"], r["floor"]["per_s"]))
            lines.append(row(f"{lang} sync, through the API", r["api"]["p50_ms"], r["api"]["p95_ms"],
                             r["api"]["p99_ms"], r["api"]["per_s"]))
            lines.append(row(f"{lang} API / direct (ratio)", f"{r['ratio_p50']}x", f"{r['ratio_p95']}x",
                             f"{r['ratio_p99']}x", ""))
            if "floor" in r:
                lines.append(row(f"{lang} floor / direct (ratio)", f"{r['floor_ratio_p50']}x", "", "", ""))
    pe = s.get("peers") or {}
    if pe:
        lines.append("")
        lines.append(row("vs Functions Framework (bare runner)", "p50 ms", "c8 per s", "p50 ratio", "c8 ratio",
                         "start s"))
        for lang, r in pe.items():
            if "p50_ms" not in r:
                lines.append(f"  {lang:<32}  {(r.get('skipped') or r.get('error') or '')[:80]}")
                continue
            lines.append(row(f"  {lang} Functions Framework", r["p50_ms"]["framework"], r["c8_per_s"]["framework"],
                             "1.0x", "1.0x", r["framework_start_s"]))
            lines.append(row(f"  {lang} our adapter, direct", r["p50_ms"]["adapter"], r["c8_per_s"]["adapter"],
                             f"{r['adapter_vs_framework_p50']}x", f"{r['adapter_vs_framework_c8']}x", ""))
            if "floor" in r["p50_ms"]:
                lines.append(row(f"  {lang} bare aiohttp proxy", r["p50_ms"]["floor"], r["c8_per_s"]["floor"],
                                 f"{r['floor_vs_framework_p50']}x", f"{r['floor_vs_framework_c8']}x", ""))
                lines.append(row(f"  {lang} bare proxy, 2 processes", r["p50_ms"]["floor2"], r["c8_per_s"]["floor2"],
                                 "", f"{r['floor2_vs_framework_c8']}x", ""))
            if "raw" in r["p50_ms"]:
                lines.append(row(f"  {lang} bare proxy, no aiohttp", r["p50_ms"]["raw"], r["c8_per_s"]["raw"],
                                 f"{r['raw_vs_framework_p50']}x", f"{r['raw_vs_framework_c8']}x", ""))
            if "api_aiohttp" in r["p50_ms"]:
                lines.append(row(f"  {lang} API, aiohttp's path", r["p50_ms"]["api_aiohttp"],
                                 r["c8_per_s"]["api_aiohttp"], f"{r['api_aiohttp_vs_framework_p50']}x",
                                 f"{r['api_aiohttp_vs_framework_c8']}x", ""))
            lines.append(row(f"  {lang} through the API", r["p50_ms"]["api"], r["c8_per_s"]["api"],
                             f"{r['api_vs_framework_p50']}x", f"{r['api_vs_framework_c8']}x",
                             f"dev {r['dev_start_s']} ({r['dev_vs_framework_start']}x)"))
            if "c8_cpu_ms_per_call" in r:
                fw, api = r["c8_cpu_ms_per_call"]["framework"], r["c8_cpu_ms_per_call"]["api"]
                lines.append(f"    c8 CPU ms per call: framework's runs client {fw['client']} + framework "
                             f"{fw['framework']} ({r['framework_busy_cores']} cores busy); API's runs client "
                             f"{api['client']} + server {api['server']} + runtime {api['runtime']}; "
                             f"0.75x would leave the server {r['server_cpu_ms_left_at_075']}")
        lines.append("")
    for lang, r in (s.get("throughput") or {}).items():
        for conc, t in (r or {}).items():
            if isinstance(t, dict) and "per_s" in t:
                lines.append(row(f"{lang} sync executions, concurrency {conc[1:]}", t["p50_ms"], t["p95_ms"],
                                 t["p99_ms"], t["per_s"], f"{t.get('server_cpu_ms', '')}+{t.get('instances_cpu_ms', '')}"))
    a = s.get("async") or {}
    if "e2e_per_s" in a:
        lines.append(row("async create (202), then -> completed", a["create_p50_ms"], "", "", a["e2e_per_s"]))
        lines.append(f"  async: {a['accepted']} accepted, {a['completed']} completed, {a['failed']} failed, "
                     f"{a['lost']} lost, {a['e2e_seconds']} s from the first create to the last completion")
    lines.append("")
    lines.append(row("cold start (deploy-ready -> 1st reply)", "cold ms", "warm ms", "build s", ""))
    for key, r in (s.get("cold_start") or {}).items():
        if "cold_ms" in r:
            lines.append(row(f"  {key}", r["cold_ms"], r["warm_ms"], r["build_s"], ""))
        else:
            lines.append(f"  {key:<32}  {(r.get('skipped') or r.get('error') or '')[:80]}")
    lines.append("")
    mem = s.get("memory") or {}
    lines.append(f"RSS: idle server {s.get('idle_server', {}).get('rss_mb')} MB; server after warm-up "
                 f"{mem.get('server_mb')} MB; after the whole run {s.get('server_after', {}).get('rss_mb')} MB")
    for lang, insts in (mem.get("instances") or {}).items():
        lines.append(f"  warm {lang} instance: " + ", ".join(f"{i['rss_mb']} MB" for i in insts))
    lines.append("")
    fs = s.get("functions_scale") or {}
    if fs and "error" not in fs and "skipped" not in fs:
        lines.append(row("functions (warm, round robin)", "p50 ms", "p99 ms", "server MB", "instances MB"))
        for size, r in fs.items():
            if size == "after_idle":
                lines.append(row(f"  after {r['idle_timeout_s']}s idle ({r['instances']} left)", "", "",
                                 r["server_rss_mb"], r["instances_rss_mb"]))
            else:
                lines.append(row(f"  {size}", r["latency"]["p50_ms"], r["latency"]["p99_ms"], r["server_rss_mb"],
                                 r["instances_rss_mb"]))
    elif fs:
        lines.append(f"functions_scale: {fs}")
    es = s.get("executions_scale") or {}
    if es and "error" not in es:
        sizes = [k for k in es if k.isdigit()]
        lines.append("")
        lines.append(row("list executions, p50 ms", *[f"{int(k):,} rows" for k in sizes]))
        for case in ("default", "status_failed", "order_createdAt_desc", "trigger_and_order", "cursor_after",
                     "search", "get_one"):
            lines.append(row(f"  {case}", *[es[k][case]["p50_ms"] for k in sizes]))
        lines.append(row("  server RSS MB", *[es[k]["server_rss_mb"] for k in sizes]))
        beside = es[sizes[-1]].get("executions_beside_searches")
        if beside:
            lines.append(f"  python sync execution p50/p99 while searches scan {int(sizes[-1]):,} rows: "
                         f"{beside['beside_searches']['p50_ms']}/{beside['beside_searches']['p99_ms']} ms "
                         f"(alone {beside['alone']['p50_ms']}/{beside['alone']['p99_ms']} ms, "
                         f"{beside['searches']} searches meanwhile)")
        for case, stmts in (es.get("query_plans") or {}).items():
            for st in stmts:
                lines.append(f"  plan {case}: " + " | ".join(st["plan"]))
    elif es:
        lines.append(f"executions_scale: {es}")
    prof = s.get("profile") or {}
    if prof.get("inclusive_pct"):
        lines.append("")
        lines.append(f"where the server's time goes (py-spy, python c8, {prof['samples']} samples; "
                     "% of samples on the stack):")
        for name, pct in prof["inclusive_pct"][:24]:
            lines.append(f"  {pct:5.1f}%  {name}")
    for extra in ("bench_docker", "bench_reload"):
        if extra in s:
            lines.append(f"{extra}: {json.dumps(s[extra])[:300]}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller counts (about a minute)")
    parser.add_argument("--only", default="", help="comma-separated sections (overhead,peers,throughput,async,memory,"
                                                    "cold_start,functions_scale,executions_scale,extras)")
    parser.add_argument("--pool-size", type=int, default=0, help="pass --pool-size to the server")
    parser.add_argument("--profile", action="store_true", help="py-spy the server during python c8 throughput")
    parser.add_argument("--cold-budget", type=float, default=100, help="seconds for all cold-start builds")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results.json"))
    args = parser.parse_args()
    started = time.monotonic()
    load_before = loadavg()
    results = asyncio.run(Bench(args).run())
    results["total_seconds"] = round(time.monotonic() - started, 1)
    # Other work on the machine moves every latency; the load average says how much there was.
    results["machine"]["loadavg_before"], results["machine"]["loadavg_after"] = load_before, loadavg()
    print(table(results))
    print(f"\ntotal {results['total_seconds']}s; results in {args.out}")
    Path(args.out).write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
