"""Port of Appwrite 1.9.6 tests/e2e/Services/Functions/FunctionsCustomServerTest.php (the server side:
every request carries the API key), one test per method, against a real emulator (conftest.py).

Methods not ported (they need what the emulator does not emulate) are listed in the README's
"out of scope" list: testCreateFunctionAndDeploymentFromTemplate(Branch|Commit) (template deployments
clone Appwrite's GitHub repositories), testScopes (its build and its function call Appwrite's users service
with the function's key). Parts left out of a ported method are named in its docstring.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import random
import tarfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from email.parser import BytesParser
from email.policy import HTTP

import pytest
from urllib3 import encode_multipart_formdata

from e2e_support import FUNCTIONS, Side, headers_of, package, query, unique
from support import processes_with, wait_for


def is_datetime(value: str) -> bool:
    try:
        datetime.fromisoformat(value)
        return True
    except (TypeError, ValueError):
        return False


TEST_FUNCTION = {"name": "Test", "runtime": "node-22", "entrypoint": "index.js",
                 "events": ["buckets.*.create", "buckets.*.delete"], "timeout": 10}
UPDATED_FUNCTION = {"name": "Test1", "events": ["users.*.update.name", "users.*.update.email"],
                    "schedule": "0 0 1 1 *", "timeout": 15, "runtime": "node-22", "entrypoint": "index.js"}


@pytest.fixture(scope="module")
def shared_function(server_side: Side) -> dict:
    """setupTestFunction: a function with three variables, shared by the tests that only read it."""
    reply = server_side.create_function({"functionId": unique(), **TEST_FUNCTION})
    assert reply.status == 201, reply.body
    function_id = reply.body["$id"]
    for n in (1, 2, 3):
        variable = server_side.create_variable(function_id, {"variableId": "unique()", "key": f"funcKey{n}",
                                                             "value": f"funcValue{n}"})
        assert variable.status == 201, variable.body
    return {"functionId": function_id}


@pytest.fixture(scope="module")
def shared_deployment(server_side: Side, shared_function: dict) -> dict:
    """setupTestDeployment: the function updated as testUpdateFunction does, GLOBAL_VARIABLE, an active
    `basic` deployment (and an inactive one, deleted again)."""
    function_id = shared_function["functionId"]
    assert server_side.update_function(function_id, UPDATED_FUNCTION).status == 200
    variable = server_side.create_variable(function_id, {"variableId": "unique()", "key": "GLOBAL_VARIABLE",
                                                         "value": "Global Variable Value"})
    assert variable.status == 201, variable.body
    active = server_side.create_deployment(function_id, "basic", activate=True)
    assert active.status == 202, active.body
    server_side.wait_ready(function_id, active.body["$id"])
    inactive = server_side.create_deployment(function_id, "basic", activate="false")
    assert inactive.status == 202, inactive.body
    server_side.wait_ready(function_id, inactive.body["$id"])
    assert server_side.get_function(function_id).body["deploymentId"] == active.body["$id"]
    assert server_side.delete_deployment(function_id, inactive.body["$id"]).status == 204
    return {**shared_function, "deploymentId": active.body["$id"]}


@pytest.fixture(scope="module")
def shared_execution(server_side: Side, shared_deployment: dict) -> dict:
    """setupTestExecution: one completed synchronous execution of the shared deployment."""
    execution = server_side.create_execution(shared_deployment["functionId"], {"async": "false"})
    assert execution.status == 201, execution.body
    assert execution.body["status"] == "completed"
    return {**shared_deployment, "executionId": execution.body["$id"]}


def test_list_specs(server_side: Side):
    """FunctionsCustomServerTest::testListSpecs"""
    specs = server_side.list_specifications()
    assert specs.status == 200
    assert specs.body["total"] >= 2
    for spec in specs.body["specifications"][:2]:
        assert {"memory", "cpus", "enabled", "slug"} <= set(spec)
    build, runtime = specs.body["specifications"][0]["slug"], specs.body["specifications"][1]["slug"]

    function = server_side.create_function({"functionId": unique(), "name": "Specs function", "runtime": "node-22",
                                            "buildSpecification": build, "runtimeSpecification": runtime})
    assert function.status == 201, function.body
    assert (function.body["buildSpecification"], function.body["runtimeSpecification"]) == (build, runtime)
    function = server_side.get_function(function.body["$id"])
    assert function.status == 200
    assert (function.body["buildSpecification"], function.body["runtimeSpecification"]) == (build, runtime)
    server_side.cleanup_function(function.body["$id"])

    for param in ("buildSpecification", "runtimeSpecification"):
        function = server_side.create_function({"functionId": unique(), "name": "Specs function",
                                                "runtime": "node-22", param: "cheap-please"})
        assert function.status == 400, function.body


def test_create_function(server_side: Side):
    """FunctionsCustomServerTest::testCreateFunction"""
    function = server_side.create_function({"functionId": unique(), **TEST_FUNCTION})
    assert function.status == 201, function.body
    body = function.body
    assert body["$id"] and body["name"] == "Test" and body["runtime"] == "node-22"
    assert is_datetime(body["$createdAt"]) and is_datetime(body["$updatedAt"])
    assert body["deploymentId"] == ""
    assert body["events"] == ["buckets.*.create", "buckets.*.delete"]
    assert not body["schedule"]
    assert body["timeout"] == 10
    for n in (1, 2, 3):
        variable = server_side.create_variable(body["$id"], {"variableId": "unique()", "key": f"funcKey{n}",
                                                             "value": f"funcValue{n}"})
        assert variable.status == 201, variable.body


def test_list_functions(server_side: Side, shared_function: dict):
    """FunctionsCustomServerTest::testListFunctions"""
    function_id = shared_function["functionId"]
    functions = server_side.list_functions({"search": function_id})
    assert functions.status == 200
    assert len(functions.body["functions"]) == 1 and functions.body["functions"][0]["name"] == "Test"

    functions = server_side.list_functions({"queries": [query("limit", values=[1])]})
    assert functions.status == 200 and len(functions.body["functions"]) == 1
    functions = server_side.list_functions({"queries": [query("limit", values=[1]), query("offset", values=[1])]})
    assert functions.status == 200 and isinstance(functions.body["functions"], list)
    functions = server_side.list_functions({"queries": [query("equal", "enabled", [True])]})
    assert functions.status == 200 and len(functions.body["functions"]) >= 1
    functions = server_side.list_functions({"queries": [query("equal", "enabled", [False])]})
    assert functions.status == 200 and isinstance(functions.body["functions"], list)
    for search in ("Test", "node-22"):
        functions = server_side.list_functions({"search": search})
        assert functions.status == 200 and len(functions.body["functions"]) >= 1
        assert function_id in [f["$id"] for f in functions.body["functions"]]

    server_side.setup_function({"functionId": unique(), **TEST_FUNCTION, "name": "Test 2"})
    functions = server_side.list_functions()
    assert functions.status == 200
    assert functions.body["total"] >= 2 and len(functions.body["functions"]) >= 2
    names = [f["name"] for f in functions.body["functions"]]
    assert "Test" in names and "Test 2" in names
    first, second = functions.body["functions"][names.index("Test")], functions.body["functions"][names.index("Test 2")]

    after = server_side.list_functions({"queries": [query("cursorAfter", values=[first["$id"]])]})
    assert after.status == 200 and "Test 2" in [f["name"] for f in after.body["functions"]]
    before = server_side.list_functions({"queries": [query("cursorBefore", values=[second["$id"]])]})
    assert before.status == 200 and "Test" in [f["name"] for f in before.body["functions"]]

    unknown = server_side.list_functions({"queries": [query("cursorAfter", values=["unknown"])]})
    assert unknown.status == 400, unknown.body


def test_get_function(server_side: Side, shared_function: dict):
    """FunctionsCustomServerTest::testGetFunction"""
    function = server_side.get_function(shared_function["functionId"])
    assert function.status == 200 and function.body["name"] == "Test"
    assert server_side.get_function("x").status == 404


def test_update_function(server_side: Side):
    """FunctionsCustomServerTest::testUpdateFunction"""
    function_id = server_side.setup_function({"functionId": unique(), **TEST_FUNCTION})
    function = server_side.update_function(function_id, UPDATED_FUNCTION)
    assert function.status == 200, function.body
    body = function.body
    assert body["$id"] and body["name"] == "Test1"
    assert is_datetime(body["$createdAt"]) and is_datetime(body["$updatedAt"])
    assert body["deploymentId"] == ""
    assert body["events"] == ["users.*.update.name", "users.*.update.email"]
    assert body["schedule"] == "0 0 1 1 *" and body["timeout"] == 15
    variable = server_side.create_variable(function_id, {"variableId": "unique()", "key": "GLOBAL_VARIABLE",
                                                         "value": "Global Variable Value"})
    assert variable.status == 201, variable.body


def test_create_deployment_from_cli(server_side: Side):
    """FunctionsCustomServerTest::testCreateDeploymentFromCLI (the function's `execute` names a user
    role; no user is signed in here, the role is only stored)."""
    function_id = server_side.setup_function({
        "functionId": unique(), "name": "Test", "execute": ["user:e2e-user"], "runtime": "node-22",
        "entrypoint": "index.js", "events": ["users.*.create", "users.*.delete"], "schedule": "0 0 1 1 *",
        "timeout": 10})
    deployment = server_side.create_deployment(function_id, "basic", headers={"x-sdk-language": "cli"},
                                               activate=True)
    assert deployment.status == 202, deployment.body
    ready = server_side.wait_ready(function_id, deployment.body["$id"])
    assert ready["type"] == "cli"


def test_create_deployment_with_single_content_range_chunk(server_side: Side):
    """FunctionsCustomServerTest::testCreateDeploymentWithSingleContentRangeChunk"""
    function_id = server_side.setup_function({"functionId": unique(), "name": "Test Single Chunk Range",
                                              "execute": ["user:e2e-user"], "runtime": "node-22",
                                              "entrypoint": "index.js", "timeout": 10})
    code = package("basic")
    deployment = server_side.create_deployment(function_id, code=code, activate=True,
                                               headers={"content-range": f"bytes 0-{len(code) - 1}/{len(code)}"})
    assert deployment.status == 202, deployment.body
    assert deployment.body["$id"]
    server_side.wait_ready(function_id, deployment.body["$id"])
    server_side.cleanup_function(function_id)


def test_create_deployment(server_side: Side):
    """FunctionsCustomServerTest::testCreateDeployment"""
    function_id = server_side.setup_function({
        "functionId": unique(), "name": "Test Deployment", "runtime": "node-22", "entrypoint": "index.js",
        "events": ["users.*.update.name", "users.*.update.email"], "schedule": "0 0 1 1 *", "timeout": 15})
    deployment = server_side.create_deployment(function_id, "basic", activate=True)
    assert deployment.status == 202, deployment.body
    assert deployment.body["$id"] and deployment.body["status"] == "waiting"
    assert is_datetime(deployment.body["$createdAt"]) and deployment.body["entrypoint"] == "index.js"
    active = deployment.body["$id"]
    server_side.wait_ready(function_id, active)

    deployment = server_side.create_deployment(function_id, "basic", activate="false")
    assert deployment.status == 202 and deployment.body["$id"]
    inactive = deployment.body["$id"]
    server_side.wait_ready(function_id, inactive)

    function = server_side.get_function(function_id)
    assert function.status == 200
    assert function.body["deploymentId"] == active != inactive
    assert server_side.delete_deployment(function_id, inactive).status == 204


def test_cancel_deployment_build(server_side: Side, shared_deployment: dict):
    """FunctionsCustomServerTest::testCancelDeploymentBuild. Appwrite's build of `basic` takes seconds, long
    enough to be seen `building`; here it takes none, so the deployment's build command holds it (a
    `commands` parameter the route takes) until the cancel ends it."""
    function_id = shared_deployment["functionId"]
    token = f"held-build-{unique()}"
    deployment = server_side.create_deployment(function_id, "basic", activate="false",
                                               commands=f"sleep 300 && echo {token}")
    assert deployment.status == 202 and deployment.body["$id"]
    assert is_datetime(deployment.body["$createdAt"]) and deployment.body["entrypoint"] == "index.js"
    deployment_id = deployment.body["$id"]
    wait_for(lambda: server_side.get_deployment(function_id, deployment_id).body["status"] == "building",
             timeout=100, interval=0.05, message="the build to be running")
    wait_for(lambda: processes_with(token), timeout=30, message="the build command to run")
    canceled = server_side.cancel_deployment(function_id, deployment_id)
    assert canceled.status == 200 and canceled.body["status"] == "canceled"
    wait_for(lambda: "Build has been canceled." in server_side.get_deployment(function_id, deployment_id)
             .body["buildLogs"], message="the build log to say it was canceled")
    assert server_side.get_deployment(function_id, deployment_id).body["status"] == "canceled"
    assert server_side.get_function(function_id).body["deploymentId"] == shared_deployment["deploymentId"]
    wait_for(lambda: not processes_with(token), timeout=30, message="the canceled build's command to end")


def test_create_deployment_parallel_chunks_large_file(server_side: Side, tmp_path):
    """FunctionsCustomServerTest::testCreateDeploymentParallelChunksLargeFile: a 20 MB archive sent as
    5 MiB chunks all at once, under an id the client chose."""
    function_id = server_side.setup_function({"functionId": unique(), "name": "Test Parallel Chunk Deployment",
                                              "execute": ["user:e2e-user"], "runtime": "node-22",
                                              "entrypoint": "index.js", "timeout": 10})
    deployment_id = unique()
    folder = tmp_path / "parallel"
    folder.mkdir()
    (folder / "index.js").write_bytes((FUNCTIONS / "basic" / "index.js").read_bytes())
    (folder / "large.bin").write_bytes(os.urandom(20 * 1024 * 1024))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for path in sorted(folder.iterdir()):
            tar.add(path, arcname=path.name)
    source = buf.getvalue()
    chunk = 5 * 1024 * 1024
    starts = list(range(0, len(source), chunk))
    assert len(starts) >= 4

    def send(start: int):
        end = min(start + chunk, len(source)) - 1
        return server_side.create_deployment(
            function_id, code=source[start:end + 1], entrypoint="index.js", activate=True,
            headers={"x-appwrite-id": deployment_id, "content-range": f"bytes {start}-{end}/{len(source)}"})

    with ThreadPoolExecutor(len(starts)) as pool:
        replies = list(pool.map(send, starts))
    for reply in replies:
        assert reply.status == 202, reply.body
    ready = server_side.wait_ready(function_id, deployment_id)
    assert ready["$id"] == deployment_id
    server_side.cleanup_function(function_id)


CHUNK = 5 * 1024 * 1024  # the SDKs' and the e2e suite's upload chunk


@pytest.fixture(scope="module")
def large_code() -> bytes:
    """Appwrite's `large` resource: index.js beside a ~7 MB video. The video is stood in for by 7 MiB of
    random bytes (incompressible, as video is), written at test time rather than kept in the repository."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.add(FUNCTIONS / "large" / "index.js", arcname="index.js")
        video = os.urandom(7 * 1024 * 1024)
        info = tarfile.TarInfo("blue.mp4")
        info.size = len(video)
        tar.addfile(info, io.BytesIO(video))
    return buf.getvalue()


def test_create_deployment_large(server_side: Side, large_code: bytes):
    """FunctionsCustomServerTest::testCreateDeploymentLarge: a ~7 MB archive in 5 MiB chunks, with a
    build command that copies the video (so the build output passes 10 MB). The original uploads to the
    shared test function; this one uses a function of its own, so the shared deployment stays active."""
    function_id = server_side.setup_function({"functionId": unique(), **TEST_FUNCTION})
    deployment_id = ""
    reply = None
    for start in range(0, len(large_code), CHUNK):
        end = min(start + CHUNK, len(large_code)) - 1
        headers = {"content-range": f"bytes {start}-{end}/{len(large_code)}"}
        if deployment_id:
            headers["x-appwrite-id"] = deployment_id
        reply = server_side.create_deployment(function_id, code=large_code[start:end + 1], headers=headers,
                                              entrypoint="index.js", activate=True,
                                              commands="cp blue.mp4 copy.mp4 && ls -al")
        deployment_id = reply.body["$id"]
    assert reply.status == 202, reply.body
    assert reply.body["$id"] and is_datetime(reply.body["$createdAt"])
    assert reply.body["entrypoint"] == "index.js"
    assert 5 * 1024 * 1024 < reply.body["sourceSize"] < 10 * 1024 * 1024
    ready = server_side.wait_ready(function_id, deployment_id)
    assert ready["sourceSize"] == reply.body["sourceSize"]
    assert ready["buildSize"] > 10 * 1024 * 1024
    server_side.cleanup_function(function_id)


def test_create_deployment_out_of_order(server_side: Side, large_code: bytes):
    """FunctionsCustomServerTest::testCreateDeploymentOutOfOrder: the last chunk first, then the first,
    the second, and the rest shuffled (with two chunks, as here and in the original, the last one is
    sent twice). A function of its own, as in test_create_deployment_large."""
    function_id = server_side.setup_function({"functionId": unique(), **TEST_FUNCTION})
    chunks = [(start, min(start + CHUNK, len(large_code)) - 1) for start in range(0, len(large_code), CHUNK)]
    assert len(chunks) >= 2
    rest = list(range(2, len(chunks) - 1))
    random.shuffle(rest)
    deployment_id = ""
    for index in [len(chunks) - 1, 0, 1, *rest]:
        start, end = chunks[index]
        headers = {"content-range": f"bytes {start}-{end}/{len(large_code)}"}
        if deployment_id:
            headers["x-appwrite-id"] = deployment_id
        reply = server_side.create_deployment(function_id, code=large_code[start:end + 1], headers=headers,
                                              entrypoint="index.js", activate=True)
        assert reply.status == 202, reply.body
        deployment_id = reply.body["$id"]
    server_side.wait_ready(function_id, deployment_id)
    server_side.cleanup_function(function_id)


def test_update_deployment(server_side: Side, shared_deployment: dict):
    """FunctionsCustomServerTest::testUpdateDeployment (the pre-1.7 `PATCH .../deployments/{id}`)."""
    response = server_side.call("PATCH", f"/functions/{shared_deployment['functionId']}/deployments/"
                                         f"{shared_deployment['deploymentId']}", [])
    assert response.status == 200, response.body
    assert response.body["$id"]
    assert is_datetime(response.body["$createdAt"]) and is_datetime(response.body["$updatedAt"])
    assert response.body["deploymentId"] == shared_deployment["deploymentId"]


def test_list_deployments(server_side: Side, shared_deployment: dict):
    """FunctionsCustomServerTest::testListDeployments"""
    function_id = shared_deployment["functionId"]
    deployments = server_side.list_deployments(function_id)
    assert deployments.status == 200
    assert deployments.body["total"] >= 1 and len(deployments.body["deployments"]) >= 1
    assert {"sourceSize", "buildSize"} <= set(deployments.body["deployments"][0])

    deployments = server_side.list_deployments(function_id, {"queries": [query("limit", values=[1])]})
    assert deployments.status == 200 and len(deployments.body["deployments"]) == 1

    for selected in ("status", "buildLogs"):
        deployments = server_side.list_deployments(function_id, {"queries": [query("select", values=[selected])]})
        assert deployments.status == 200 and len(deployments.body["deployments"]) >= 1
        for deployment in deployments.body["deployments"]:
            assert selected in deployment and "sourceSize" not in deployment, deployment

    deployments = server_side.list_deployments(function_id, {"queries": [query("offset", values=[1])]})
    assert deployments.status == 200 and isinstance(deployments.body["deployments"], list)
    deployments = server_side.list_deployments(function_id)
    assert deployments.status == 200 and isinstance(deployments.body["deployments"], list)

    def total(*queries) -> int:
        reply = server_side.list_deployments(function_id, {"queries": list(queries)})
        assert reply.status == 200, reply.body
        return reply.body["total"]

    assert total(query("equal", "type", ["manual"])) >= 1
    assert total(query("equal", "type", ["vcs"])) == 0
    assert total(query("equal", "type", ["invalid-string"])) == 0
    assert total(query("greaterThan", "sourceSize", 0)) >= 1
    assert total(query("greaterThan", "sourceSize", -100)) >= 1

    # As the original: the limit query is passed as a bare parameter, not under `queries`.
    deployments = server_side.list_deployments(function_id, [query("limit", values=[1])])
    assert deployments.status == 200 and deployments.body["total"] >= 1
    first = deployments.body["deployments"][0]
    assert first["$id"] and first["sourceSize"]
    matching = server_side.list_deployments(function_id, {"queries": [query("equal", "sourceSize",
                                                                            [first["sourceSize"]])]})
    assert matching.status == 200 and matching.body["total"] > 0
    same = [d for d in matching.body["deployments"] if d["$id"] == first["$id"]]
    assert same and same[0]["sourceSize"] == first["sourceSize"]


def test_get_deployment(server_side: Side, shared_deployment: dict):
    """FunctionsCustomServerTest::testGetDeployment"""
    deployment = server_side.get_deployment(shared_deployment["functionId"], shared_deployment["deploymentId"])
    assert deployment.status == 200
    assert deployment.body["buildDuration"] > 0
    assert deployment.body["status"] and deployment.body["buildLogs"]
    assert {"sourceSize", "buildSize"} <= set(deployment.body)
    assert server_side.get_deployment(shared_deployment["functionId"], "x").status == 404


def test_create_execution(server_side: Side, shared_deployment: dict):
    """FunctionsCustomServerTest::testCreateExecution"""
    function_id = shared_deployment["functionId"]
    started = time.monotonic()
    execution = server_side.create_execution(function_id, {"async": "false"})
    round_trip = time.monotonic() - started
    assert execution.status == 201, execution.body
    body = execution.body
    assert body["responseHeaders"]
    assert headers_of(body, "responseHeaders").get("x-appwrite-execution-id") == body["$id"]
    assert body["$id"] and body["functionId"] == function_id and is_datetime(body["$createdAt"])
    assert body["status"] == "completed" and body["responseStatusCode"] == 200
    for expected in (function_id, shared_deployment["deploymentId"], "Test1", "http", "Node.js", "22",
                     "Global Variable Value"):
        assert expected in body["responseBody"], expected
    assert body["errors"] and body["logs"]
    assert 0 < body["duration"] <= round_trip  # Appwrite's `< 10`, without a wall-clock bound (see below)

    execution = server_side.create_execution(function_id, {"async": "false", "method": "HEAD"})
    assert execution.status == 201, execution.body
    assert execution.body["status"] == "completed" and execution.body["responseStatusCode"] == 200
    assert isinstance(execution.body["responseHeaders"], list)
    assert execution.body["responseBody"] == ""
    assert server_side.delete_execution(function_id, execution.body["$id"]).status == 204

    execution = server_side.create_execution(function_id, {"async": "false", "path": "/?code=400"})
    assert execution.status == 201, execution.body
    assert execution.body["status"] == "completed" and execution.body["responseStatusCode"] == 400
    assert server_side.delete_execution(function_id, execution.body["$id"]).status == 204


def test_list_executions(server_side: Side, shared_execution: dict):
    """FunctionsCustomServerTest::testListExecutions (1.9.6 has no `search` on this route: it is ignored)."""
    function_id, execution_id = shared_execution["functionId"], shared_execution["executionId"]
    executions = server_side.list_executions(function_id)
    assert executions.status == 200
    assert executions.body["total"] >= 1 and len(executions.body["executions"]) >= 1
    assert shared_execution["deploymentId"] in [e["deploymentId"] for e in executions.body["executions"]]

    without_total = server_side.list_executions(function_id, {"total": False})
    assert without_total.status == 200
    assert without_total.body["total"] == 0 and len(without_total.body["executions"]) > 0

    executions = server_side.list_executions(function_id, {"queries": [
        query("equal", "deploymentId", [shared_execution["deploymentId"]])]})
    assert executions.status == 200 and executions.body["total"] >= 1 and executions.body["executions"]
    executions = server_side.list_executions(function_id, {"queries": [query("equal", "deploymentId",
                                                                             ["some-random-id"])]})
    assert executions.status == 200 and executions.body["total"] == 0 and executions.body["executions"] == []
    executions = server_side.list_executions(function_id, {"queries": [query("limit", values=[1])]})
    assert executions.status == 200 and len(executions.body["executions"]) == 1
    executions = server_side.list_executions(function_id, {"queries": [query("offset", values=[0])]})
    assert executions.status == 200 and len(executions.body["executions"]) >= 1
    executions = server_side.list_executions(function_id, {"queries": [query("equal", "trigger", ["http"])]})
    assert executions.status == 200 and len(executions.body["executions"]) >= 1

    for search in (execution_id, function_id):
        executions = server_side.list_executions(function_id, {"search": search})
        assert executions.status == 200
        assert isinstance(executions.body["total"], int) and executions.body["total"] >= 1
        assert function_id in [e["functionId"] for e in executions.body["executions"]]
    assert execution_id in [e["$id"] for e in executions.body["executions"]]


def test_sync_create_execution(server_side: Side, shared_deployment: dict):
    """FunctionsCustomServerTest::testSyncCreateExecution: no parameters at all (PHP sends `[]`)."""
    started = time.monotonic()
    execution = server_side.create_execution(shared_deployment["functionId"])
    round_trip = time.monotonic() - started
    assert execution.status == 201, execution.body
    assert execution.body["status"] == "completed" and execution.body["responseStatusCode"] == 200
    for expected in ("Test1", "http", "Node.js", "22"):
        assert expected in execution.body["responseBody"]
    # Appwrite asserts duration < 1.5: a fixed bound a loaded 2-core CI can break. What it means to say
    # holds without one: the duration is the function's own run in seconds, within the request's time.
    assert 0 < execution.body["duration"] <= round_trip


def test_get_execution(server_side: Side, shared_execution: dict):
    """FunctionsCustomServerTest::testGetExecution"""
    execution = server_side.get_execution(shared_execution["functionId"], shared_execution["executionId"])
    assert execution.status == 200
    assert execution.body["$id"] == shared_execution["executionId"]
    assert execution.body["deploymentId"] == shared_execution["deploymentId"]
    assert server_side.get_execution(shared_execution["functionId"], "x").status == 404


def test_delete_execution(server_side: Side, shared_deployment: dict):
    """FunctionsCustomServerTest::testDeleteExecution. Appwrite queues an async execution, so the delete
    that follows finds it waiting; the emulator starts it at once, so the execution asks `basic` to hold
    its answer (`/hold`, ended by the function's 15 s timeout) to be still processing when deleted."""
    function_id = shared_deployment["functionId"]
    execution = server_side.create_execution(function_id, {"async": "false"})
    assert execution.status == 201, execution.body
    execution_id = execution.body["$id"]
    deleted = server_side.delete_execution(function_id, execution_id)
    assert deleted.status == 204 and not deleted.body
    again = server_side.delete_execution(function_id, execution_id)
    assert again.status == 404
    assert "Execution with the requested ID could not be found" in again.body["message"]

    execution = server_side.create_execution(function_id, {"async": True, "path": "/hold?ms=60000"})
    assert execution.status == 202, execution.body
    refused = server_side.delete_execution(function_id, execution.body["$id"])
    assert refused.status == 400, refused.body
    assert "execution_in_progress" in refused.body["type"]
    assert "Can't delete ongoing execution." in refused.body["message"]
    assert server_side.get_execution(function_id, execution.body["$id"]).status == 200  # still there


def test_update_specs(server_side: Side, shared_deployment: dict):
    """FunctionsCustomServerTest::testUpdateSpecs"""
    function_id = shared_deployment["functionId"]
    settings = {k: v for k, v in UPDATED_FUNCTION.items() if k != "schedule"}
    for spec, memory in (("s-1vcpu-1gb", 1024), ("s-1vcpu-512mb", 512)):
        function = server_side.update_function(function_id, {**settings, "runtimeSpecification": spec})
        assert function.status == 200, function.body
        assert function.body["$id"] and function.body["runtimeSpecification"] == spec
        execution = server_side.create_execution(function_id)
        output = json.loads(execution.body["responseBody"])
        assert int(output["APPWRITE_FUNCTION_CPUS"]) == 1
        assert int(output["APPWRITE_FUNCTION_MEMORY"]) == memory
        if memory == 1024:
            assert output["APPWRITE_FUNCTION_EXECUTION_ID"] == execution.body["$id"]
            assert output["APPWRITE_FUNCTION_CLIENT_IP"]

    for param in ("buildSpecification", "runtimeSpecification"):
        function = server_side.update_function(function_id, {**settings, param: "s-2vcpu-512mb"})
        assert function.status == 400, function.body
        assert function.body["message"].startswith(f"Invalid `{param}` param: Specification must be one of:")


def test_delete_deployment(server_side: Side):
    """FunctionsCustomServerTest::testDeleteDeployment"""
    function_id = server_side.setup_function({"functionId": unique(), "name": "Test Delete Deployment",
                                              "runtime": "node-22", "entrypoint": "index.js", "timeout": 15})
    deployment = server_side.create_deployment(function_id, "basic", activate=True)
    assert deployment.status == 202, deployment.body
    deployment_id = deployment.body["$id"]
    server_side.wait_ready(function_id, deployment_id)
    assert server_side.deployment_dir(function_id, deployment_id).is_dir()
    deleted = server_side.delete_deployment(function_id, deployment_id)
    assert deleted.status == 204 and not deleted.body
    assert server_side.get_deployment(function_id, deployment_id).status == 404
    wait_for(lambda: not server_side.deployment_dir(function_id, deployment_id).exists(),
             message="the deployment's files to be removed")


def test_delete_function(server_side: Side):
    """FunctionsCustomServerTest::testDeleteFunction"""
    function_id = server_side.setup_function({"functionId": unique(), "name": "Test Delete Function",
                                              "runtime": "node-22", "entrypoint": "index.js", "timeout": 15})
    deleted = server_side.delete_function(function_id)
    assert deleted.status == 204 and not deleted.body
    assert server_side.get_function(function_id).status == 404


def test_delete_function_rules_cleanup(server_side: Side):
    """FunctionsCustomServerTest::testDeleteFunctionRulesCleanup, for the function's own domain rule; the
    original also creates a redirect rule (`POST /proxy/rules/redirect`, Appwrite's domains service,
    not emulated), left out here."""
    function_id = server_side.setup_function({"functionId": unique(), "name": "Test Rules Cleanup Function",
                                              "runtime": "node-22", "entrypoint": "index.js", "timeout": 15})
    assert server_side.setup_function_domain(function_id)

    def rules_total() -> int:
        rules = server_side.call("GET", "/proxy/rules", {"queries": [
            query("equal", "deploymentResourceId", [function_id])]})
        assert rules.status == 200, rules.body
        return rules.body["total"]

    assert rules_total() >= 1
    server_side.cleanup_function(function_id)
    wait_for(lambda: rules_total() == 0, timeout=60, interval=0.5, message="the function's rules to be deleted")


@pytest.mark.timeout(120)
def test_execution_timeout(server_side: Side):
    """FunctionsCustomServerTest::testExecutionTimeout"""
    function_id = server_side.setup_function({"functionId": unique(), "name": "Test timeout execution",
                                              "runtime": "node-22", "entrypoint": "index.js", "events": [],
                                              "schedule": "", "timeout": 5})
    server_side.setup_deployment(function_id, "timeout")
    execution = server_side.create_execution(function_id, {"async": True})
    assert execution.status == 202, execution.body
    doc = server_side.wait_execution(function_id, execution.body["$id"], "failed")
    assert doc["responseStatusCode"] == 500
    # Cut at its 5 s timeout, long before the 60 s the function sleeps (Appwrite's `< 20` is a
    # wall-clock bound a loaded machine could overstep; the function's own end cannot be reached).
    assert 2 < doc["duration"] < 60
    assert doc["responseBody"] == "" and doc["logs"] == ""
    assert "timed out" in doc["errors"]
    server_side.cleanup_function(function_id)


@pytest.mark.parametrize("folder,name,entrypoint,runtime_name,runtime_version",
                         [("node", "node-22", "index.js", "Node.js", "22")])
def test_create_custom_execution(server_side: Side, folder, name, entrypoint, runtime_name, runtime_version):
    """FunctionsCustomServerTest::testCreateCustomExecution (its data provider's one enabled row)."""
    function_id = server_side.setup_function({"functionId": unique(), "name": f"Test {name}", "runtime": name,
                                              "entrypoint": entrypoint, "events": [], "timeout": 15})
    variable = server_side.create_variable(function_id, {"variableId": "unique()", "key": "CUSTOM_VARIABLE",
                                                         "value": "variable"})
    assert variable.status == 201
    server_side.setup_deployment(function_id, folder, entrypoint=entrypoint)
    execution = server_side.create_execution(function_id, {"async": "false"})
    assert execution.status == 201, execution.body
    assert execution.body["responseStatusCode"] == 200 and execution.body["responseBody"] == "OK"
    assert not execution.body["logs"] and not execution.body["errors"]

    executions = server_side.list_executions(function_id)
    assert executions.status == 200 and executions.body["total"] == 1
    listed = executions.body["executions"]
    assert len(listed) == 1 and listed[0]["$id"] == execution.body["$id"]
    assert listed[0]["trigger"] == "http" and listed[0]["responseStatusCode"] == 200
    assert listed[0]["responseBody"] == ""  # stored executions keep no response body
    server_side.cleanup_function(function_id)


def test_create_custom_execution_binary_response(server_side: Side):
    """FunctionsCustomServerTest::testCreateCustomExecutionBinaryResponse"""
    function_id = server_side.setup_function({"functionId": unique(), "name": "Test Binary executions",
                                              "runtime": "node-22", "entrypoint": "index.js", "timeout": 15,
                                              "execute": ["any"]})
    server_side.setup_deployment(function_id, "binary-response")
    execution = server_side.call("POST", f"/functions/{function_id}/executions", {"body": None}, multipart=True,
                                 headers={"accept": "multipart/form-data"})
    assert execution.status == 201, execution.body
    ctype = execution.headers["content-type"]
    assert "multipart/form-data" in ctype and "boundary=----" in ctype.split(";")[1]
    assert multipart_field(execution.raw, ctype, "responseBody") == bytes([0, 10, 255])

    execution = server_side.call("POST", f"/functions/{function_id}/executions", {"body": None}, multipart=True,
                                 headers={"accept": "application/json"})
    assert execution.status == 400, execution.body
    assert "Failed to parse response" in execution.body["message"]
    server_side.cleanup_function(function_id)


def multipart_field(raw: bytes, ctype: str, name: str) -> bytes:
    """The bytes of form field `name` in a multipart body."""
    message = BytesParser(policy=HTTP).parsebytes(f"content-type: {ctype}\r\n\r\n".encode() + raw)
    for part in message.iter_parts():
        if part.get_param("name", header="content-disposition") == name:
            return part.get_payload(decode=True)
    raise AssertionError(f"no field {name} in {raw[:300]!r}")


def test_create_custom_execution_binary_request(server_side: Side):
    """FunctionsCustomServerTest::testCreateCustomExecutionBinaryRequest"""
    function_id = server_side.setup_function({"functionId": unique(), "name": "Test Binary executions",
                                              "runtime": "node-22", "entrypoint": "index.js", "timeout": 15,
                                              "execute": ["any"]})
    server_side.setup_deployment(function_id, "binary-request")
    data = bytes([0, 20, 255])
    form, form_type = encode_multipart_formdata({"body": data})  # a plain field (no file name) of raw bytes
    execution = server_side.call("POST", f"/functions/{function_id}/executions", raw=form,
                                 headers={"content-type": form_type, "accept": "application/json"})
    assert execution.status == 201, execution.body
    assert execution.body["responseBody"] == hashlib.md5(data).hexdigest()
    assert execution.headers["content-type"].startswith("application/json")

    # The same bytes in a JSON body are not the same bytes any more.
    execution = server_side.call("POST", f"/functions/{function_id}/executions",
                                 raw=b'{"body":"' + data + b'"}', headers={"content-type": "application/json",
                                                                          "accept": "application/json"})
    body = execution.body if isinstance(execution.body, dict) else {}
    assert body.get("responseBody") != hashlib.md5(data).hexdigest()
    server_side.cleanup_function(function_id)


def test_get_runtimes(guest_side: Side):
    """FunctionsCustomServerTest::testGetRuntimes (sent without the key, as the original)."""
    runtimes = guest_side.call("GET", "/functions/runtimes")
    assert runtimes.status == 200, runtimes.body
    assert runtimes.body["total"] > 0
    assert {"$id", "name", "key", "version", "logo", "image", "base", "supports"} <= set(runtimes.body["runtimes"][0])


def test_event_trigger(server_side: Side):
    """FunctionsCustomServerTest::testEventTrigger. The emulator has no users service: instead of creating
    a user, the test delivers the `users.{id}.create` event it would raise (POST /v1/emulator/events)."""
    function_id = server_side.setup_function({"functionId": unique(), "name": "Test Event executions",
                                              "runtime": "node-22", "entrypoint": "index.js",
                                              "events": ["users.*.create"], "timeout": 15})
    server_side.setup_deployment(function_id, "event-handler")
    user_id = unique()
    delivered = server_side.call("POST", "/emulator/events", {"event": f"users.{user_id}.create",
                                                              "data": {"$id": user_id, "name": "Event User"}})
    assert delivered.status < 300, delivered.body

    last = wait_for(lambda: server_side.latest_finished_execution(function_id),
                    timeout=60, interval=0.2, message="the event-triggered execution")
    assert last["status"] == "completed" and last["responseStatusCode"] == 204
    assert user_id in last["logs"] and "Event User" in last["logs"]
    assert last["$id"]
    assert headers_of(last, "requestHeaders").get("x-appwrite-client-ip", "") == ""
    server_side.cleanup_function(function_id)


def test_cookie_execution(server_side: Side):
    """FunctionsCustomServerTest::testCookieExecution"""
    function_id = server_side.setup_function({"functionId": unique(), "name": "Test Cookie executions",
                                              "runtime": "node-22", "entrypoint": "index.js", "timeout": 15})
    deployment_id = server_side.setup_deployment(function_id, "cookies")
    cookie = "cookieName=cookieValue; cookie2=value2; cookie3=value=3; cookie4=val:ue4; cookie5=value5"
    execution = server_side.create_execution(function_id, {"async": "false", "headers": {"cookie": cookie}})
    assert execution.status == 201, execution.body
    assert execution.body["status"] == "completed" and execution.body["responseStatusCode"] == 200
    assert execution.body["responseBody"] == cookie
    assert execution.body["duration"] > 0
    assert_sizes(server_side.get_deployment(function_id, deployment_id))
    server_side.cleanup_function(function_id)


def assert_sizes(deployment) -> None:
    assert deployment.status == 200
    assert deployment.body["sourceSize"] > 0 and deployment.body["buildSize"] > 0
    assert deployment.body["totalSize"] == deployment.body["sourceSize"] + deployment.body["buildSize"]


def test_functions_domain(server_side: Side):
    """FunctionsCustomServerTest::testFunctionsDomain"""
    function_id = server_side.setup_function({"functionId": unique(), "name": "Test Cookie executions",
                                              "runtime": "node-22", "entrypoint": "index.js", "timeout": 15,
                                              "execute": ["any"]})
    domain = server_side.setup_function_domain(function_id)
    server_side.setup_deployment(function_id, "cookies")
    cookie = "cookieName=cookieValue; cookie2=value2; cookie3=value=3; cookie4=val:ue4; cookie5=value5"
    response = server_side.on_domain(domain, "GET", "/", {"content-type": "application/json",
                                                          "x-appwrite-project": server_side.project, "cookie": cookie})
    assert response.status == 200, response.body
    assert response.body == cookie or response.raw == cookie.encode()
    assert response.headers.get("x-appwrite-execution-id")
    wait_for(lambda: len(server_side.list_executions(function_id).body["executions"]) == 1,
             message="the domain's execution to be recorded")

    def usage_counts():
        usage = server_side.get_usage(function_id, {"range": "24h"})
        assert usage.status == 200 and len(usage.body) == 24 and usage.body["range"] == "24h"
        return usage.body["executionsTotal"] == 1
    wait_for(usage_counts, message="usage to count the execution")
    server_side.cleanup_function(function_id)


def test_functions_domain_binary_response(server_side: Side):
    """FunctionsCustomServerTest::testFunctionsDomainBinaryResponse"""
    function_id = server_side.setup_function({"functionId": unique(), "name": "Test Binary executions",
                                              "runtime": "node-22", "entrypoint": "index.js", "timeout": 15,
                                              "execute": ["any"]})
    domain = server_side.setup_function_domain(function_id)
    server_side.setup_deployment(function_id, "binary-response")
    response = server_side.on_domain(domain, "GET", "/")
    assert response.status == 200
    assert response.raw == bytes([0, 10, 255])
    server_side.cleanup_function(function_id)


def test_functions_domain_binary_request(server_side: Side):
    """FunctionsCustomServerTest::testFunctionsDomainBinaryRequest"""
    function_id = server_side.setup_function({"functionId": unique(), "name": "Test Binary executions",
                                              "runtime": "node-22", "entrypoint": "index.js", "timeout": 15,
                                              "execute": ["any"]})
    domain = server_side.setup_function_domain(function_id)
    server_side.setup_deployment(function_id, "binary-request")
    data = bytes([0, 20, 255])
    response = server_side.on_domain(domain, "POST", "/", {"content-type": "text/plain"}, data)
    assert response.status == 200
    assert response.raw == hashlib.md5(data).hexdigest().encode()
    server_side.cleanup_function(function_id)


def test_response_filters(server_side: Side):
    """FunctionsCustomServerTest::testResponseFilters"""
    created = server_side.call(
        "POST", "/functions", {"functionId": unique(), "name": "Test", "runtime": "node-22",
                               "entrypoint": "index.js", "timeout": 15},
        {"x-appwrite-response-format": "1.5.0"})
    assert created.status == 201, created.body
    for field in ("scopes", "specification", "buildSpecification", "runtimeSpecification"):
        assert field not in created.body, field
    function_id = created.body["$id"]

    def get(version: str | None):
        reply = server_side.call("GET", f"/functions/{function_id}", headers={
            "x-appwrite-response-format": version} if version else None)
        assert reply.status == 200
        return reply.body

    old = get("1.5.0")
    assert not {"scopes", "buildSpecification", "runtimeSpecification", "specification"} & set(old)
    v18 = get("1.8.0")
    assert "scopes" in v18 and "specification" in v18
    assert "buildSpecification" not in v18 and "runtimeSpecification" not in v18
    latest = get(None)
    assert "scopes" in latest and "specification" not in latest
    assert "buildSpecification" in latest and "runtimeSpecification" in latest
    server_side.cleanup_function(function_id)


def test_request_filters(server_side: Side):
    """FunctionsCustomServerTest::testRequestFilters: a 1.4 string query under response format 1.4.0."""
    first = server_side.setup_function({"functionId": unique(), "name": "Test", "runtime": "node-22",
                                        "entrypoint": "index.js", "timeout": 15, "execute": ["any"]})
    second = server_side.setup_function({"functionId": unique(), "name": "Test2", "runtime": "node-22",
                                         "entrypoint": "index.js", "timeout": 15, "execute": ["any"]})
    response = server_side.call("GET", "/functions", {"queries": ['equal("name", ["Test2"])']},
                                {"x-appwrite-response-format": "1.4.0"})
    assert response.status == 200, response.body
    assert len(response.body["functions"]) == 1 and response.body["functions"][0]["name"] == "Test2"
    server_side.cleanup_function(first)
    server_side.cleanup_function(second)


def test_function_logging(server_side: Side):
    """FunctionsCustomServerTest::testFunctionLogging"""
    function = server_side.create_function({"functionId": unique(), "runtime": "node-22", "name": "Logging Test",
                                            "entrypoint": "index.js", "logging": False, "execute": ["any"]})
    assert function.status == 201, function.body
    assert function.body["logging"] is False and function.body["$id"]
    function_id = function.body["$id"]
    server_side.setup_function_domain(function_id)
    server_side.setup_deployment(function_id, "basic")

    execution = server_side.create_execution(function_id)
    assert execution.status == 201, execution.body
    assert not execution.body["logs"] and not execution.body["errors"]
    execution = server_side.create_execution(function_id, {"async": True})
    assert execution.status == 202, execution.body
    assert not execution.body["logs"] and not execution.body["errors"] and execution.body["$id"]
    done = server_side.wait_execution(function_id, execution.body["$id"])
    assert not done["logs"] and not done["errors"]

    domain = server_side.get_function_domain(function_id)
    response = server_side.on_domain(domain, "GET", "/", {"content-type": "application/json",
                                                          "x-appwrite-project": server_side.project})
    assert response.status == 200, response.body
    executions = server_side.list_executions(function_id, {"queries": [query("limit", values=[1]),
                                                                       query("orderDesc", "$id")]})
    assert executions.status == 200 and len(executions.body["executions"]) == 1
    assert not executions.body["executions"][0]["logs"] and not executions.body["executions"][0]["errors"]

    def three():
        listed = server_side.list_executions(function_id).body["executions"]
        return listed if len(listed) == 3 else None
    for execution in wait_for(three, message="three executions"):
        assert not execution["logs"] and not execution["errors"]
    server_side.cleanup_function(function_id)


def test_function_specifications(server_side: Side):
    """FunctionsCustomServerTest::testFunctionSpecifications"""
    function = server_side.create_function({
        "functionId": unique(), "runtime": "node-22", "name": "Specification Test", "entrypoint": "index.js",
        "logging": False, "execute": ["any"], "buildSpecification": "s-2vcpu-2gb",
        "runtimeSpecification": "s-1vcpu-1gb", "commands": "echo $APPWRITE_FUNCTION_MEMORY:$APPWRITE_FUNCTION_CPUS"})
    assert function.status == 201, function.body
    assert function.body["buildSpecification"] == "s-2vcpu-2gb"
    assert function.body["runtimeSpecification"] == "s-1vcpu-1gb"
    function_id = function.body["$id"]
    deployment_id = server_side.setup_deployment(function_id, "basic")
    wait_for(lambda: "2048:2" in server_side.get_deployment(function_id, deployment_id).body["buildLogs"],
             timeout=10, message="the build log to show the build specification")
    execution = server_side.create_execution(function_id)
    assert execution.status == 201 and execution.body["$id"]
    output = json.loads(execution.body["responseBody"])
    assert (output["APPWRITE_FUNCTION_MEMORY"], output["APPWRITE_FUNCTION_CPUS"]) == ("1024", "1")
    server_side.cleanup_function(function_id)


def test_duplicate_deployment(server_side: Side):
    """FunctionsCustomServerTest::testDuplicateDeployment"""
    function_id = server_side.setup_function({"functionId": unique(), "runtime": "node-22",
                                              "name": "Duplicate Deployment Test", "entrypoint": "index.js",
                                              "commands": ""})
    first = server_side.setup_deployment(function_id, "basic")
    execution = server_side.create_execution(function_id)
    assert execution.status == 201 and "APPWRITE_FUNCTION_ID" in execution.body["responseBody"]

    function = server_side.update_function(function_id, {"runtime": "node-22", "name": "Duplicate Deployment Test",
                                                         "entrypoint": "index.js",
                                                         "commands": "rm index.js && mv maintenance.js index.js"})
    assert function.status == 200 and "maintenance.js" in function.body["commands"]
    duplicate = server_side.create_duplicate_deployment(function_id, first)
    assert duplicate.status == 202, duplicate.body
    second = duplicate.body["$id"]
    assert second
    # Not built yet when it is created; a read may already find its build done (here a build takes
    # milliseconds): then the build counts too.
    assert duplicate.body["buildSize"] == 0 and duplicate.body["totalSize"] == duplicate.body["sourceSize"] > 0
    deployment = server_side.get_deployment(function_id, second)
    assert deployment.status == 200 and deployment.body["sourceSize"] > 0
    assert deployment.body["totalSize"] == deployment.body["sourceSize"] + deployment.body["buildSize"]
    assert (deployment.body["buildSize"] > 0) == (deployment.body["status"] == "ready"), deployment.body
    wait_for(lambda: server_side.get_function(function_id).body["deploymentId"] == second, timeout=60,
             message="the duplicate to be active")
    execution = server_side.create_execution(function_id)
    assert execution.status == 201 and "Maintenance" in execution.body["responseBody"]
    assert_sizes(server_side.get_deployment(function_id, second))
    server_side.cleanup_function(function_id)


def test_update_deployment_status(server_side: Side):
    """FunctionsCustomServerTest::testUpdateDeploymentStatus"""
    function_id = server_side.setup_function({"functionId": unique(), "runtime": "node-22",
                                              "name": "Re-activate Test", "entrypoint": "index.js"})
    function = server_side.get_function(function_id)
    assert function.status == 200
    for field in ("latestDeploymentId", "latestDeploymentCreatedAt", "latestDeploymentStatus"):
        assert field in function.body and not function.body[field]

    def latest(deployment_id: str, active: str):
        function = server_side.get_function(function_id)
        assert function.status == 200
        assert function.body["latestDeploymentId"] == deployment_id
        assert function.body["latestDeploymentStatus"] == "ready"
        assert function.body["deploymentId"] == active

    def runs(expected: str, headers=None):
        execution = server_side.create_execution(function_id, {"headers": headers} if headers else None)
        assert execution.status == 201 and execution.body["$id"]
        assert expected in execution.body["responseBody"]

    first = server_side.setup_deployment(function_id, "cookies")
    latest(first, first)
    runs("cookieValue", {"cookie": "cookieName=cookieValue"})
    second = server_side.setup_deployment(function_id, "basic")
    latest(second, second)
    runs("UNICODE_TEST")
    latest(second, second)

    function = server_side.update_function_deployment(function_id, first)
    assert function.status == 200 and function.body["deploymentId"] == first
    latest(second, first)
    runs("cookieValue", {"cookie": "cookieName=cookieValue"})

    assert server_side.delete_deployment(function_id, second).status == 204
    latest(first, first)
    server_side.cleanup_function(function_id)


def error_pages_function(server_side: Side, commands: str, execute: str) -> tuple[str, str]:
    """The function the three error-page methods create (their build commands and execute role
    differ), and its domain."""
    function_id = server_side.setup_function({"functionId": unique(), "name": "Test Error Pages",
                                              "runtime": "node-22", "entrypoint": "index.js", "timeout": 15,
                                              "commands": commands, "execute": [execute]})
    return function_id, server_side.setup_function_domain(function_id)


def test_error_pages(server_side: Side):
    """FunctionsCustomServerTest::testErrorPages"""
    nothing = server_side.on_domain("non-existent-page.functions.localhost", "GET", "/")
    assert nothing.status == 404
    assert "Nothing is here yet" in str(nothing.body) and "Start with this domain" in str(nothing.body)

    function_id, domain = error_pages_function(server_side, "cd non-existing-directory", "any")
    headers = {"content-type": "application/json", "x-appwrite-project": server_side.project}
    deployment = server_side.create_deployment(function_id, "basic", activate=True)
    assert deployment.status == 202
    page = server_side.on_domain(domain, "GET", "/", headers)
    assert page.status == 404
    assert "No active deployments" in str(page.body) and "View deployments" in str(page.body)

    # Appwrite's build of `basic` is still running when the test cancels it; here a build takes no
    # time, so its command holds it (as in test_cancel_deployment_build) until the cancel ends it.
    deployment = server_side.create_deployment(function_id, "basic", activate=True, commands="sleep 300")
    assert deployment.status == 202
    wait_for(lambda: server_side.get_deployment(function_id, deployment.body["$id"]).body["status"] == "building",
             timeout=100, interval=0.05, message="the build to be running")
    canceled = server_side.cancel_deployment(function_id, deployment.body["$id"])
    assert canceled.status == 200 and canceled.body["status"] == "canceled"
    page = server_side.on_domain(domain, "GET", "/", headers)
    assert page.status == 404
    assert "No active deployments" in str(page.body) and "View deployments" in str(page.body)
    server_side.cleanup_function(function_id)


def test_error_pages_permissions(server_side: Side):
    """FunctionsCustomServerTest::testErrorPagesPermissions"""
    function_id, domain = error_pages_function(server_side, "", "users")
    assert server_side.setup_deployment(function_id, "basic")
    page = server_side.on_domain(domain, "GET", "/", {"content-type": "application/json",
                                                      "x-appwrite-project": server_side.project})
    assert page.status == 401
    assert "Execution not permitted" in str(page.body) and "View settings" in str(page.body)
    server_side.cleanup_function(function_id)


def test_error_pages_empty_body(server_side: Side):
    """FunctionsCustomServerTest::testErrorPagesEmptyBody"""
    function_id, domain = error_pages_function(server_side, "", "any")
    assert server_side.setup_deployment(function_id, "basic")
    headers = {"content-type": "application/json", "x-appwrite-project": server_side.project}
    for path, status, words in (
            ("/custom-response?code=404", 404, ("Error 404", "does not exist")),
            ("/custom-response?code=504", 504, ("Error 504", "respond in time")),
            ("/custom-response?code=400", 400, ("Error 400", "unexpected client error")),
            ("/custom-response?code=500", 500, ("Error 500", "unexpected server error")),
            ("/custom-response?code=400&body=CustomError400", 400, ("CustomError400",)),
            ("/custom-response?code=500&body=CustomError500", 500, ("CustomError500",))):
        page = server_side.on_domain(domain, "GET", path, headers)
        assert page.status == status, (path, page.status)
        for word in words:
            assert word in page.raw.decode(errors="replace"), (path, word)
    server_side.cleanup_function(function_id)


def test_log_and_error_truncation(server_side: Side):
    """FunctionsCustomServerTest::testLogAndErrorTruncation"""
    limit = 1_000_000  # APP_FUNCTION_LOG_LENGTH_LIMIT and APP_FUNCTION_ERROR_LENGTH_LIMIT
    function_id = server_side.setup_function({"functionId": unique(), "name": "Test Log Truncation",
                                              "runtime": "node-22", "entrypoint": "index.js", "timeout": 15})
    server_side.setup_deployment(function_id, "log-error-truncation")
    execution = server_side.create_execution(function_id, {"async": "false"})
    assert execution.status == 201, execution.body
    assert execution.body["responseStatusCode"] == 200
    for key, warning in (("logs", "[WARNING] Logs truncated"), ("errors", "[WARNING] Errors truncated")):
        text = execution.body[key]
        assert len(text.encode()) <= limit
        assert text.startswith(warning), text[:100]
        assert "a" in text
    server_side.cleanup_function(function_id)


def test_function_deployment_retention(server_side: Side):
    """FunctionsCustomServerTest::testFunctionDeploymentRetention"""
    created = []

    def create(**extra):
        reply = server_side.create_function({"functionId": unique(), "name": "Test retention function",
                                             "runtime": "node-22", **extra})
        if reply.status == 201:
            created.append(reply.body["$id"])
        return reply

    for extra, expected in (({}, 0), ({"deploymentRetention": 0}, 0), ({"deploymentRetention": 180}, 180)):
        reply = create(**extra)
        assert reply.status == 201 and reply.body["deploymentRetention"] == expected, reply.body
        got = server_side.get_function(reply.body["$id"])
        assert got.status == 200 and got.body["deploymentRetention"] == expected
    for bad in (999999, -1):
        assert create(deploymentRetention=bad).status == 400

    reply = create(deploymentRetention=180)
    assert reply.status == 201 and reply.body["deploymentRetention"] == 180
    function_id = reply.body["$id"]
    for extra, expected in (({"deploymentRetention": 90}, 90), ({}, 0)):
        reply = server_side.update_function(function_id, {"name": "Test retention function", **extra})
        assert reply.status == 200 and reply.body["deploymentRetention"] == expected, reply.body
        got = server_side.get_function(function_id)
        assert got.status == 200 and got.body["deploymentRetention"] == expected
    for bad in (-1, 999999):
        reply = server_side.update_function(function_id, {"name": "Test retention function",
                                                         "deploymentRetention": bad})
        assert reply.status == 400, reply.body
    for function_id in created:
        server_side.cleanup_function(function_id)
