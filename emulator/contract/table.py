"""The contract run as a table: rows are checks, columns are runtimes."""
from __future__ import annotations

from .results import CheckResult


def format_table(results: dict[str, list[CheckResult]]) -> str:
    """Rows are checks, columns are runtimes: ✓ passed, ✗ failed, skip."""
    runtimes = list(results)
    names: list[str] = []
    for rs in results.values():
        for r in rs:
            if r.name not in names:
                names.append(r.name)
    cell = {(rt, r.name): ("skip" if r.skipped else "✓" if r.passed else "✗") for rt, rs in results.items() for r in rs}
    width = max([len("check")] + [len(n) for n in names])
    cols = [max(len(rt), 4) for rt in runtimes]
    lines = ["check".ljust(width) + "  " + "  ".join(rt.ljust(w) for rt, w in zip(runtimes, cols))]
    for name in names:
        lines.append(name.ljust(width) + "  " + "  ".join(cell.get((rt, name), "").ljust(w) for rt, w in zip(runtimes, cols)))
    for rt in runtimes:
        rs = results[rt]
        passed = sum(r.passed for r in rs)
        failed = sum(not r.passed and not r.skipped for r in rs)
        skipped = sum(r.skipped for r in rs)
        lines.append(f"{rt}: {passed} passed, {failed} failed, {skipped} skipped")
    return "\n".join(lines)
