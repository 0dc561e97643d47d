"""Usage and templates routes of the Functions API (Appwrite 1.9.6), over HTTP against a real server.

Usage figures are checked against the executions and builds the test itself creates; template bodies
against the fields of Appwrite's `templateFunction` model.
"""
from __future__ import annotations

import json
import urllib.parse
import urllib.request

from support import JsonApi

MAIN = """
def main(context):
    return context.res.text("ok")
"""
# Appwrite's models' fields (src/Appwrite/Utopia/Response/Model/*.php).
USAGE_FIGURES = ("deployments", "deploymentsStorage", "builds", "buildsSuccess", "buildsFailed", "buildsStorage",
                 "buildsTime", "buildsMbSeconds", "executions", "executionsTime", "executionsMbSeconds")
TEMPLATE_FIELDS = {"icon", "id", "name", "tagline", "permissions", "events", "cron", "timeout", "useCases",
                   "runtimes", "instructions", "vcsProvider", "providerRepositoryId", "providerOwner",
                   "providerVersion", "variables", "scopes"}
TEMPLATE_RUNTIME_FIELDS = {"name", "commands", "entrypoint", "providerRootDirectory"}


def _api(server, project: str) -> JsonApi:
    return JsonApi(server.endpoint, project)


def _deploy_and_run(api: JsonApi, function_id: str, runs: int) -> tuple[dict, list[dict]]:
    dep = api.deploy(function_id, {"src/main.py": MAIN}, entrypoint="src/main.py", execute=["any"])
    executions = [api.ok("POST", f"/functions/{function_id}/executions", {"async": False}) for _ in range(runs)]
    assert all(e["status"] == "completed" for e in executions), executions
    return dep, executions


def test_function_usage_counts_what_was_stored(server):
    api = _api(server, "usage-one")
    dep, executions = _deploy_and_run(api, "counted", runs=3)
    durations = [api.ok("GET", f"/functions/counted/executions/{e['$id']}")["duration"] for e in executions]

    for range_ in ("24h", "30d", "90d"):
        usage = api.ok("GET", f"/functions/counted/usage?range={range_}")
        assert usage["range"] == range_
        assert usage["executionsTotal"] == 3
        # Appwrite meters each execution in whole ms and MB-seconds (memory * cpus * seconds).
        assert usage["executionsTimeTotal"] == sum(int(d * 1000) for d in durations)
        assert usage["executionsMbSecondsTotal"] == sum(int(512 * d * 1) for d in durations)  # s-1vcpu-512mb
        assert (usage["deploymentsTotal"], usage["deploymentsStorageTotal"]) == (1, dep["sourceSize"])
        assert (usage["buildsTotal"], usage["buildsSuccessTotal"], usage["buildsFailedTotal"]) == (1, 1, 0)
        assert usage["buildsStorageTotal"] == dep["buildSize"]
        assert usage["buildsTimeTotal"] == dep["buildDuration"] * 1000 == usage["buildsTimeAverage"]
        assert usage["buildsMbSecondsTotal"] == dep["buildDuration"] * 512
        assert set(usage) == {"range", "buildsTimeAverage", *USAGE_FIGURES, *(f"{n}Total" for n in USAGE_FIGURES)}
        periods = {"24h": 24, "30d": 30, "90d": 90}[range_]
        for name in USAGE_FIGURES:
            series = usage[name]
            assert len(series) == periods, (name, len(series))
            assert [m["date"] for m in series] == sorted(m["date"] for m in series)
            # Everything happened within the range: the periods add up to the total.
            assert sum(m["value"] for m in series) == usage[f"{name}Total"], name
        assert usage["executions"][-1]["date"].endswith(":00:00.000+00:00")

    # A second execution changes the figures: they are computed, not cached from the first answer.
    api.ok("POST", "/functions/counted/executions", {"async": False})
    assert api.ok("GET", "/functions/counted/usage")["executionsTotal"] == 4
    assert api.ok("GET", "/functions/counted/usage")["range"] == "30d"  # Appwrite's default range


def test_functions_usage_aggregates_the_project_only(server):
    api = _api(server, "usage-all")
    _deploy_and_run(api, "busy", runs=2)
    api.ok("POST", "/functions", {"functionId": "idle", "name": "idle", "runtime": "python-3.11"})
    usage = api.ok("GET", "/functions/usage?range=24h")
    assert usage["functionsTotal"] == 2 and sum(m["value"] for m in usage["functions"]) == 2
    assert (usage["executionsTotal"], usage["deploymentsTotal"], usage["buildsTotal"]) == (2, 1, 1)
    assert len(usage["executions"]) == 24
    assert set(usage) == {"range", "functions", "functionsTotal", *USAGE_FIGURES,
                          *(f"{n}Total" for n in USAGE_FIGURES)}
    # Another project sees none of it.
    other = _api(server, "usage-empty").ok("GET", "/functions/usage")
    assert (other["functionsTotal"], other["executionsTotal"], other["deploymentsTotal"]) == (0, 0, 0)
    assert all(m["value"] == 0 for m in other["executions"]) and len(other["executions"]) == 30
    # The idle function's own usage is all zeros.
    idle = api.ok("GET", "/functions/idle/usage")
    assert idle["executionsTotal"] == idle["buildsTotal"] == idle["deploymentsTotal"] == 0


def test_usage_refuses_bad_input(server):
    api = _api(server, "usage-bad")
    api.ok("POST", "/functions", {"functionId": "fn", "name": "fn", "runtime": "python-3.11"})
    for path in ("/functions/fn/usage?range=7d", "/functions/usage?range=1y", "/functions/usage?range=24H"):
        status, body = api.call("GET", path)
        assert (status, body["type"]) == (400, "general_argument_invalid"), (path, body)
        assert "`range`" in body["message"]
    status, body = api.call("GET", "/functions/missing/usage")
    assert (status, body["type"]) == (404, "function_not_found")
    status, body = api.call("GET", "/functions/bad%20id/usage")
    assert status == 400 and body["type"] == "general_argument_invalid"


def test_templates_list_and_get(server):
    api = _api(server, "templates")
    listing = api.ok("GET", "/functions/templates")
    assert listing["total"] == len(listing["templates"]) >= 1
    for template in listing["templates"]:
        assert set(template) == TEMPLATE_FIELDS
        assert all(set(r) == TEMPLATE_RUNTIME_FIELDS for r in template["runtimes"])
    starter = api.ok("GET", "/functions/templates/starter")
    assert starter["id"] == "starter" and starter in listing["templates"]
    python = {r["name"]: r for r in starter["runtimes"]}["python-3.11"]
    assert (python["entrypoint"], python["providerRootDirectory"]) == ("src/main.py", "python")
    assert (server_root() / "starters" / python["providerRootDirectory"] / python["entrypoint"]).is_file()

    def listed(**params) -> dict:
        query = urllib.parse.urlencode([(k, v) for k, values in params.items()
                                        for v in (values if isinstance(values, list) else [values])])
        return api.ok("GET", f"/functions/templates?{query}")

    assert listed(**{"runtimes[]": ["python-3.11"]})["total"] == 1
    assert listed(**{"useCases[]": ["starter"]})["total"] == 1
    assert listed(**{"useCases[]": ["ai"]})["total"] == 0
    paged = listed(offset=1)
    assert paged["total"] == listing["total"] and len(paged["templates"]) == listing["total"] - 1
    assert len(listed(limit=1)["templates"]) == 1
    assert listed(total="false") == {"total": 0, "templates": listing["templates"]}

    # Both filters are whitelists in Appwrite: unknown values are refused, not matched against nothing.
    for query in ("limit=0", "limit=5001", "offset=-1", "offset=5001", "limit=abc", "runtimes[]=no-such-runtime",
                  "useCases[]=cooking"):
        status, body = api.call("GET", f"/functions/templates?{query}")
        assert (status, body["type"]) == (400, "general_argument_invalid"), (query, body)
    status, body = api.call("GET", "/functions/templates/no-such-template")
    assert (status, body["type"], body["code"]) == (404, "function_template_not_found", 404)
    status, body = api.call("GET", "/functions/templates/" + "x" * 129)
    assert (status, body["type"]) == (400, "general_argument_invalid")


def test_templates_are_public_usage_is_not(server_factory):
    """As Appwrite's scopes: templates `public`, usage `functions.read` (a key is needed)."""
    srv = server_factory("--api-key", "the-key")
    api = _api(srv, "scoped")
    assert api.ok("GET", "/functions/templates")["total"] >= 1
    assert api.ok("GET", "/functions/templates/starter")["id"] == "starter"
    for path in ("/functions/usage", "/functions/fn/usage"):
        status, body = api.call("GET", path)
        assert (status, body["type"]) == (401, "general_unauthorized_scope"), (path, body)
    request = urllib.request.Request(srv.endpoint + "/functions/usage?range=24h",
                                     headers={"X-Appwrite-Project": "scoped", "X-Appwrite-Key": "the-key"})
    with urllib.request.urlopen(request, timeout=60) as response:
        assert json.loads(response.read())["range"] == "24h"


def test_static_routes_win_over_function_ids(server):
    """`/functions/usage` and `/functions/templates` are routes, never the id of a function, even
    when a function has that id (Appwrite resolves them the same way)."""
    api = _api(server, "route-order")
    api.ok("POST", "/functions", {"functionId": "templates", "name": "named templates", "runtime": "python-3.11"})
    assert "templates" in api.ok("GET", "/functions/templates")
    assert api.ok("PUT", "/functions/templates", {"name": "renamed"})["name"] == "renamed"
    assert "functionsTotal" in api.ok("GET", "/functions/usage")
    # Other methods on that path still reach the function.
    status, _ = api.call("DELETE", "/functions/templates")
    assert status == 204 and api.call("GET", "/functions/templates/starter")[0] == 200


def server_root():
    from pathlib import Path
    return Path(__file__).resolve().parent.parent.parent
