"""Timestamps and ids (emulator/ids.py): `now_iso` formats the date and time of day once per
second and must still give the exact UTC time at every call, across second boundaries."""
from __future__ import annotations

from datetime import datetime, timezone

from emulator import ids


def expected(t: float) -> str:
    dt = datetime.fromtimestamp(t, timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(t % 1 * 1000):03d}+00:00"


def test_now_iso_is_exact_across_second_boundaries(monkeypatch):
    times = [1_700_000_000.998, 1_700_000_000.999, 1_700_000_001.0, 1_700_000_001.5,
             1_699_999_999.25,  # a clock stepped back
             1_700_000_059.999, 1_700_000_060.001, 1_700_086_399.999, 1_700_086_400.0]  # minute, day
    for t in times:
        monkeypatch.setattr(ids.time, "time", lambda t=t: t)
        assert ids.now_iso() == expected(t), t


def test_now_iso_parses_back_as_now():
    before = datetime.now(timezone.utc)
    stamp = ids.parse_iso(ids.now_iso())
    after = datetime.now(timezone.utc)
    assert before.replace(microsecond=before.microsecond // 1000 * 1000) <= stamp <= after
