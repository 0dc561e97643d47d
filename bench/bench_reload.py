"""Hot reload latency of `python -m emulator dev`: from saving a file to the first response of the new code.

    .venv/bin/python bench/bench_reload.py [--edits 20] [--dep-edits 20] [--budget 600]

One dev session serves a Python and a Node function. For each runtime:
- source edits: rewrite the handler with a new answer, then execute the function (HTTP, like a
  developer's client hitting refresh) until the answer changes. Hot swap path.
- dependency edits: change requirements.txt / package.json (a local package, so no network) and
  the handler together. Full build path (pip / npm run).
Edits are 1 s apart. Reports the median, p90, min and max per case; `run()` returns them as a dict. Target
(issue 15): source edits of Python and Node at most 100 ms median. Bounded by --budget seconds.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import urllib.error
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "dev"))

from devproc import DevProcess, edit, make_wheel, write, write_config, write_function  # noqa: E402

PROJECT = "bench"
PAUSE = 1.0  # seconds between edits
HANDLERS = {
    "python": ("main.py", "def main(context):\n    return context.res.text('{tag}')\n"),
    "node": ("index.js", "module.exports = async (context) => context.res.text('{tag}');\n"),
}


def _dependency_files(folder: Path, lang: str, n: int) -> tuple[str, str]:
    """(file name, content) of a dependency change number n: a local package, no network needed."""
    if lang == "python":
        return "requirements.txt", f"./wheels/mydep-0.1-py3-none-any.whl  # edit {n}\n"
    return "package.json", json.dumps({"name": "fn-node", "version": f"1.0.{n}", "private": True,
                                       "dependencies": {"mydep": "file:./mydep"}})


def _setup(root: Path) -> None:
    functions = []
    for lang in HANDLERS:
        fid = f"fn-{lang}"
        functions.append(write_function(root, fid, lang, "start"))
        folder = root / "functions" / fid
        if lang == "python":
            make_wheel(folder / "wheels", "mydep", "0.1", "VALUE = '1'\n")
        else:
            write(folder / "mydep/package.json", json.dumps({"name": "mydep", "version": "1.0.0"}))
            write(folder / "mydep/index.js", "module.exports = { VALUE: '1' };\n")
    write_config(root, PROJECT, functions)


def _measure(dev: DevProcess, folder: Path, fid: str, lang: str, n: int, dependency: bool, timeout: float) -> float:
    entry, template = HANDLERS[lang]
    tag = f"{'dep' if dependency else 'src'}-{n}"
    before = dev.call("GET", f"/functions/{fid}", PROJECT).get("deploymentId")
    mark = dev.mark()
    started = time.perf_counter()
    if dependency:
        name, content = _dependency_files(folder, lang, n)
        (folder / name).write_text(content)
    edit(folder / entry, template.format(tag=tag))
    # Poll the (cheap) function document for the switch, then execute: the first response of the
    # new code is what a developer's next request gets. Polling executions instead would load the
    # dev server with ~100 executions/s and slow down what is measured.
    while True:
        if dev.call("GET", f"/functions/{fid}", PROJECT).get("deploymentId") != before:
            try:
                if dev.execute(fid, PROJECT).get("responseBody") == tag:
                    elapsed = time.perf_counter() - started
                    break
            except urllib.error.HTTPError:
                pass  # an instance being replaced; try again
        if time.perf_counter() - started > timeout:
            raise RuntimeError(f"{fid}: new code not served after {timeout}s:\n{dev.output(mark)}")
        time.sleep(0.005)
    # Edits 1 s apart, as a developer saves, reads the answer and saves again.
    dev.wait_for(rf"{fid}\s+deployed", since=mark, timeout=timeout)
    time.sleep(PAUSE)
    return elapsed * 1000


def _stats(samples: list[float]) -> dict:
    ordered = sorted(samples)
    return {"n": len(samples), "median_ms": round(statistics.median(samples), 1),
            "p90_ms": round(ordered[max(0, int(len(ordered) * 0.9) - 1)], 1),
            "min_ms": round(ordered[0], 1), "max_ms": round(ordered[-1], 1)} if samples else {"n": 0}


def run(edits: int = 20, dep_edits: int = 20, budget: float = 600) -> dict:
    deadline = time.monotonic() + budget
    results: dict = {}
    with tempfile.TemporaryDirectory(prefix="bench-reload-") as tmp:
        root = Path(tmp) / "project"
        _setup(root)
        dev = DevProcess(root, Path(tmp) / "data").start(timeout=240)
        try:
            for lang in HANDLERS:
                fid = f"fn-{lang}"
                folder = root / "functions" / fid
                for case, count, dependency in (("source", edits, False), ("dependency", dep_edits, True)):
                    samples = []
                    for n in range(count):
                        if time.monotonic() > deadline:
                            break
                        samples.append(_measure(dev, folder, fid, lang, n, dependency, timeout=120))
                    results.setdefault(lang, {})[case] = _stats(samples)
        finally:
            dev.stop()
    return {"reload": results}


def print_table(results: dict) -> None:
    print(f"{'runtime':<8} {'change':<11} {'edits':>5} {'median':>9} {'p90':>9} {'min':>9} {'max':>9}")
    for lang, cases in results["reload"].items():
        for case, s in cases.items():
            if not s.get("n"):
                print(f"{lang:<8} {case:<11} {0:>5}  (no samples: budget exhausted)")
                continue
            print(f"{lang:<8} {case:<11} {s['n']:>5} {s['median_ms']:>7.0f}ms {s['p90_ms']:>7.0f}ms "
                  f"{s['min_ms']:>7.0f}ms {s['max_ms']:>7.0f}ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=20)
    parser.add_argument("--dep-edits", type=int, default=20)
    parser.add_argument("--budget", type=float, default=600, help="seconds for the whole run")
    parser.add_argument("--json", action="store_true", help="print the result dict as JSON too")
    args = parser.parse_args()
    results = run(args.edits, args.dep_edits, args.budget)
    print_table(results)
    if args.json:
        print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
