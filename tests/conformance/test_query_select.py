"""`Query.select` on list endpoints as Appwrite 1.9.6 answers it (FunctionsCustomServerTest.php
testListDeployments; utopia-php/database's Select validator; Appwrite's ListSelection filter).

Only the deployments list takes a select: its items keep the selected attributes and every `$`
attribute, and any attribute of the collection may be selected (not only the filterable ones).
The functions, executions and variables lists refuse a select as an unknown query method.
"""
from __future__ import annotations

import json

import pytest
import requests

from support import JsonApi

PROJECT = "queryselect"
H = {"x-appwrite-project": PROJECT}
MAIN = "def main(context):\n    return context.res.text('ok')\n"


def select(*attributes) -> str:
    return json.dumps({"method": "select", "values": list(attributes)})


@pytest.fixture(scope="module")
def fn(server):
    api = JsonApi(server.endpoint, PROJECT)
    dep = api.deploy("sel", {"main.py": MAIN})
    api.ok("POST", "/functions/sel/variables", {"variableId": "v1", "key": "K", "value": "v"})
    api.ok("POST", "/functions/sel/executions", {"body": ""})
    return server, dep


def listing(srv, path: str, *queries: str) -> requests.Response:
    return requests.get(srv.endpoint + path, headers=H, params={"queries[]": list(queries)})


def test_list_deployments_select(fn):
    srv, dep = fn
    full = listing(srv, "/functions/sel/deployments").json()
    assert full["total"] >= 1 and "sourceSize" in full["deployments"][0] and "buildSize" in full["deployments"][0]

    r = listing(srv, "/functions/sel/deployments", select("status"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] == full["total"]
    for item in body["deployments"]:
        assert set(item) == {"$id", "$createdAt", "$updatedAt", "status"}, item
    assert body["deployments"][0] == {k: full["deployments"][0][k] for k in ("$id", "$createdAt", "$updatedAt", "status")}

    # An attribute no filter may use can still be selected.
    logs = listing(srv, "/functions/sel/deployments", select("buildLogs")).json()["deployments"]
    assert all("buildLogs" in d and "sourceSize" not in d for d in logs)
    assert logs[0]["buildLogs"] == dep["buildLogs"]

    # Selects add up; `*` keeps everything; the legacy string syntax selects the same.
    both = listing(srv, "/functions/sel/deployments", select("status"), select("sourceSize")).json()["deployments"][0]
    assert set(both) == {"$id", "$createdAt", "$updatedAt", "status", "sourceSize"}
    assert listing(srv, "/functions/sel/deployments", select("*")).json() == full
    legacy = listing(srv, "/functions/sel/deployments", 'select(["status", "activate"])').json()["deployments"][0]
    assert set(legacy) == {"$id", "$createdAt", "$updatedAt", "status", "activate"}
    # A schema attribute the response model does not have just adds nothing.
    assert set(listing(srv, "/functions/sel/deployments", select("buildPath")).json()["deployments"][0]) == \
        {"$id", "$createdAt", "$updatedAt"}
    # With other queries: filters and limits still apply.
    limited = listing(srv, "/functions/sel/deployments", select("status"),
                      json.dumps({"method": "equal", "attribute": "status", "values": ["ready"]}),
                      json.dumps({"method": "limit", "values": [1]})).json()
    assert len(limited["deployments"]) == 1 and limited["deployments"][0]["status"] == "ready"


@pytest.mark.parametrize("query,message", [
    (select("nope"), "Invalid `queries` param: Invalid query: Attribute not found in schema: nope"),
    (select(), "Invalid `queries` param: Invalid query: No attributes selected"),
    (select("status", "status"), "Invalid `queries` param: Invalid query: Duplicate attributes selected"),
    (select(5), "Invalid `queries` param: Invalid query: Attribute not found in schema: 5"),
])
def test_list_deployments_bad_select(fn, query, message):
    srv, _ = fn
    r = listing(srv, "/functions/sel/deployments", query)
    assert r.status_code == 400, r.text
    assert (r.json()["type"], r.json()["message"]) == ("general_argument_invalid", message)


@pytest.mark.parametrize("path", ["/functions", "/functions/sel/executions", "/functions/sel/variables"])
def test_select_refused_elsewhere(fn, path):
    """Appwrite's Functions, Executions and Variables validators have no Select validator."""
    srv, _ = fn
    assert listing(srv, path).status_code == 200
    r = listing(srv, path, select("$id"))
    assert r.status_code == 400, r.text
    assert r.json()["message"] == "Invalid `queries` param: Invalid query method: select"


def test_select_with_old_response_format(fn):
    """The selection applies after the format's filters, as Appwrite's ListSelection runs last: a
    1.6 client selecting `sourceSize` gets nothing of it (its model calls it `size`)."""
    srv, _ = fn
    old = {**H, "x-appwrite-response-format": "1.6.0"}
    r = requests.get(srv.endpoint + "/functions/sel/deployments", headers=old,
                     params={"queries[]": [select("sourceSize", "status")]})
    assert r.status_code == 200, r.text
    assert set(r.json()["deployments"][0]) == {"$id", "$createdAt", "$updatedAt", "status"}
    # Without a select the same client gets its whole model, `size` included.
    r = requests.get(srv.endpoint + "/functions/sel/deployments", headers=old)
    assert "size" in r.json()["deployments"][0] and "sourceSize" not in r.json()["deployments"][0]


def test_select_with_python_sdk(fn):
    """The official Python SDK's Query.select reaches the same selection."""
    from appwrite.client import Client
    from appwrite.query import Query
    from appwrite.services.functions import Functions

    srv, _ = fn
    client = Client().set_endpoint(srv.endpoint).set_project(PROJECT)
    raw = client.call("get", "/functions/sel/deployments", {"content-type": "application/json", **H},
                      {"queries": [Query.select(["status"])]})
    assert all(set(d) == {"$id", "$createdAt", "$updatedAt", "status"} for d in raw["deployments"]), raw
    # And the typed call still works without one.
    assert Functions(client).list_deployments("sel").total >= 1
