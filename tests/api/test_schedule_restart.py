"""A cron `schedule` survives a restart: its next run is stored with the function, so a run that fell
due while the emulator was down fires as soon as it is back, and the schedule goes on from there."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest
import requests

from support import make_archive, wait_for

H = {"x-appwrite-project": "cron-restart", "x-appwrite-key": "k"}
MAIN = "def main(context):\n    context.log('fired by', context.req.headers['x-appwrite-trigger'])\n    return context.res.text('tick')\n"


def parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp)


def schedule_runs(endpoint: str) -> list[dict]:
    listed = requests.get(endpoint + "/functions/cron/executions", headers=H).json()
    return [e for e in listed["executions"] if e["trigger"] == "schedule"]


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_cron_schedule_due_while_down_fires_after_restart(server_factory, tmp_path):
    data = tmp_path / "state"
    first = server_factory(data_dir=data)
    created = requests.post(first.endpoint + "/functions", headers=H, json={
        "functionId": "cron", "name": "cron", "runtime": "python-3.11", "entrypoint": "main.py",
        "schedule": "* * * * *"})
    assert created.status_code == 201, created.text
    archive = make_archive({"main.py": MAIN}, tmp_path / "cron.tar.gz")
    with open(archive, "rb") as fh:
        up = requests.post(first.endpoint + "/functions/cron/deployments", headers=H,
                           files={"code": ("code.tar.gz", fh)}, data={"activate": "true"})
    assert up.status_code == 202, up.text
    wait_for(lambda: requests.get(first.endpoint + "/functions/cron", headers=H).json()["deploymentId"]
             == up.json()["$id"], timeout=120, message="the deployment to go live")
    fired_before_stop = schedule_runs(first.endpoint)
    first.stop()
    stopped_at = datetime.now(timezone.utc)

    # The stored next run is the first minute boundary after the function was created (or after its
    # last run), both before the stop: once the first boundary after the stop has passed, it is due.
    boundary = (stopped_at + timedelta(minutes=1)).replace(second=0, microsecond=0)
    while datetime.now(timezone.utc) < boundary + timedelta(seconds=1):
        time.sleep(0.2)

    restarted_at = datetime.now(timezone.utc)  # before the start: whatever the new emulator creates is later
    second = server_factory(data_dir=data)
    assert len(schedule_runs(second.endpoint)) >= len(fired_before_stop)
    runs = wait_for(lambda: [e for e in schedule_runs(second.endpoint) if parse(e["$createdAt"]) >= restarted_at],
                    timeout=150, message="a schedule run after the restart")
    first_run = min(runs, key=lambda e: e["$createdAt"])
    # The missed run, not the next regular one: that one is due only at the next minute boundary.
    next_boundary = (restarted_at + timedelta(minutes=1)).replace(second=0, microsecond=0)
    assert parse(first_run["$createdAt"]) < next_boundary, (first_run["$createdAt"], str(restarted_at))
    url = second.endpoint + f"/functions/cron/executions/{first_run['$id']}"
    done = wait_for(lambda: (lambda doc: doc if doc["status"] in ("completed", "failed") else None)(
        requests.get(url, headers=H).json()), timeout=60, message="the schedule run to finish")
    assert done["status"] == "completed" and done["logs"] == "fired by schedule\n", done
    # Caught up once, not once per missed minute.
    assert len([e for e in schedule_runs(second.endpoint)
                if restarted_at <= parse(e["$createdAt"]) < next_boundary]) == 1
