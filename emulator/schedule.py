"""Cron expressions (5 fields, as Appwrite's `schedule`): validation and the next matching minute.

Appwrite validates and runs schedules with PHP's dragonmantank/cron-expression, so its semantics
are followed here: names (`MON`, `jan`) in any case, `7` as Sunday (also in ranges, `5-7`), `?` as
`*` in the two day fields, `L`/`W` in day-of-month (`L`, `15W`, `LW`), `L`/`#` in day-of-week
(`5L`, `1#2`), the `@daily`-style macros. When both day fields are restricted, a day matching
either runs (its test is textual: only exactly `*` or `?` leaves a field unrestricted, so
`*/2` restricts, unlike Vixie cron). All times are UTC (no DST).

An expression that can never match (`0 0 30 2 *`) is rejected as invalid: the Gregorian calendar,
weekdays included, repeats every 400 years, so a search over that span decides it.
"""
from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache

_RANGES = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]
_NAMES = [None, None, None,
          {m: i + 1 for i, m in enumerate("JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split())},
          {d: i for i, d in enumerate("SUN MON TUE WED THU FRI SAT".split())}]
_MACROS = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
           "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *"}
DAY, WEEKDAY = 2, 4
GREGORIAN_CYCLE_DAYS = 146097  # 400 years: dates and weekdays repeat exactly
_REFERENCE = datetime(2000, 1, 1, tzinfo=timezone.utc)


class CronError(ValueError):
    """A `schedule` Appwrite would reject: bad syntax, a value out of range, or one that never runs."""


@dataclass(frozen=True)
class Cron:
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    months: frozenset[int]
    days: frozenset[int]                       # day-of-month numbers
    last_day: bool                             # `L`
    nearest_weekdays: frozenset[int]           # `15W`; 0 stands for `LW`
    weekdays: frozenset[int]                   # 0 = Sunday
    nth_weekdays: frozenset[tuple[int, int]]   # `1#2`: (weekday, n)
    last_weekdays: frozenset[int]              # `5L`
    day_restricted: bool
    weekday_restricted: bool

    def _day_of_month_matches(self, d: date) -> bool:
        length = calendar.monthrange(d.year, d.month)[1]
        if d.day in self.days or (self.last_day and d.day == length):
            return True
        return any(_nearest_weekday(d.year, d.month, target or length) == d.day for target in self.nearest_weekdays)

    def _weekday_matches(self, d: date) -> bool:
        weekday = d.isoweekday() % 7
        if weekday in self.weekdays or (weekday, (d.day - 1) // 7 + 1) in self.nth_weekdays:
            return True
        return weekday in self.last_weekdays and d.day + 7 > calendar.monthrange(d.year, d.month)[1]

    def day_matches(self, d: date) -> bool:
        if d.month not in self.months:
            return False
        if self.day_restricted and self.weekday_restricted:
            return self._day_of_month_matches(d) or self._weekday_matches(d)
        if self.day_restricted:
            return self._day_of_month_matches(d)
        if self.weekday_restricted:
            return self._weekday_matches(d)
        return True


def _nearest_weekday(year: int, month: int, target: int) -> int:
    """The Monday-Friday day of the month closest to `target`, without leaving the month."""
    length = calendar.monthrange(year, month)[1]
    target = min(target, length)
    weekday = date(year, month, target).weekday()  # 5 = Saturday, 6 = Sunday
    if weekday == 5:
        return target - 1 if target > 1 else target + 2
    if weekday == 6:
        return target + 1 if target < length else target - 2
    return target


def _number(text: str, index: int) -> int:
    names = _NAMES[index]
    if names and text.upper() in names:
        return names[text.upper()]
    if not text.isdigit():
        raise CronError(f"invalid value {text!r}")
    value = int(text)
    low, high = _RANGES[index]
    if not low <= value <= high:
        raise CronError(f"{value} is out of range {low}-{high}")
    return value


def _values(part: str, index: int) -> set[int]:
    """`*`, `a` or `a-b`; `*` and `a-b` may take a `/step` (dragonmantank rejects `5/15`)."""
    low, high = _RANGES[index]
    base, slash, step_text = part.partition("/")
    if base == "*":
        start, end = low, high
    elif "-" in base:
        a, b = base.split("-", 1)
        start, end = _number(a, index), _number(b, index)
        if start > end:
            raise CronError(f"invalid range {part!r}")
    elif slash:
        raise CronError(f"a step needs a range or *: {part!r}")
    else:
        start = end = _number(base, index)
    if not slash:
        values = set(range(start, end + 1))
    elif not step_text.isdigit() or int(step_text) < 1:
        raise CronError(f"invalid step in {part!r}")
    elif int(step_text) > high:  # dragonmantank: a step past the field's end wraps to one value
        values = {low + int(step_text) % (high - low + 1)}
    else:
        values = set(range(start, end + 1, int(step_text)))
    return {v % 7 for v in values} if index == WEEKDAY else values


@dataclass
class _DayField:
    values: set[int]
    last: bool = False
    nearest: set[int] | None = None
    nth: set[tuple[int, int]] | None = None


def _day_part(part: str, field: _DayField) -> None:
    upper = part.upper()
    if upper == "L":
        field.last = True
    elif upper == "LW":
        field.nearest.add(0)
    elif upper.endswith("W"):
        field.nearest.add(_number(upper[:-1], DAY))
    else:
        field.values |= _values(part, DAY)


def _weekday_part(part: str, field: _DayField, last: set[int]) -> None:
    upper = part.upper()
    if "#" in upper:
        weekday, _, nth = upper.partition("#")
        if not nth.isdigit() or not 1 <= int(nth) <= 5:
            raise CronError(f"invalid nth weekday {part!r}")
        field.nth.add((_number(weekday, WEEKDAY) % 7, int(nth)))
    elif upper.endswith("L") and len(upper) > 1:
        last.add(_number(upper[:-1], WEEKDAY) % 7)
    else:
        field.values |= _values(part, WEEKDAY)


@lru_cache(maxsize=256)
def parse_cron(expr: str) -> Cron:
    """The parsed expression; CronError if it is malformed or can never run."""
    if not isinstance(expr, str):
        raise CronError("a cron expression is a string")
    expr = _MACROS.get(expr.strip().lower(), expr)
    parts = expr.split()
    if len(parts) != 5:
        raise CronError("a cron expression has 5 fields")
    fields: list[set[int]] = []
    days = _DayField(set(), nearest=set())
    weekdays = _DayField(set(), nth=set())
    last_weekdays: set[int] = set()
    for index, text in enumerate(parts):
        if text == "?" and index in (DAY, WEEKDAY):
            text = "*"
        values: set[int] = set()
        for part in text.split(","):
            if not part:
                raise CronError(f"empty list item in {text!r}")
            if index == DAY:
                _day_part(part, days)
            elif index == WEEKDAY:
                _weekday_part(part, weekdays, last_weekdays)
            else:
                values |= _values(part, index)
        fields.append(values)
    cron = Cron(
        minutes=tuple(sorted(fields[0])), hours=tuple(sorted(fields[1])), months=frozenset(fields[3]),
        days=frozenset(days.values), last_day=days.last, nearest_weekdays=frozenset(days.nearest),
        weekdays=frozenset(weekdays.values), nth_weekdays=frozenset(weekdays.nth),
        last_weekdays=frozenset(last_weekdays),
        day_restricted=parts[DAY] not in ("*", "?"), weekday_restricted=parts[WEEKDAY] not in ("*", "?"))
    if _never_matches(cron):
        raise CronError("the expression never matches a date")
    return cron


# The longest each month gets (February in leap years).
_MONTH_MAX = {m: calendar.monthrange(2000, m)[1] for m in range(1, 13)}


def _never_matches(cron: Cron) -> bool:
    # The usual case (`0 0 30 2 *`: plain days no chosen month has) is decided at once; the rest
    # by a search over one calendar cycle.
    plain_days = cron.day_restricted and not cron.weekday_restricted and not (cron.last_day or cron.nearest_weekdays)
    if plain_days and min(cron.days) > max(_MONTH_MAX[m] for m in cron.months):
        return True
    return _next_day(cron, _REFERENCE.date()) is None


def _next_day(cron: Cron, start: date) -> date | None:
    """The first matching day on or after `start`, within one full calendar cycle."""
    day = start
    end = start + timedelta(days=GREGORIAN_CYCLE_DAYS + 1) if start.year < 9000 else date.max
    while day < end:
        if day.month not in cron.months:  # skip to the 1st of the next month
            day = (day.replace(day=1) + timedelta(days=32)).replace(day=1)
            continue
        if cron.day_matches(day):
            return day
        day += timedelta(days=1)
    return None


def is_valid_cron(expr: str) -> bool:
    try:
        parse_cron(expr)
        return True
    except CronError:
        return False


def next_run(expr: str, after: datetime) -> datetime:
    """The first minute strictly after `after` that matches `expr`, in UTC. CronError if invalid."""
    cron = parse_cron(expr)
    after = after.astimezone(timezone.utc).replace(second=0, microsecond=0)
    day = after.date()
    while True:
        day = _next_day(cron, day)
        if day is None:  # unreachable for a parsed expression: parse_cron searched the same cycle
            raise CronError("the expression never matches a date")
        for hour in cron.hours:
            for minute in cron.minutes:
                candidate = datetime.combine(day, time(hour, minute), timezone.utc)
                if candidate > after:
                    return candidate
        day += timedelta(days=1)
