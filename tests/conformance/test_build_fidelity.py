"""Builds as Appwrite 1.9.6 runs them, from its e2e suite (FunctionsCustomServerTest.php:
testFunctionSpecifications, testDuplicateDeployment, testCancelDeploymentBuild) and the builds worker:
the build specification in the build's environment, duplicates built with the function's current
commands, a cancel that is final and stops the build, and executions that cannot be deleted while
they run.

Builds are held with a build command that waits for a file the test creates (or never does), and
every wait is on what the server shows (build logs, status), never on time.
"""
from __future__ import annotations

import json
import uuid

import pytest

from support import JsonApi, archive_bytes, processes_with, wait_for

PROJECT = "buildfidelity"
ENV_MAIN = ("import os\n"
            "def main(context):\n"
            "    return context.res.json({k: v for k, v in os.environ.items()\n"
            "                             if k.startswith(('APPWRITE_FUNCTION_', 'OPEN_RUNTIMES_ENTRYPOINT'))})\n")
BASIC_MAIN = "def main(context):\n    return context.res.text('basic')\n"
MAINTENANCE_MAIN = "def main(context):\n    return context.res.text('Maintenance')\n"
WAIT_MAIN = ("import os, time\n"
             "def main(context):\n"
             "    while not os.path.exists(context.req.body_text):\n"
             "        time.sleep(0.02)\n"
             "    return context.res.text('released')\n")


@pytest.fixture(scope="module")
def api(server):
    return JsonApi(server.endpoint, PROJECT)


def create(api: JsonApi, function_id: str, **fields) -> dict:
    return api.ok("POST", "/functions", {"functionId": function_id, "name": function_id, "runtime": "python-3.11",
                                         "entrypoint": "main.py", **fields})


def deployment(api: JsonApi, function_id: str, deployment_id: str) -> dict:
    return api.ok("GET", f"/functions/{function_id}/deployments/{deployment_id}")


def wait_active(api: JsonApi, function_id: str, deployment_id: str) -> None:
    wait_for(lambda: api.ok("GET", f"/functions/{function_id}")["deploymentId"] == deployment_id, timeout=180,
             message=f"{deployment_id} to be active")


def execute(api: JsonApi, function_id: str, body: str = "", asynchronous: bool = False) -> dict:
    status, doc = api.call("POST", f"/functions/{function_id}/executions", {"body": body, "async": asynchronous})
    assert status == (202 if asynchronous else 201), (status, doc)
    return doc


def test_function_specifications(api):
    """The build runs with the *build* specification (memory at least 1024 MB, as Appwrite's worker),
    the function with the runtime one; both executors' build environment names the entrypoint."""
    create(api, "specs", buildSpecification="s-2vcpu-2gb", runtimeSpecification="s-1vcpu-1gb",
           commands="echo $APPWRITE_FUNCTION_MEMORY:$APPWRITE_FUNCTION_CPUS entry=$OPEN_RUNTIMES_ENTRYPOINT")
    dep = api.upload_ok("specs", archive_bytes({"main.py": ENV_MAIN}))
    built = api.wait_ready("specs", dep["$id"])
    assert "2048:2 entry=main.py" in built["buildLogs"], built["buildLogs"]
    wait_active(api, "specs", dep["$id"])
    env = json.loads(execute(api, "specs")["responseBody"])
    assert (env["APPWRITE_FUNCTION_MEMORY"], env["APPWRITE_FUNCTION_CPUS"]) == ("1024", "1"), env

    # A small build specification still builds with 1024 MB; half a CPU is written as Appwrite does.
    create(api, "smallspec", buildSpecification="s-0.5vcpu-512mb",
           commands="echo small=$APPWRITE_FUNCTION_MEMORY:$APPWRITE_FUNCTION_CPUS")
    small = api.upload_ok("smallspec", archive_bytes({"main.py": ENV_MAIN}))
    assert "small=1024:0.5" in api.wait_ready("smallspec", small["$id"])["buildLogs"]


def test_duplicate_deployment(api):
    """A duplicate builds the original's source with the function's current commands (here: one
    that swaps the entrypoint's code), keeps its `activate`, and reports its sizes as Appwrite."""
    create(api, "dup", commands="")
    first = api.upload_ok("dup", archive_bytes({"main.py": BASIC_MAIN, "maintenance.py": MAINTENANCE_MAIN}))
    api.wait_ready("dup", first["$id"])
    wait_active(api, "dup", first["$id"])
    assert execute(api, "dup")["responseBody"] == "basic"

    updated = api.ok("PUT", "/functions/dup", {"name": "dup", "runtime": "python-3.11", "entrypoint": "main.py",
                                               "commands": "rm main.py && mv maintenance.py main.py"})
    assert "maintenance.py" in updated["commands"]
    status, dup = api.call("POST", "/functions/dup/deployments/duplicate", {"deploymentId": first["$id"]})
    assert status == 202, dup
    assert dup["$id"] != first["$id"] and dup["activate"] is True
    fresh = deployment(api, "dup", dup["$id"])
    assert fresh["sourceSize"] > 0 and fresh["buildSize"] == 0 and fresh["totalSize"] == fresh["sourceSize"]

    wait_active(api, "dup", dup["$id"])
    assert execute(api, "dup")["responseBody"] == "Maintenance"
    built = deployment(api, "dup", dup["$id"])
    assert built["buildSize"] > 0 and built["totalSize"] == built["sourceSize"] + built["buildSize"]
    # The original keeps what it was built with.
    assert deployment(api, "dup", first["$id"])["status"] == "ready"


def test_duplicate_keeps_inactive(api):
    """An original uploaded with activate=false gives a duplicate that does not go live either."""
    create(api, "dupoff")
    live = api.upload_ok("dupoff", archive_bytes({"main.py": BASIC_MAIN}))
    wait_active(api, "dupoff", live["$id"])
    off = api.upload_ok("dupoff", archive_bytes({"main.py": MAINTENANCE_MAIN}), activate=False)
    api.wait_ready("dupoff", off["$id"])
    status, dup = api.call("POST", "/functions/dupoff/deployments/duplicate", {"deploymentId": off["$id"]})
    assert status == 202 and dup["activate"] is False, dup
    api.wait_ready("dupoff", dup["$id"])
    assert api.ok("GET", "/functions/dupoff")["deploymentId"] == live["$id"]


def test_cancel_deployment_build(api, tmp_path):
    """A cancel during the build is final: the build's processes end, its log gets Appwrite's closing
    line, and the deployment never becomes ready or active."""
    marker = f"B12_MARKER_{uuid.uuid4().hex}"
    create(api, "cancel", commands=f"echo slow-build-started; while [ ! -f {tmp_path}/never ]; do sleep 0.05; done")
    api.ok("POST", "/functions/cancel/variables", {"variableId": "marker", "key": marker, "value": "1"})
    dep = api.upload_ok("cancel", archive_bytes({"main.py": BASIC_MAIN}), activate=True)
    path = f"/functions/cancel/deployments/{dep['$id']}"

    wait_for(lambda: "slow-build-started" in deployment(api, "cancel", dep["$id"])["buildLogs"], timeout=120,
             message="the build to print its first line")
    assert deployment(api, "cancel", dep["$id"])["status"] == "building"
    assert processes_with(marker, "environ"), "the build's shell should be running"

    status, canceled = api.call("PATCH", path + "/status")
    assert status == 200 and canceled["status"] == "canceled", canceled
    assert isinstance(canceled["buildDuration"], int) and canceled["buildDuration"] >= 0  # counted from its start
    wait_for(lambda: not processes_with(marker, "environ"), timeout=30, message="the build's processes to end")
    logs = wait_for(lambda: (lambda d: d["buildLogs"] if "Build has been canceled." in d["buildLogs"] else None)(
        deployment(api, "cancel", dep["$id"])), timeout=60, message="the closing log line")
    assert "slow-build-started" in logs and "Build failed" not in logs, logs

    after = deployment(api, "cancel", dep["$id"])
    assert after["status"] == "canceled"
    function = api.ok("GET", "/functions/cancel")
    assert function["deploymentId"] == "" and function["latestDeploymentStatus"] == "canceled"
    # Canceled is not completed: a second cancel answers the same, a finished build refuses.
    status, again = api.call("PATCH", path + "/status")
    assert status == 200 and again["status"] == "canceled"
    assert again["buildLogs"].count("Build has been canceled.") == 1


def test_cancel_finished_build_is_refused(api):
    create(api, "cancelled-late")
    dep = api.upload_ok("cancelled-late", archive_bytes({"main.py": BASIC_MAIN}))
    api.wait_ready("cancelled-late", dep["$id"])
    status, doc = api.call("PATCH", f"/functions/cancelled-late/deployments/{dep['$id']}/status")
    assert status == 400 and doc["type"] == "build_already_completed", doc
    assert deployment(api, "cancelled-late", dep["$id"])["status"] == "ready"


def test_cancel_waiting_build_never_runs(api, tmp_path):
    """With every build worker busy, a queued deployment is still `waiting`; canceled then, it gets
    the closing line at once and is never built."""
    release = tmp_path / "release"
    held = []
    for i in range(2):  # the server's two build workers
        create(api, f"hold{i}", commands=f"echo holding; while [ ! -f {release} ]; do sleep 0.05; done")
        held.append((f"hold{i}", api.upload_ok(f"hold{i}", archive_bytes({"main.py": BASIC_MAIN}))["$id"]))
    for function_id, dep_id in held:
        wait_for(lambda: deployment(api, function_id, dep_id)["status"] == "building", timeout=120,
                 message=f"{function_id} to be building")
    create(api, "queued", commands=f"touch {tmp_path}/queued-ran")
    queued = api.upload_ok("queued", archive_bytes({"main.py": BASIC_MAIN}))
    assert deployment(api, "queued", queued["$id"])["status"] == "waiting"
    status, doc = api.call("PATCH", f"/functions/queued/deployments/{queued['$id']}/status")
    assert status == 200 and doc["status"] == "canceled" and "Build has been canceled." in doc["buildLogs"], doc

    release.touch()
    for function_id, dep_id in held:
        api.wait_ready(function_id, dep_id)
    # Both workers are free again and the queue is empty: the canceled deployment was passed over.
    create(api, "after")
    api.wait_ready("after", api.upload_ok("after", archive_bytes({"main.py": BASIC_MAIN}))["$id"])
    assert deployment(api, "queued", queued["$id"])["status"] == "canceled"
    assert not (tmp_path / "queued-ran").exists()


def test_delete_execution_in_progress(api, tmp_path):
    """An execution still waiting or processing cannot be deleted (400 execution_in_progress, and it
    stays); once completed it can."""
    create(api, "slowexec")
    dep = api.upload_ok("slowexec", archive_bytes({"main.py": WAIT_MAIN}))
    api.wait_ready("slowexec", dep["$id"])
    wait_active(api, "slowexec", dep["$id"])
    release = tmp_path / "release-execution"
    execution = execute(api, "slowexec", str(release), asynchronous=True)
    path = f"/functions/slowexec/executions/{execution['$id']}"
    wait_for(lambda: api.ok("GET", path)["status"] == "processing", timeout=60, message="the execution to run")

    status, doc = api.call("DELETE", path)
    assert status == 400 and doc["type"] == "execution_in_progress", doc
    assert doc["message"] == "Can't delete ongoing execution. Please wait for execution to finish before deleting it."
    assert api.ok("GET", path)["status"] == "processing"

    release.touch()
    wait_for(lambda: api.ok("GET", path)["status"] == "completed", timeout=60, message="the execution to finish")
    status, _ = api.call("DELETE", path)
    assert status == 204
    assert api.call("GET", path)[0] == 404
