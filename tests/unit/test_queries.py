"""Appwrite list queries (emulator/queries.py): every method the parser accepts, in both syntaxes,
checked by what it selects from a real store (the same `list_documents` the handlers call), and
the errors a bad query gets, through the real server too.
"""
from __future__ import annotations

import json

import pytest
import requests

from emulator.errors import AppwriteError
from emulator.queries import FILTERS, MAX_LIMIT, MAX_QUERIES, MAX_VALUES, OTHERS
from emulator.services.listing import list_documents
from emulator.store import Store

PROJECT = "q"


def _fn(id_, name, runtime, enabled, timeout, schedule, month, **extra):
    return {"$id": id_, "name": name, "runtime": runtime, "enabled": enabled, "timeout": timeout,
            "schedule": schedule, "$createdAt": f"2026-{month:02d}-01T00:00:00.000+00:00",
            "$updatedAt": f"2026-{month:02d}-05T00:00:00.000+00:00", **extra}


FUNCTIONS = [
    _fn("f1", "alpha", "python-3.11", True, 15, "", 1, deploymentId="d1", installationId="i1"),
    _fn("f2", "beta_1", "node-22", False, 30, "0 * * * *", 2, deploymentId="", installationId="i2"),
    _fn("f3", "gamma%x", "python-3.12", True, 60, "", 3, deploymentId="d3", installationId="i3"),
    _fn("f4", "betaX1", "php-8.3", True, 900, "@daily", 4, deploymentId=""),  # no installationId: null
]
DEPLOYMENTS = [
    {"$id": "d1", "sourceSize": 100, "buildDuration": 3, "status": "ready", "type": "cli", "activate": True},
    {"$id": "d2", "sourceSize": 2000, "buildDuration": 40, "status": "failed", "type": "manual", "activate": False},
]
EXECUTIONS = [
    {"$id": "e1", "responseStatusCode": 200, "status": "completed", "trigger": "http", "duration": 0.25},
    {"$id": "e2", "responseStatusCode": 500, "status": "failed", "trigger": "schedule", "duration": 1.5},
]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    store = Store(tmp_path_factory.mktemp("queries") / "emulator.db")
    for doc in FUNCTIONS:
        store.insert("functions", PROJECT, "", dict(doc))
    for doc in DEPLOYMENTS:
        store.insert("deployments", PROJECT, "f1", dict(doc))
    for doc in EXECUTIONS:
        store.insert("executions", PROJECT, "f1", dict(doc))
    store.flush()
    yield store
    store.close()


def ids(store, queries, collection="functions", parent="", search=None) -> list[str]:
    params = {"queries": queries, **({"search": search} if search is not None else {})}
    total, docs = list_documents(store, collection, PROJECT, parent, params)
    return [d["$id"] for d in docs]


def q(method, attribute=None, values=None) -> str:
    """The JSON syntax the current SDKs send (keys left out when unset, as they do)."""
    query = {"method": method}
    if attribute is not None:
        query["attribute"] = attribute
    if values is not None:
        query["values"] = values
    return json.dumps(query, separators=(",", ":"))


# (method, JSON query, legacy string query or None, the ids it selects in order)
CASES = [
    ("equal", q("equal", "runtime", ["node-22", "php-8.3"]), 'equal("runtime", ["node-22", "php-8.3"])', ["f2", "f4"]),
    ("equal", q("equal", "enabled", [False]), 'equal("enabled", [false])', ["f2"]),
    ("equal", q("equal", "timeout", [60]), 'equal("timeout", 60)', ["f3"]),
    ("notEqual", q("notEqual", "runtime", ["node-22"]), 'notEqual("runtime", "node-22")', ["f1", "f3", "f4"]),
    ("notEqual", q("notEqual", "installationId", ["i1"]), None, ["f2", "f3", "f4"]),  # null is not "i1"
    ("lessThan", q("lessThan", "timeout", [30]), 'lessThan("timeout", 30)', ["f1"]),
    ("lessThanEqual", q("lessThanEqual", "timeout", [30]), 'lessThanEqual("timeout", 30)', ["f1", "f2"]),
    ("greaterThan", q("greaterThan", "timeout", [60]), 'greaterThan("timeout", 60)', ["f4"]),
    ("greaterThanEqual", q("greaterThanEqual", "timeout", [60]), 'greaterThanEqual("timeout", 60)', ["f3", "f4"]),
    ("between", q("between", "timeout", [30, 60]), 'between("timeout", 30, 60)', ["f2", "f3"]),
    ("notBetween", q("notBetween", "timeout", [30, 60]), 'notBetween("timeout", 30, 60)', ["f1", "f4"]),
    ("contains", q("contains", "name", ["%"]), 'contains("name", ["%"])', ["f3"]),  # `%` is literal
    ("contains", q("contains", "name", ["ta_", "alp"]), None, ["f1", "f2"]),  # any value; `_` is literal
    ("notContains", q("notContains", "name", ["beta"]), 'notContains("name", ["beta"])', ["f1", "f3"]),
    ("search", q("search", "name", ["beta_1"]), 'search("name", "beta_1")', ["f2"]),  # not betaX1
    ("notSearch", q("notSearch", "name", ["beta"]), 'notSearch("name", "beta")', ["f1", "f3"]),
    ("startsWith", q("startsWith", "name", ["beta_"]), 'startsWith("name", "beta_")', ["f2"]),
    ("startsWith", q("startsWith", "runtime", ["python-"]), None, ["f1", "f3"]),
    ("notStartsWith", q("notStartsWith", "runtime", ["python-"]), 'notStartsWith("runtime", "python-")', ["f2", "f4"]),
    ("endsWith", q("endsWith", "name", ["%x"]), 'endsWith("name", "%x")', ["f3"]),
    ("notEndsWith", q("notEndsWith", "name", ["1"]), 'notEndsWith("name", "1")', ["f1", "f3"]),
    ("isNull", q("isNull", "installationId"), 'isNull("installationId")', ["f4"]),
    ("isNotNull", q("isNotNull", "installationId"), 'isNotNull("installationId")', ["f1", "f2", "f3"]),
    ("and", q("and", values=[json.loads(q("equal", "enabled", [True])), json.loads(q("greaterThan", "timeout", [15]))]),
     None, ["f3", "f4"]),
    ("or", q("or", values=[json.loads(q("equal", "name", ["alpha"])), json.loads(q("equal", "timeout", [900]))]),
     None, ["f1", "f4"]),
    ("or", q("or", values=[json.loads(q("and", values=[json.loads(q("equal", "enabled", [True])),
                                                         json.loads(q("lessThan", "timeout", [60]))])),
                           json.loads(q("equal", "$id", ["f2"]))]), None, ["f1", "f2"]),
    ("createdBefore", q("createdBefore", values=["2026-02-15T00:00:00.000+00:00"]),
     'createdBefore("2026-02-15T00:00:00.000+00:00")', ["f1", "f2"]),
    ("createdAfter", q("createdAfter", values=["2026-02-15T00:00:00.000+00:00"]),
     'createdAfter("2026-02-15T00:00:00.000+00:00")', ["f3", "f4"]),
    ("updatedBefore", q("updatedBefore", values=["2026-03-05T00:00:00.000+00:00"]), None, ["f1", "f2"]),
    ("updatedAfter", q("updatedAfter", values=["2026-03-05T00:00:00.000+00:00"]), None, ["f4"]),
    ("limit", q("limit", values=[2]), "limit(2)", ["f1", "f2"]),
    ("offset", q("offset", values=[3]), "offset(3)", ["f4"]),
    ("cursorAfter", q("cursorAfter", values=["f2"]), 'cursorAfter("f2")', ["f3", "f4"]),
    ("cursorBefore", q("cursorBefore", values=["f3"]), 'cursorBefore("f3")', ["f1", "f2"]),
    ("orderAsc", q("orderAsc", "timeout"), 'orderAsc("timeout")', ["f1", "f2", "f3", "f4"]),
    ("orderDesc", q("orderDesc", "name"), 'orderDesc("name")', ["f3", "f2", "f4", "f1"]),  # binary: "_" > "X"
    ("orderDesc", q("orderDesc", values=["$id"]), None, ["f4", "f3", "f2", "f1"]),  # the CLI's quirk
    ("orderDesc", q("orderDesc"), None, ["f4", "f3", "f2", "f1"]),  # no attribute: insertion order
    ("orderRandom", q("orderRandom"), "orderRandom()", ["f1", "f2", "f3", "f4"]),  # accepted, ignored
]


@pytest.mark.parametrize("method,json_query,legacy,expected", CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_each_method_selects_what_it_says(store, method, json_query, legacy, expected):
    assert ids(store, [json_query]) == expected
    if legacy:
        assert ids(store, [legacy]) == expected
    # Current SDKs may also hand the query over as an object (JSON body of a list call).
    assert ids(store, [json.loads(json_query)]) == expected


def test_every_accepted_method_has_a_case():
    # `select` is for deployments only, and selects attributes, not rows (tests/conformance/test_query_select.py).
    assert {c[0] for c in CASES} == (FILTERS | OTHERS) - {"select"}


def test_queries_combine(store):
    # ANDed filters, an order, then a page of it, then a cursor inside that order.
    queries = [q("equal", "enabled", [True]), q("orderDesc", "timeout"), q("limit", values=[2])]
    assert ids(store, queries) == ["f4", "f3"]
    assert ids(store, [*queries[:2], q("cursorAfter", values=["f3"])]) == ["f1"]
    assert ids(store, [*queries[:2], q("cursorBefore", values=["f1"])]) == ["f4", "f3"]
    assert ids(store, [q("orderAsc", "timeout"), q("offset", values=[1]), q("limit", values=[2])]) == ["f2", "f3"]


def test_old_attribute_names(store):
    # Clients built for older servers filter by the names of their time.
    assert ids(store, [q("equal", "deployment", ["d1"])]) == ["f1"]
    assert ids(store, [q("greaterThan", "size", [500])], "deployments", "f1") == ["d2"]
    assert ids(store, [q("lessThan", "buildTime", [10])], "deployments", "f1") == ["d1"]
    assert ids(store, [q("equal", "statusCode", [500])], "executions", "f1") == ["e2"]
    assert ids(store, [q("orderDesc", "statusCode")], "executions", "f1") == ["e2", "e1"]


def test_search_parameter_escapes_like_wildcards(store):
    assert ids(store, [], search="beta_1") == ["f2"]
    assert ids(store, [], search="%") == ["f3"]
    assert ids(store, [], search="python") == ["f1", "f3"]  # runtime is searched too
    assert ids(store, [], search="gamma python") == ["f3"]  # every term must match
    assert ids(store, [], search="\\") == []


def _error(store, queries, **kw) -> AppwriteError:
    with pytest.raises(AppwriteError) as caught:
        ids(store, queries, **kw)
    assert caught.value.code == 400
    return caught.value


@pytest.mark.parametrize("query,fragment", [
    (q("limit", values=[0]), "between 1 and 5,000"),
    (q("limit", values=[MAX_LIMIT + 1]), "between 1 and 5,000"),
    (q("limit", values=[1.5]), "limit must be an integer"),
    (q("limit", values=["x"]), "limit must be an integer"),
    (q("limit", values=[True]), "limit must be an integer"),
    (q("limit"), "limit must be an integer"),
    ("limit(1e400)", "finite"),
    (q("offset", values=[-1]), "between 0 and"),
    (q("equal", "nope", ["x"]), "Attribute not found in schema: nope"),
    (q("orderAsc", "nope"), "Attribute not found in schema: nope"),
    (q("equal", "deploymentId.x", ["x"]), "Attribute not found in schema"),
    (q("equal", "name", []), "require at least one value"),
    (q("between", "timeout", [1]), "between needs two values"),
    (q("createdBefore"), "needs a date"),
    (q("frobnicate", "name", ["x"]), "Invalid query method: frobnicate"),
    ("equal.x(\"name\", \"a\")", "Invalid query method"),
    (q("cursorAfter", values=[".bad"]), "Cursor must be a valid document ID"),
    (q("cursorAfter", values=[5]), "Cursor must be a valid document ID"),
    ('equal("timeout", [1e400])', "finite"),
    ('{"method":"equal","attribute":"timeout","values":[1e400]}', "finite"),
    ('{"method":"equal","attribute":"timeout","values":[-1e400]}', "finite"),
    ('{"method":"equal","attribute":"timeout","values":[NaN]}', "finite"),
    ('{"method":"equal","attribute":"timeout","values":[100000000000000000000]}', "64 bits"),
    ('{"method":"equal","attribute":"timeout","values":[{"a":1}]}', "values must be"),
    ('{"method":"equal","attribute":"timeout","values":[[1]]}', "values must be"),
    ('{"method":"equal","attribute":"name","values":["\\ud800"]}', "UTF-8"),
    ('{"method":"equal","attribute":"name","values":["' + "x" * 4100 + '"]}', "at most 4096 characters"),
    (q("equal", "name", ["x"] * (MAX_VALUES + 1)), f"at most {MAX_VALUES} values"),
    ("{" * 3 + '"method":"or"', "Invalid query"),
])
def test_bad_queries_are_400(store, query, fragment):
    error = _error(store, [query])
    assert fragment in error.message, error.message
    assert error.type in ("general_argument_invalid", "general_query_invalid")


def test_structural_limits(store):
    assert "no longer than 100 items" in _error(store, [q("limit", values=[1])] * (MAX_QUERIES + 1)).message
    assert _error(store, ["{not json"]).type == "general_query_invalid"
    assert _error(store, ["nothing here"]).type == "general_query_invalid"
    nested = {"method": "equal", "attribute": "name", "values": ["alpha"]}
    for _ in range(12):
        nested = {"method": "or", "values": [nested]}
    assert "nest at most" in _error(store, [json.dumps(nested)]).message
    assert "UTF-8" in _error(store, [], search="\ud800").message
    assert ids(store, [q("limit", values=[MAX_LIMIT])]) == ["f1", "f2", "f3", "f4"]  # the bound itself is fine


# --- through the real server -------------------------------------------------------------------------

H = {"X-Appwrite-Project": "queries", "X-Appwrite-Key": "k"}


def test_queries_over_http(server):
    for name, timeout in (("one", 10), ("two_", 20), ("twoX", 30)):
        r = requests.post(server.endpoint + "/functions", headers=H, timeout=30,
                          json={"functionId": name.replace("_", "u"), "name": name, "runtime": "python-3.11",
                                "timeout": timeout})
        assert r.status_code == 201, r.text

    def listed(*queries, **params):
        r = requests.get(server.endpoint + "/functions", headers=H, timeout=30,
                         params={**{f"queries[{i}]": v for i, v in enumerate(queries)}, **params})
        return r

    got = listed(q("greaterThan", "timeout", [10]), q("orderDesc", "timeout")).json()
    assert [f["name"] for f in got["functions"]] == ["twoX", "two_"] and got["total"] == 2
    assert [f["name"] for f in listed('between("timeout", 15, 35)', "limit(1)").json()["functions"]] == ["two_"]
    assert [f["name"] for f in listed(search="two_").json()["functions"]] == ["two_"]
    for bad in ('equal("timeout",[1e400])', '{"method":"limit","values":[1e400]}',
                '{"method":"equal","attribute":"timeout","values":[1e999999]}',
                '{"method":"equal","attribute":"name","values":["\\udfff"]}'):
        r = listed(bad)
        assert r.status_code == 400, (bad, r.text)
        assert r.json()["type"] == "general_argument_invalid" and r.json()["code"] == 400
    # Nothing was changed by the rejected requests, and the server still answers.
    assert listed().json()["total"] == 3
