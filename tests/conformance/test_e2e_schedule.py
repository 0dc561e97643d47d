"""Port of Appwrite 1.9.6 tests/e2e/Services/FunctionsSchedule/FunctionsScheduleTest.php (server side,
plus one request with a session), one test per method, against a real emulator (conftest.py).

Two of them wait for the clock: a cron run comes at the next whole minute, and `scheduledAt` must be a
whole minute at least a minute ahead, so they wait one to two minutes, as Appwrite's do (the cron
function is deployed first, so both waits overlap).
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from e2e_support import Side, headers_of, unique
from support import wait_for

USER_ROLE = "user:e2e-user"


def scheduled_function(side: Side, **extra) -> str:
    function_id = side.setup_function({"functionId": unique(), "name": "Test", "execute": [USER_ROLE],
                                       "runtime": "node-22", "entrypoint": "index.js", "timeout": 10, **extra})
    side.setup_deployment(function_id, "basic")
    return function_id


@pytest.fixture(scope="module", autouse=True)
def cron_function(server_side: Side) -> str:
    """testCreateScheduledExecution's function, deployed before the module's first test so that its
    minute ticks while the other tests wait for theirs."""
    return scheduled_function(server_side, events=["users.*.create", "users.*.delete"], schedule="* * * * *")


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_create_scheduled_at_execution(server_side: Side, console_side: Side):
    """FunctionsScheduleTest::testCreateScheduledAtExecution. The original schedules with a user's session
    (the function's `execute` names that user); here the console session does, and the two log lines
    only a user produces (`user-is-<id>`, `jwt-is-valid`) are left out."""
    function_id = scheduled_function(server_side, logging=True)
    when = (datetime.now(timezone.utc) + timedelta(minutes=2)).replace(second=0, microsecond=0)
    execution = console_side.create_execution(function_id, {
        "async": True, "scheduledAt": when.isoformat(timespec="seconds"), "path": "/custom-path", "method": "PATCH",
        "body": "custom-body", "headers": {"x-custom-header": "custom-value"}}, headers={"origin": "http://localhost"})
    assert execution.status == 202, execution.body
    body = execution.body
    assert body["status"] == "scheduled"
    assert (body["requestMethod"], body["requestPath"]) == ("PATCH", "/custom-path")
    assert len(body["requestHeaders"]) == 1 and body["requestHeaders"][0]["name"] == "x-appwrite-client-ip"
    assert body["requestHeaders"][0]["value"]

    done = server_side.wait_execution(function_id, body["$id"], timeout=240)  # due in up to two minutes
    assert done["responseStatusCode"] == 200
    assert (done["requestPath"], done["requestMethod"]) == ("/custom-path", "PATCH")
    for line in ("body-is-custom-body", "custom-header-is-custom-value", "method-is-patch",
                 "path-is-/custom-path"):
        assert line in done["logs"], line
    assert done["duration"] > 0

    for params in ({"async": "false", "scheduledAt": when.isoformat(timespec="seconds")},  # synchronous
                   {"async": True, "scheduledAt": "2100-12-08T16:12:02+00:00"},  # seconds
                   {"async": True, "scheduledAt": "2100-12-08T16:12:02.255+00:00"},  # milliseconds
                   {"async": True, "scheduledAt": (datetime.now(timezone.utc) + timedelta(seconds=1))
                    .isoformat(timespec="seconds")}):  # too soon
        refused = server_side.create_execution(function_id, params)
        assert refused.status == 400, (params, refused.body)
    server_side.cleanup_function(function_id)


def test_delete_scheduled_execution(server_side: Side):
    """FunctionsScheduleTest::testDeleteScheduledExecution (`scheduledAt` without a time zone is UTC)."""
    function_id = scheduled_function(server_side, logging=True)
    when = (datetime.now(timezone.utc) + timedelta(hours=10)).replace(second=0, microsecond=0)
    execution = server_side.create_execution(function_id, {"async": True,
                                                           "scheduledAt": when.strftime("%Y-%m-%d %H:%M:%S")})
    assert execution.status == 202, execution.body
    deleted = server_side.delete_execution(function_id, execution.body["$id"])
    assert deleted.status == 204, deleted.body
    assert server_side.get_execution(function_id, execution.body["$id"]).status == 404
    server_side.cleanup_function(function_id)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_create_scheduled_execution(server_side: Side, cron_function: str):
    """FunctionsScheduleTest::testCreateScheduledExecution: a cron run, with no client IP (no HTTP caller)."""
    function_id = cron_function

    run = wait_for(lambda: server_side.latest_finished_execution(function_id),
                   timeout=180, interval=0.5, message="a cron-triggered execution")
    assert run["trigger"] == "schedule" and run["status"] == "completed", run
    assert run["responseStatusCode"] == 200 and run["responseBody"] == ""
    assert run["logs"] and run["errors"]
    assert run["duration"] > 0 and run["$id"]
    assert headers_of(run, "requestHeaders").get("x-appwrite-client-ip", "") == ""
    server_side.cleanup_function(function_id)
