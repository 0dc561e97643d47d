"""Port of Appwrite 1.9.6 tests/e2e/Services/Functions/FunctionsConsoleClientTest.php (the console side:
every request carries a console session cookie, here the emulator's `account/sessions/email` login),
one test per method, against a real emulator (conftest.py).

Not ported: testFunctionDeploymentRetentionWithMaintenance (it moves a deployment's creation date with
`docker exec appwrite task-time-travel` and runs Appwrite's maintenance worker: Appwrite's own containers).
The functions' `execute` names a user role (`user:<id>`), as the originals do; the role is only stored.
"""
from __future__ import annotations

import hashlib
import io
import json
import tarfile

import pytest

from e2e_support import Side, query, unique

USER_ROLE = "user:e2e-user"


def new_function(side: Side, name: str, **extra) -> str:
    reply = side.create_function({"functionId": unique(), "name": name, "execute": [USER_ROLE],
                                  "runtime": "node-22", "entrypoint": "index.js", "timeout": 10, **extra})
    assert reply.status == 201, reply.body
    return reply.body["$id"]


def new_variable(side: Side, function_id: str, key: str, value: str, **extra) -> dict:
    reply = side.create_variable(function_id, {"variableId": unique(), "key": key, "value": value, **extra})
    assert reply.status == 201, reply.body
    return reply.body


@pytest.fixture(scope="module")
def shared_function(console_side: Side) -> dict:
    """setupTestFunction"""
    return {"functionId": new_function(console_side, "Test", events=["users.*.create", "users.*.delete"],
                                       schedule="0 0 1 1 *")}


@pytest.fixture(scope="module")
def shared_variables(console_side: Side, shared_function: dict) -> dict:
    """setupTestVariables: one plain and one secret variable on the shared function."""
    function_id = shared_function["functionId"]
    plain = new_variable(console_side, function_id, "APP_TEST", "TESTINGVALUE", secret=False)
    secret = new_variable(console_side, function_id, "APP_TEST_1", "TESTINGVALUE_1", secret=True)
    return {**shared_function, "variableId": plain["$id"], "secretVariableId": secret["$id"]}


def test_create_function(console_side: Side):
    """FunctionsConsoleClientTest::testCreateFunction"""
    new_function(console_side, "Test", events=["users.*.create", "users.*.delete"], schedule="0 0 1 1 *")
    refused = console_side.create_function({"functionId": unique(), "name": "Test Failure",
                                            "execute": ["some-random-string"], "runtime": "node-22",
                                            "entrypoint": "index.js"})
    assert refused.status == 400, refused.body


def test_function_usage(console_side: Side, shared_function: dict):
    """FunctionsConsoleClientTest::testFunctionUsage"""
    usage = console_side.get_usage(shared_function["functionId"], {"range": "24h"})
    assert usage.status == 200, usage.body
    assert len(usage.body) == 24 and usage.body["range"] == "24h"
    for total in ("deploymentsTotal", "deploymentsStorageTotal", "buildsTotal", "buildsStorageTotal",
                  "buildsTimeTotal", "buildsMbSecondsTotal", "executionsTotal", "executionsTimeTotal",
                  "executionsMbSecondsTotal"):
        assert isinstance(usage.body[total], (int, float)), total
    for series in ("deployments", "deploymentsStorage", "builds", "buildsTime", "buildsStorage", "buildsMbSeconds",
                   "executions", "executionsTime", "executionsMbSeconds"):
        assert isinstance(usage.body[series], list), series

    assert console_side.get_usage(shared_function["functionId"], {"range": "232h"}).status == 400
    assert console_side.get_usage("randomFunctionId", {"range": "24h"}).status == 404


def test_create_function_variable(console_side: Side):
    """FunctionsConsoleClientTest::testCreateFunctionVariable"""
    function_id = new_function(console_side, "Test Variable Creation")
    new_variable(console_side, function_id, "APP_TEST", "TESTINGVALUE", secret=False)
    secret = new_variable(console_side, function_id, "APP_TEST_1", "TESTINGVALUE_1", secret=True)
    assert secret["key"] == "APP_TEST_1" and not secret["value"] and secret["secret"] is True

    def create(**params):
        return console_side.create_variable(function_id, {"variableId": unique(), **params})

    assert create(key="APP_TEST", value="ANOTHERTESTINGVALUE", secret=False).status == 409
    assert create(variableId="!invalid-id!", key="INVALID_ID_KEY", value="value").status == 400
    duplicate_id = unique()
    assert create(variableId=duplicate_id, key="DUP_ID_KEY_1", value="value1").status == 201
    assert create(variableId=duplicate_id, key="DUP_ID_KEY_2", value="value2").status == 409
    assert create(key="A" * 256, value="TESTINGVALUE").status == 400
    assert create(key="LONGKEY", value="#" * 8193).status == 400


def test_list_variables(console_side: Side, shared_variables: dict):
    """FunctionsConsoleClientTest::testListVariables"""
    response = console_side.list_variables(shared_variables["functionId"])
    assert response.status == 200
    variables = response.body["variables"]
    assert len(variables) == 2 and response.body["total"] == 2
    assert (variables[0]["key"], variables[0]["value"]) == ("APP_TEST", "TESTINGVALUE")
    assert variables[1]["key"] == "APP_TEST_1" and not variables[1]["value"]


def test_list_variables_with_limit(console_side: Side):
    """FunctionsConsoleClientTest::testListVariablesWithLimit"""
    function_id = new_function(console_side, "Test List Variables With Limit")
    new_variable(console_side, function_id, "LIMIT_KEY_1", "limit-value-1")
    new_variable(console_side, function_id, "LIMIT_KEY_2", "limit-value-2")
    response = console_side.list_variables(function_id, {"queries": [query("limit", values=[1])], "total": True})
    assert response.status == 200, response.body
    assert len(response.body["variables"]) == 1 and response.body["total"] >= 2
    console_side.cleanup_function(function_id)


def test_list_variables_without_total(console_side: Side):
    """FunctionsConsoleClientTest::testListVariablesWithoutTotal"""
    function_id = new_function(console_side, "Test List Variables Without Total")
    new_variable(console_side, function_id, "NO_TOTAL_KEY", "no-total-value")
    response = console_side.list_variables(function_id, {"total": False})
    assert response.status == 200, response.body
    assert response.body["total"] == 0 and len(response.body["variables"]) >= 1
    console_side.cleanup_function(function_id)


def test_list_variables_cursor_pagination(console_side: Side):
    """FunctionsConsoleClientTest::testListVariablesCursorPagination"""
    function_id = new_function(console_side, "Test List Variables Cursor Pagination")
    new_variable(console_side, function_id, "CURSOR_KEY_1", "cursor-value-1")
    new_variable(console_side, function_id, "CURSOR_KEY_2", "cursor-value-2")
    page1 = console_side.list_variables(function_id, {"queries": [query("limit", values=[1])], "total": True})
    assert page1.status == 200 and len(page1.body["variables"]) == 1
    cursor = page1.body["variables"][0]["$id"]
    page2 = console_side.list_variables(function_id, {"queries": [query("limit", values=[1]),
                                                                  query("cursorAfter", values=[cursor])],
                                                      "total": True})
    assert page2.status == 200 and len(page2.body["variables"]) == 1
    assert page2.body["variables"][0]["$id"] != cursor
    console_side.cleanup_function(function_id)


def test_get_variable(console_side: Side, shared_variables: dict):
    """FunctionsConsoleClientTest::testGetVariable"""
    function_id = shared_variables["functionId"]
    plain = console_side.get_variable(function_id, shared_variables["variableId"])
    assert plain.status == 200 and (plain.body["key"], plain.body["value"]) == ("APP_TEST", "TESTINGVALUE")
    secret = console_side.get_variable(function_id, shared_variables["secretVariableId"])
    assert secret.status == 200 and secret.body["key"] == "APP_TEST_1" and not secret.body["value"]
    assert console_side.get_variable(function_id, "NON_EXISTING_VARIABLE").status == 404


def test_update_variable(console_side: Side):
    """FunctionsConsoleClientTest::testUpdateVariable"""
    function_id = new_function(console_side, "Test Update Variable")
    variable_id = new_variable(console_side, function_id, "APP_TEST", "TESTINGVALUE", secret=False)["$id"]
    secret_id = new_variable(console_side, function_id, "APP_TEST_1", "TESTINGVALUE_1", secret=True)["$id"]

    def update(target: str, expect_key: str, expect_value: str | None, **params):
        """Updates, then checks both the answer and what a read returns (`None`: the value is hidden)."""
        response = console_side.update_variable(function_id, target, params)
        assert response.status == 200, response.body
        for doc in (response.body, console_side.get_variable(function_id, target).body):
            assert doc["key"] == expect_key
            assert (not doc["value"]) if expect_value is None else doc["value"] == expect_value
        return response.body

    update(variable_id, "APP_TEST_UPDATE", "TESTINGVALUEUPDATED", key="APP_TEST_UPDATE", value="TESTINGVALUEUPDATED")
    update(secret_id, "APP_TEST_UPDATE_1", None, key="APP_TEST_UPDATE_1", value="TESTINGVALUEUPDATED_1")
    update(variable_id, "APP_TEST_UPDATE_2", "TESTINGVALUEUPDATED", key="APP_TEST_UPDATE_2")
    assert update(variable_id, "APP_TEST_UPDATE_2", None, key="APP_TEST_UPDATE_2", secret=True)["secret"] is True
    assert console_side.get_variable(function_id, variable_id).body["secret"] is True

    # A secret variable stays secret.
    assert console_side.update_variable(function_id, variable_id, {"key": "APP_TEST_UPDATE",
                                                                   "secret": False}).status == 400
    assert console_side.update_variable(function_id, variable_id).status == 400  # no parameters
    assert console_side.update_variable(function_id, variable_id, {"value": "TESTINGVALUEUPDATED_2"}).status == 200
    assert console_side.update_variable(function_id, variable_id, {"key": "A" * 256,
                                                                   "value": "TESTINGVALUEUPDATED"}).status == 400
    assert console_side.update_variable(function_id, variable_id, {"key": "APP_TEST_UPDATE",
                                                                   "value": "#" * 8193}).status == 400


def test_update_variable_key(console_side: Side):
    """FunctionsConsoleClientTest::testUpdateVariableKey"""
    function_id = new_function(console_side, "Test Update Variable Key")
    variable_id = new_variable(console_side, function_id, "KEY_BEFORE", "unchanged-value", secret=False)["$id"]
    response = console_side.update_variable(function_id, variable_id, {"key": "KEY_AFTER"})
    assert response.status == 200, response.body
    assert (response.body["key"], response.body["value"]) == ("KEY_AFTER", "unchanged-value")
    console_side.cleanup_function(function_id)


def test_update_variable_value_only(console_side: Side):
    """FunctionsConsoleClientTest::testUpdateVariableValueOnly"""
    function_id = new_function(console_side, "Test Update Variable Value")
    variable_id = new_variable(console_side, function_id, "UNCHANGED_KEY", "value-before", secret=False)["$id"]
    response = console_side.update_variable(function_id, variable_id, {"value": "value-after"})
    assert response.status == 200, response.body
    assert (response.body["key"], response.body["value"]) == ("UNCHANGED_KEY", "value-after")
    console_side.cleanup_function(function_id)


def test_update_variable_not_found(console_side: Side):
    """FunctionsConsoleClientTest::testUpdateVariableNotFound"""
    function_id = new_function(console_side, "Test Update Variable Not Found")
    response = console_side.update_variable(function_id, "non-existent-id", {"key": "NEW_KEY", "value": "new-value"})
    assert response.status == 404 and response.body["type"] == "variable_not_found", response.body
    console_side.cleanup_function(function_id)


def test_delete_variable(console_side: Side):
    """FunctionsConsoleClientTest::testDeleteVariable"""
    function_id = new_function(console_side, "Test Delete Variable")
    variable_id = new_variable(console_side, function_id, "APP_TEST", "TESTINGVALUE", secret=False)["$id"]
    secret_id = new_variable(console_side, function_id, "APP_TEST_1", "TESTINGVALUE_1", secret=True)["$id"]
    assert console_side.delete_variable(function_id, variable_id).status == 204
    assert console_side.delete_variable(function_id, secret_id).status == 204
    response = console_side.list_variables(function_id)
    assert response.status == 200
    assert response.body["variables"] == [] and response.body["total"] == 0
    assert console_side.delete_variable(function_id, "NON_EXISTING_VARIABLE").status == 404


def test_variable_e2e(console_side: Side):
    """FunctionsConsoleClientTest::testVariableE2E: a secret variable reaches the function."""
    function = console_side.create_function({"functionId": unique(), "runtime": "node-22",
                                             "name": "Variable E2E Test", "entrypoint": "index.js",
                                             "logging": False, "execute": ["any"]})
    assert function.status == 201, function.body
    assert function.body["logging"] is False and function.body["$id"]
    function_id = function.body["$id"]
    variable = new_variable(console_side, function_id, "CUSTOM_VARIABLE", "a_secret_value", secret=True)
    assert variable["$id"] and variable["key"] == "CUSTOM_VARIABLE"
    assert variable["value"] == "" and variable["secret"] is True
    assert console_side.setup_deployment(function_id, "basic", entrypoint="index.js")
    execution = console_side.create_execution(function_id)
    assert execution.status == 201, execution.body
    assert not execution.body["logs"] and not execution.body["errors"]
    assert json.loads(execution.body["responseBody"])["CUSTOM_VARIABLE"] == "a_secret_value"
    console_side.cleanup_function(function_id)


def test_function_download(console_side: Side):
    """FunctionsConsoleClientTest::testFunctionDownload"""
    function_id = console_side.setup_function({"functionId": unique(), "runtime": "node-22",
                                               "name": "Download Test", "entrypoint": "index.js",
                                               "logging": False, "execute": ["any"]})
    deployment_id = console_side.setup_deployment(function_id, "basic", entrypoint="index.js")
    digests = []
    for kind in ("source", "output"):
        response = console_side.deployment_download(function_id, deployment_id, kind)
        assert response.status == 200, response.body
        assert response.headers["content-type"] == "application/gzip"
        assert int(response.headers["content-length"]) > 0 and len(response.raw) > 0
        digests.append(hashlib.md5(response.raw).hexdigest())
        with tarfile.open(fileobj=io.BytesIO(response.raw), mode="r:gz") as tar:  # and it is one
            assert tar.getnames()
    assert digests[0] != digests[1]
    console_side.cleanup_function(function_id)
