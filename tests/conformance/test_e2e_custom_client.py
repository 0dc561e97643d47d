"""Port of Appwrite 1.9.6 tests/e2e/Services/Functions/FunctionsCustomClientTest.php (the client side),
one test per method, against a real emulator started with `--api-key` (conftest.py).

Appwrite's client side is a signed-in user (a session cookie, no key). The emulator has no user
accounts, so the client here is a guest: a request without credentials, which is what the web SDK
sends. Where the original relies on the user being signed in (a function executable by
`user:<id>` only, the user id and JWT handed to the function), that part is done with the console
session instead (an admin, allowed like the user was) or, for the values only a user has, left out;
each docstring says which. Set-up steps use the API key, as FunctionsBase::setupFunction does.

Not ported: testEventTriggerWithClientAuth (it creates a database, collection and document: Appwrite's
databases service). testListTemplates and testGetTemplate check Appwrite's own template catalogue (a
`query-neo4j-auradb` template, at least three starter/ai templates for node-22, five `databases` ones);
the emulator lists its own starters, so those checks are left out and the rest is ported.
"""
from __future__ import annotations

import json

from e2e_support import Side, unique

USER_ROLE = "user:e2e-user"


def deployed(side: Side, execute: list, name: str = "Test", folder: str = "basic", **extra) -> str:
    function_id = side.setup_function({"functionId": unique(), "name": name, "execute": execute,
                                       "runtime": "node-22", "entrypoint": "index.js", "timeout": 10, **extra})
    side.setup_deployment(function_id, folder)
    return function_id


def test_create_function(guest_side: Side):
    """FunctionsCustomClientTest::testCreateFunction"""
    refused = guest_side.create_function({"functionId": unique(), "name": "Test",
                                          "events": ["users.*.create", "users.*.delete"],
                                          "schedule": "0 0 1 1 *", "timeout": 10})
    assert refused.status == 401, refused.body
    settings = {"name": "Test", "execute": [USER_ROLE], "runtime": "node-22", "entrypoint": "index.js",
                "events": ["users.*.create", "users.*.delete"], "timeout": 10}
    function_id = guest_side.setup_function({"functionId": unique(), **settings})
    duplicate = guest_side.admin.create_function({"functionId": function_id, **settings})
    assert duplicate.status == 409, duplicate.body


def test_create_execution(guest_side: Side, console_side: Side):
    """FunctionsCustomClientTest::testCreateExecution (the user allowed by `execute` is played by the
    console session)."""
    function_id = deployed(guest_side, [USER_ROLE], events=["users.*.create", "users.*.delete"])
    refused = guest_side.create_execution(function_id, {"async": True})
    assert refused.status == 401, refused.body
    allowed = console_side.create_execution(function_id, {"async": True})
    assert allowed.status == 202, allowed.body
    guest_side.cleanup_function(function_id)


def test_create_head_execution(guest_side: Side, console_side: Side):
    """FunctionsCustomClientTest::testCreateHeadExecution (HEAD on the executions list; the user is played
    by the console session)."""
    function_id = deployed(guest_side, [USER_ROLE], events=["users.*.create", "users.*.delete"])
    refused = guest_side.create_execution(function_id, {"async": True})
    assert refused.status == 401, refused.body
    head = console_side.call("HEAD", f"/functions/{function_id}/executions", {"async": True})
    assert head.status == 200
    assert head.raw == b""
    guest_side.cleanup_function(function_id)


def assert_environment(output: dict, function_id: str, name: str, deployment_id: str, project: str) -> None:
    assert output["APPWRITE_FUNCTION_ID"] == function_id
    assert output["APPWRITE_FUNCTION_NAME"] == name
    assert output["APPWRITE_FUNCTION_DEPLOYMENT"] == deployment_id
    assert output["APPWRITE_FUNCTION_TRIGGER"] == "http"
    assert output["APPWRITE_FUNCTION_RUNTIME_NAME"] == "Node.js"
    assert output["APPWRITE_FUNCTION_RUNTIME_VERSION"] == "22"
    assert output["APPWRITE_VERSION"] == "1.9.6"  # APP_VERSION_STABLE
    assert output["APPWRITE_REGION"] == "default"
    assert output["APPWRITE_FUNCTION_EVENT"] == ""
    assert output["APPWRITE_FUNCTION_DATA"] == "foobar"
    assert output["APPWRITE_FUNCTION_PROJECT_ID"] == project


def test_create_custom_execution(guest_side: Side):
    """FunctionsCustomClientTest::testCreateCustomExecution, as a guest: the user id and JWT the original
    expects (`APPWRITE_FUNCTION_USER_ID`, `APPWRITE_FUNCTION_JWT`) need a signed-in user and are left out."""
    function_id = deployed(guest_side, ["any"])
    deployment_id = guest_side.admin.get_function(function_id).body["deploymentId"]
    execution = guest_side.create_execution(function_id, {"body": "foobar", "async": "false"})
    assert execution.status == 201, execution.body
    body = execution.body
    assert body["responseHeaders"]
    assert {h["name"]: h["value"] for h in body["responseHeaders"]}.get("x-appwrite-execution-id") == body["$id"]
    assert body["responseStatusCode"] == 200 and body["duration"] > 0 and body["status"] == "completed"
    output = json.loads(body["responseBody"])
    assert_environment(output, function_id, "Test", deployment_id, guest_side.project)
    assert output["APPWRITE_FUNCTION_EXECUTION_ID"] == body["$id"]
    assert output["APPWRITE_FUNCTION_CLIENT_IP"]

    execution = guest_side.create_execution(function_id, {"body": "foobar", "async": True})
    assert execution.status == 202, execution.body
    done = guest_side.wait_execution(function_id, execution.body["$id"])
    assert done["responseStatusCode"] == 200


def test_create_custom_execution_guest(guest_side: Side):
    """FunctionsCustomClientTest::testCreateCustomExecutionGuest (`vars` and `data` are parameters of
    older versions, sent as the original sends them)."""
    function_id = deployed(guest_side, ["any"], name="Test guest execution",
                           vars={"funcKey1": "funcValue1", "funcKey2": "funcValue2", "funcKey3": "funcValue3"})
    execution = guest_side.create_execution(function_id, {"data": "foobar", "async": True})
    assert execution.status == 202, execution.body


def test_create_execution_no_deployment(guest_side: Side):
    """FunctionsCustomClientTest::testCreateExecutionNoDeployment: no deployment is a 404, whoever asks
    (Appwrite looks for the deployment before it checks `execute`)."""
    function_id = guest_side.setup_function({"functionId": unique(), "name": "Test", "execute": [],
                                             "runtime": "node-22", "entrypoint": "index.js", "timeout": 10})
    execution = guest_side.create_execution(function_id, {"async": True})
    assert execution.status == 404, execution.body


def test_synchronous_execution(guest_side: Side):
    """FunctionsCustomClientTest::testSynchronousExecution, as a guest (user id and JWT left out, see
    test_create_custom_execution). A client never sees the logs and errors."""
    function_id = deployed(guest_side, ["any"], name="Test synchronous execution")
    deployment_id = guest_side.admin.get_function(function_id).body["deploymentId"]
    execution = guest_side.create_execution(function_id, {"body": "foobar"})
    assert execution.status == 201, execution.body
    assert execution.body["status"] == "completed" and execution.body["responseStatusCode"] == 200
    assert_environment(json.loads(execution.body["responseBody"]), function_id, "Test synchronous execution",
                       deployment_id, guest_side.project)
    assert execution.body["logs"] == "" and execution.body["errors"] == ""
    guest_side.cleanup_function(function_id)


def test_non_override_of_headers(guest_side: Side):
    """FunctionsCustomClientTest::testNonOverrideOfHeaders: parameters named like the trigger headers do
    not reach the function as those headers."""
    function_id = deployed(guest_side, ["any"])
    execution = guest_side.create_execution(function_id, {"x-appwrite-event": "OVERRIDDEN",
                                                          "x-appwrite-trigger": "OVERRIDDEN",
                                                          "x-appwrite-user-id": "OVERRIDDEN",
                                                          "x-appwrite-user-jwt": "OVERRIDDEN"})
    assert execution.status == 201, execution.body
    output = json.loads(execution.body["responseBody"])
    for name in ("APPWRITE_FUNCTION_JWT", "APPWRITE_FUNCTION_EVENT", "APPWRITE_FUNCTION_TRIGGER",
                 "APPWRITE_FUNCTION_USER_ID"):
        assert output[name] != "OVERRIDDEN", name
    guest_side.cleanup_function(function_id)


def test_list_templates(guest_side: Side):
    """FunctionsCustomClientTest::testListTemplates, without the checks of Appwrite's own catalogue."""
    templates = guest_side.call("GET", "/functions/templates")
    assert templates.status == 200, templates.body
    assert templates.body["total"] > 0 and isinstance(templates.body["templates"], list)
    without_total = guest_side.call("GET", "/functions/templates", {"total": False})
    assert without_total.status == 200
    assert without_total.body["total"] == 0 and len(without_total.body["templates"]) > 0
    for template in templates.body["templates"]:
        assert {"name", "id", "icon", "tagline", "useCases", "vcsProvider", "runtimes", "variables"} <= set(template)

    # The third template, as a page of one (empty when there are fewer, as with the emulator's one starter).
    offset = guest_side.call("GET", "/functions/templates", {"limit": 1, "offset": 2})
    assert offset.status == 200
    assert [t["id"] for t in offset.body["templates"]] == [t["id"] for t in templates.body["templates"][2:3]]

    filtered = guest_side.call("GET", "/functions/templates", {"useCases": ["starter", "ai"], "runtimes": ["node-22"]})
    assert filtered.status == 200, filtered.body
    assert filtered.body["total"] >= 1  # Appwrite's catalogue has at least 3
    for template in filtered.body["templates"]:
        assert template["useCases"][0] in ("starter", "ai")
        assert "node-22" in [runtime["name"] for runtime in template["runtimes"]]

    assert guest_side.call("GET", "/functions/templates", {"limit": 5001, "offset": 10}).status == 400
    assert guest_side.call("GET", "/functions/templates", {"limit": 5, "offset": 5001}).status == 400


def test_get_template(guest_side: Side):
    """FunctionsCustomClientTest::testGetTemplate: the failure part (`query-neo4j-auradb` is a template of
    Appwrite's catalogue, not one of the emulator's starters)."""
    assert guest_side.get_template("invalid-template-id").status == 404
