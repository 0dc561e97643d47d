"""Warm execution latency: docker executor vs local executor, same Python function.

    .venv/bin/python bench/bench_docker.py [--requests 200] [--budget 180]

Builds the canonical Python test function with both executors, warms one instance each, then
sends N sequential executions (`plaintextResponse`, logging on, as the emulator does) and prints
p50/p95/mean. Needs a Docker engine and the test images (`.ci/docker-setup.sh`). Bounded: the
whole run stops after --budget seconds and reports what it measured.
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "docker"))

from emulator.executors.base import BuildJob, ExecutionRequest, RuntimeSpec  # noqa: E402
from emulator.executors.docker import DockerExecutor  # noqa: E402
from emulator.executors.local import LocalExecutor  # noqa: E402

RUNTIME, ENTRY = "python-3.11", "tests.py"


async def prepare(executor, tmp: Path, name: str) -> RuntimeSpec:
    ddir = tmp / name
    ddir.mkdir()
    source = ddir / "source.tar.gz"
    with tarfile.open(source, "w:gz") as tar:
        for item in sorted((ROOT / "runtimes" / "python" / "tests" / "context").iterdir()):
            tar.add(item, item.name)
    job = BuildJob(name, RUNTIME, "v5", source, ddir / "build", ddir / "output.tar.gz", ENTRY, "", {})
    await executor.build(job, lambda text: None)
    return RuntimeSpec(name, RUNTIME, "v5", ENTRY, job.build_dir, job.output_archive, {})


async def measure(executor, spec: RuntimeSpec, n: int, deadline: float) -> tuple[float, list[float]]:
    request = ExecutionRequest("POST", "/", {"x-action": "plaintextResponse"}, b"", 15)
    started = time.monotonic()
    r = await executor.execute(spec, request)  # cold start
    cold = time.monotonic() - started
    assert r.status_code == 200, r
    for _ in range(5):
        await executor.execute(spec, request)
    samples = []
    for _ in range(n):
        if time.monotonic() > deadline:
            break
        t = time.perf_counter()
        r = await executor.execute(spec, request)
        samples.append(time.perf_counter() - t)
        assert r.status_code == 200, r
    return cold, samples


def pct(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


async def run(requests: int = 200, budget: float = 180, image_prefix: str | None = None) -> dict:
    """Warm latency of the same function through both executors; returns {executor: figures}."""
    deadline = time.monotonic() + budget
    import docker_engine
    import docker_images
    prefix = image_prefix or docker_images.TEST_PREFIX
    docker_engine.ensure_engine(probe=docker_images.port_probe)
    if image_prefix is None:
        docker_images.ensure_test_images(["python"])

    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-docker-") as tmpdir:
        tmp = Path(tmpdir)
        for label, make in (("local", lambda: LocalExecutor(tmp / "run-local")),
                            ("docker", lambda: DockerExecutor(tmp / "run-docker", image_prefix=prefix))):
            executor = make()
            try:
                t = time.monotonic()
                spec = await asyncio.wait_for(prepare(executor, tmp, f"bench-{label}"), max(1, deadline - time.monotonic()))
                build = time.monotonic() - t
                cold, samples = await asyncio.wait_for(measure(executor, spec, requests, deadline),
                                                       max(1, deadline - time.monotonic() + 30))
            finally:
                await executor.close()
            if samples:
                rows.append((label, len(samples), build, cold, pct(samples, 50), pct(samples, 95),
                             statistics.mean(samples)))

    return {label: {"requests": n, "build_s": round(build, 2), "cold_s": round(cold, 2),
                    "p50_ms": round(p50 * 1000, 2), "p95_ms": round(p95 * 1000, 2), "mean_ms": round(mean * 1000, 2)}
            for label, n, build, cold, p50, p95, mean in rows}


async def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--budget", type=float, default=180, help="seconds for the whole run")
    parser.add_argument("--image-prefix", default=None, help="default: the local test images")
    args = parser.parse_args()
    results = await run(args.requests, args.budget, args.image_prefix)
    print(f"\nwarm execution latency, {RUNTIME} plaintextResponse, sequential")
    print(f"{'executor':<9} {'n':>5} {'build s':>8} {'cold s':>7} {'p50 ms':>7} {'p95 ms':>7} {'mean ms':>8}")
    for label, r in results.items():
        print(f"{label:<9} {r['requests']:>5} {r['build_s']:>8.2f} {r['cold_s']:>7.2f} {r['p50_ms']:>7.2f} "
              f"{r['p95_ms']:>7.2f} {r['mean_ms']:>8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
