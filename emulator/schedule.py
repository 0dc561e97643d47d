"""Cron expressions (5 fields, as Appwrite's `schedule`): validation and the next matching minute."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

_FIELDS = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 6)]
_NAMES = [None, None, None,
          {m: i + 1 for i, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split())},
          {d: i for i, d in enumerate("sun mon tue wed thu fri sat".split())}]
_MACROS = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
           "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *"}


def _value(text: str, index: int) -> int:
    names = _NAMES[index]
    if names and text.lower() in names:
        return names[text.lower()]
    value = int(text)
    if index == 4 and value == 7:
        return 0
    return value


def _parse_field(text: str, index: int) -> set[int]:
    low, high = _FIELDS[index]
    values: set[int] = set()
    for part in text.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            step = int(step_text)
            if step < 1:
                raise ValueError("step")
        if part in ("*", "?"):
            start, end = low, high
        elif "-" in part:
            a, b = part.split("-", 1)
            start, end = _value(a, index), _value(b, index)
        else:
            start = _value(part, index)
            end = high if step > 1 else start
        if not (low <= start <= (7 if index == 4 else high)) or not (low <= end <= (7 if index == 4 else high)) or start > end:
            raise ValueError("range")
        values.update(v % 7 if index == 4 else v for v in range(start, end + 1, step))
    return values


def parse_cron(expr: str) -> list[set[int]]:
    expr = _MACROS.get(expr.strip().lower(), expr)
    parts = expr.split()
    if len(parts) != 5:
        raise ValueError("a cron expression has 5 fields")
    return [_parse_field(p, i) for i, p in enumerate(parts)]


def is_valid_cron(expr: str) -> bool:
    try:
        parse_cron(expr)
        return True
    except (ValueError, IndexError):
        return False


def next_run(expr: str, after: datetime) -> datetime:
    """The first minute strictly after `after` that matches `expr` (UTC)."""
    minutes, hours, days, months, weekdays = parse_cron(expr)
    day_any = len(days) == 31
    dow_any = len(weekdays) == 7
    t = after.astimezone(timezone.utc).replace(second=0, microsecond=0) + timedelta(minutes=1)
    for _ in range(366 * 24 * 60 * 5):
        if t.month not in months:
            t = (t.replace(day=1, hour=0, minute=0) + timedelta(days=32)).replace(day=1)
            continue
        dom_ok = t.day in days
        dow_ok = (t.isoweekday() % 7) in weekdays
        day_ok = (dom_ok and dow_ok) if (day_any or dow_any) else (dom_ok or dow_ok)
        if not day_ok:
            t = t.replace(hour=0, minute=0) + timedelta(days=1)
            continue
        if t.hour not in hours:
            t = t.replace(minute=0) + timedelta(hours=1)
            continue
        if t.minute not in minutes:
            t += timedelta(minutes=1)
            continue
        return t
    raise ValueError("cron expression never matches")
