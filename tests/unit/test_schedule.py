"""The cron parser behind a function's `schedule` (emulator/schedule.py).

Three layers: a table of next-run times worked out by hand from the calendar (dragonmantank's
semantics, which Appwrite uses); cronsim, a maintained Python cron library, as an oracle over a
few thousand generated expressions where the two libraries agree on meaning; and the API, where
an expression that can never run is Appwrite's 400 and creates nothing.
"""
from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest
import requests
from cronsim import CronSim, CronSimError

from emulator.schedule import CronError, is_valid_cron, next_run, parse_cron

UTC = timezone.utc


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# (expression, after, the next run strictly after it). 2026-11-30 is a Monday.
NEXT_RUNS = [
    ("* * * * *", "2026-11-30 10:00:30", "2026-11-30 10:01"),
    ("*/15 * * * *", "2026-11-30 10:00", "2026-11-30 10:15"),
    ("*/15 * * * *", "2026-11-30 10:44:59", "2026-11-30 10:45"),
    ("*/15 * * * *", "2026-11-30 23:59", "2026-12-01 00:00"),
    ("10-50/20 * * * *", "2026-11-30 10:31", "2026-11-30 10:50"),
    ("0 */6 * * *", "2026-11-30 06:00", "2026-11-30 12:00"),
    ("30 2 * * *", "2026-12-31 03:00", "2027-01-01 02:30"),
    ("0 0 31 * *", "2026-11-01 00:00", "2026-12-31 00:00"),  # November has 30 days
    ("0 0 31 * *", "2027-01-31 00:00", "2027-03-31 00:00"),
    ("0 0 29 2 *", "2026-11-30 00:00", "2028-02-29 00:00"),  # the next leap year
    ("0 0 29 2 *", "2096-03-01 00:00", "2104-02-29 00:00"),  # 2100 is not a leap year
    ("0 0 1 JAN *", "2026-11-30 00:00", "2027-01-01 00:00"),
    ("0 0 1 jan-mar *", "2027-01-01 00:00", "2027-02-01 00:00"),
    ("0 9 * * MON-FRI", "2026-12-04 09:00", "2026-12-07 09:00"),  # Friday -> Monday
    ("0 9 * * sat,Sun", "2026-11-30 00:00", "2026-12-05 09:00"),
    ("0 0 * * 7", "2026-11-30 00:00", "2026-12-06 00:00"),  # 7 is Sunday
    ("0 0 * * 0", "2026-11-30 00:00", "2026-12-06 00:00"),
    ("0 0 * * 5-7", "2026-12-05 00:00", "2026-12-06 00:00"),  # Fri-Sun, ending on Sunday
    ("0 0 * * 5-7", "2026-12-06 00:00", "2026-12-11 00:00"),
    ("0 0 * * 6-7", "2026-11-30 00:00", "2026-12-05 00:00"),
    ("0 0 * * */2", "2026-11-30 00:00", "2026-12-01 00:00"),  # Sun, Tue, Thu, Sat
    # Both day fields restricted: either one matching is enough.
    ("0 0 13 * 5", "2026-11-30 00:00", "2026-12-04 00:00"),  # Friday the 4th comes before the 13th
    ("0 0 13 * 5", "2026-12-11 00:00", "2026-12-13 00:00"),  # the 13th is a Sunday
    ("0 0 1 * 1", "2026-11-30 00:00", "2026-12-01 00:00"),
    ("0 0 */10 * 1", "2026-12-01 00:00", "2026-12-07 00:00"),  # `*/10` restricts (not Vixie's AND)
    ("0 0 1-31 * 3", "2026-11-30 00:00", "2026-12-01 00:00"),  # so does a full range
    # One day field `*` or `?`: only the other one counts.
    ("0 0 * * 1", "2026-11-30 00:00", "2026-12-07 00:00"),
    ("0 0 ? * 1", "2026-11-30 00:00", "2026-12-07 00:00"),
    ("0 0 13 * ?", "2026-11-30 00:00", "2026-12-13 00:00"),
    ("0 0 1 * *", "2026-11-30 00:00", "2026-12-01 00:00"),
    # Extensions dragonmantank (and so Appwrite) accepts.
    ("0 0 L * *", "2027-02-01 00:00", "2027-02-28 00:00"),
    ("0 0 L 2 *", "2027-03-01 00:00", "2028-02-29 00:00"),
    ("0 0 LW * *", "2027-07-01 00:00", "2027-07-30 00:00"),  # July 31st 2027 is a Saturday
    ("0 0 15W * *", "2027-05-01 00:00", "2027-05-14 00:00"),  # the 15th is a Saturday
    ("0 0 1W * *", "2027-04-30 00:00", "2027-05-03 00:00"),  # May 1st (Sat) -> Monday the 3rd,
    ("0 0 1W * *", "2027-05-03 00:00", "2027-06-01 00:00"),  # never back into April
    ("0 0 * * 5L", "2026-11-30 00:00", "2026-12-25 00:00"),
    ("0 0 * * 1#2", "2026-11-30 00:00", "2026-12-14 00:00"),
    ("0 0 * * 1#5", "2026-12-01 00:00", "2027-03-29 00:00"),  # the next month with five Mondays
    ("@hourly", "2026-11-30 10:00", "2026-11-30 11:00"),
    ("@daily", "2026-11-30 10:00", "2026-12-01 00:00"),
    ("@weekly", "2026-11-30 10:00", "2026-12-06 00:00"),
    ("@monthly", "2026-11-30 10:00", "2026-12-01 00:00"),
    ("@yearly", "2026-11-30 10:00", "2027-01-01 00:00"),
    ("*/60 * * * *", "2026-11-30 10:00", "2026-11-30 11:00"),  # a step past the end wraps: minute 0
    ("  0   0  *  *  *  ", "2026-11-30 10:00", "2026-12-01 00:00"),
]


@pytest.mark.parametrize("expr,after,expected", NEXT_RUNS, ids=[f"{e}@{a}" for e, a, _ in NEXT_RUNS])
def test_next_run_table(expr, after, expected):
    assert next_run(expr, at(after)) == at(expected)


def test_next_run_is_utc_whatever_the_input_zone():
    # 01:30 at UTC+2 is 23:30 UTC the day before; no daylight-saving shift applies.
    plus_two = timezone(timedelta(hours=2))
    assert next_run("0 0 * * *", datetime(2027, 3, 28, 1, 30, tzinfo=plus_two)) == at("2027-03-28 00:00")
    assert next_run("30 2 * * *", at("2027-03-28 00:00")) == at("2027-03-28 02:30")  # EU DST night
    assert next_run("30 2 * * *", at("2027-03-28 00:00")).tzinfo == UTC


NEVER_OR_INVALID = [
    "0 0 30 2 *", "0 0 31 2 *", "0 0 30,31 2 *", "0 0 31 4,6,9,11 *", "0 0 31 APR *", "0 0 30 2 ?",
    "0 0 * * 5-2", "0 0 * 2 1#6",
    "60 * * * *", "* 24 * * *", "* * 0 * *", "* * 32 * *", "* * * 0 *", "* * * 13 *", "* * * * 8",
    "* * * *", "* * * * * *", "", "   ", "a b c d e", "*/0 * * * *", "5/15 * * * *", "1-2-3 * * * *",
    "*/x * * * *", "1,,2 * * * *", "? * * * *", "* * * ? *", "* * * * FOO", "-1 * * * *", "1.5 * * * *",
    "@reboot", "0 0 32W * *",
]


@pytest.mark.parametrize("expr", NEVER_OR_INVALID)
def test_rejected_expressions(expr):
    assert not is_valid_cron(expr)
    with pytest.raises(CronError):
        next_run(expr, at("2026-11-30 00:00"))


# --- cronsim as an oracle ------------------------------------------------------------------------

FIELDS = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]
MONTHS = "JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split()
DAYS = "SUN MON TUE WED THU FRI SAT".split()


def _random_item(rng: random.Random, index: int) -> str:
    low, high = FIELDS[index]
    kind = rng.choice(["value", "value", "range", "step", "range-step", "name"])
    a, b = sorted(rng.sample(range(low, high + 1), 2))
    if kind == "range":
        return f"{a}-{b}"
    if kind == "step":
        return f"*/{rng.randint(1, max(1, (high - low) // 2))}"
    if kind == "range-step":
        return f"{a}-{b}/{rng.randint(1, max(1, b - a))}"
    if kind == "name" and index == 3:
        return rng.choice(MONTHS)
    if kind == "name" and index == 4:
        return rng.choice(DAYS).lower()
    return str(a)


def _random_field(rng: random.Random, index: int) -> str:
    if rng.random() < 0.35:
        return "*"
    return ",".join(_random_item(rng, index) for _ in range(rng.choice([1, 1, 1, 2, 3])))


def _same_meaning(expr: str) -> bool:
    """Vixie cron (cronsim) ANDs the day fields when either *starts* with `*`; dragonmantank only
    when either *is* `*`. Where that differs the table above is the reference, not cronsim."""
    dom, dow = expr.split()[2], expr.split()[4]
    starred = [f for f in (dom, dow) if f.startswith("*") and f != "*"]
    return not starred or "*" in (dom, dow)


def _oracle_cases(count: int, seed: int = 20261130):
    rng = random.Random(seed)
    cases = []
    while len(cases) < count:
        expr = " ".join(_random_field(rng, i) for i in range(5))
        if _same_meaning(expr):
            cases.append(expr)
    return cases


def test_next_runs_agree_with_cronsim():
    starts = [at("2026-11-30 10:17"), at("2027-02-28 23:59"), at("2028-12-31 23:59"), at("2099-06-15 12:00")]
    compared = rejected = 0
    for expr in _oracle_cases(2500):
        try:
            oracle = CronSim(expr, starts[0])
        except CronSimError:
            # cronsim refuses a day-of-month no chosen month has; so must we (never runs).
            assert not is_valid_cron(expr), expr
            rejected += 1
            continue
        if not is_valid_cron(expr):
            # Valid syntax for cronsim but never matching (e.g. `30 2 * 2 sat` is fine, `31 ... 2,4` not):
            # cronsim then searches forever, so bound it and expect nothing within 30 years.
            assert _no_run_within(oracle, starts[0], years=30), expr
            rejected += 1
            continue
        for start in starts:
            runs = CronSim(expr, start)
            expected = next(runs)
            assert next_run(expr, start) == expected, (expr, start)
            # and the run after that, from exactly a matching minute (strictly after it)
            assert next_run(expr, expected) == next(runs), (expr, expected)
        compared += 1
    assert compared > 2000 and rejected < 200, (compared, rejected)


def _no_run_within(runs, start: datetime, years: int) -> bool:
    try:
        return next(runs) > start.replace(year=start.year + years)
    except (StopIteration, CronSimError):
        return True


def test_parse_is_cached_and_pure():
    assert parse_cron("0 0 * * 5-7") is parse_cron("0 0 * * 5-7")
    assert parse_cron("0 0 * * 5-7").weekdays == frozenset({5, 6, 0})
    assert parse_cron("0 0 * * 7").weekdays == frozenset({0})


# --- through the API -------------------------------------------------------------------------------

H = {"X-Appwrite-Project": "cron", "X-Appwrite-Key": "k"}


@pytest.mark.parametrize("schedule", ["0 0 30 2 *", "0 0 * * 5-2", "61 * * * *", "5/15 * * * *"])
def test_api_rejects_a_schedule_that_cannot_run_and_creates_nothing(server, schedule):
    body = {"functionId": "never", "name": "never", "runtime": "python-3.11", "schedule": schedule}
    created = requests.post(server.endpoint + "/functions", headers=H, json=body, timeout=30)
    assert created.status_code == 400, created.text
    assert created.json()["type"] == "general_argument_invalid"
    assert "schedule" in created.json()["message"]
    assert requests.get(server.endpoint + "/functions/never", headers=H, timeout=30).status_code == 404
    # and on update the stored schedule is kept
    requests.post(server.endpoint + "/functions", headers=H, timeout=30,
                  json={"functionId": "keeper", "name": "k", "runtime": "python-3.11", "schedule": "0 0 * * 5-7"})
    updated = requests.put(server.endpoint + "/functions/keeper", headers=H, timeout=30,
                           json={"name": "k", "schedule": schedule})
    assert updated.status_code == 400
    kept = requests.get(server.endpoint + "/functions/keeper", headers=H, timeout=30).json()
    assert kept["schedule"] == "0 0 * * 5-7"


def test_api_stores_the_next_run_of_a_valid_schedule(server):
    body = {"functionId": "leap", "name": "leap", "runtime": "python-3.11", "schedule": "0 0 29 2 *"}
    before = datetime.now(UTC)
    created = requests.post(server.endpoint + "/functions", headers=H, json=body, timeout=30)
    assert created.status_code == 201, created.text
    expected = next(CronSim("0 0 29 2 *", before))
    iso = expected.strftime("%Y-%m-%dT%H:%M:%S.000+00:00")
    # `scheduleNext` is not in the response model but is queryable, as in Appwrite.
    query = f'{{"method":"equal","attribute":"scheduleNext","values":["{iso}"]}}'
    found = requests.get(server.endpoint + "/functions", headers=H, params={"queries[]": query}, timeout=30).json()
    assert [f["$id"] for f in found["functions"]] == ["leap"]


def test_a_stored_schedule_the_parser_now_refuses_does_not_stop_the_others(tmp_path):
    # Data dirs written by an older, laxer parser may hold `5/15 * * * *`: that function can't be
    # scheduled, and the scheduler's pass over all functions must still fire the valid ones.
    from types import SimpleNamespace

    from emulator.services.functions import due_schedules
    from emulator.store import Store

    store = Store(tmp_path / "emulator.db")
    try:
        for fid, schedule in (("old", "5/15 * * * *"), ("ok", "*/5 * * * *")):
            store.insert("functions", "p", "", {"$id": fid, "schedule": schedule, "enabled": True,
                                                "scheduleNext": "2026-11-30T10:05:00.000+00:00"})
        store.flush()
        due = due_schedules(SimpleNamespace(store=store), at("2026-11-30 10:05:30"))
        assert [doc["$id"] for _, doc in due] == ["ok"]
        assert store.get("functions", "p", "", "ok")["scheduleNext"] == "2026-11-30T10:10:00.000+00:00"
        assert store.get("functions", "p", "", "old")["scheduleNext"] == "2026-11-30T10:05:00.000+00:00"
    finally:
        store.close()
