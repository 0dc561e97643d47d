"""Responses for clients built for older Appwrite versions, as Appwrite 1.9.6's response filters
shape them (src/Appwrite/Utopia/Response/Filters/V16-V21.php, and V27 for formats before 2.0.0):
a request naming an older `X-Appwrite-Response-Format` gets that version's model, with the
fields added later dropped and renamed ones under their old names.

Each check reads the same stored documents under several formats and compares them with the
newest shape (no header), attribute by attribute.
"""
from __future__ import annotations

import json
import shutil
import subprocess

import pytest
import requests

from support import ROOT, JsonApi, require_toolchain

PROJECT = "formats"
H = {"x-appwrite-project": PROJECT}
NODE_DIR = ROOT / "tests" / "node"
MAIN = "def main(context):\n    return context.res.text('formatted', 201)\n"


@pytest.fixture(scope="module")
def fn(server):
    api = JsonApi(server.endpoint, PROJECT)
    dep = api.deploy("fmt", {"main.py": MAIN}, schedule="0 0 1 1 *", scopes=["users.read"],
                     buildSpecification="s-2vcpu-2gb", runtimeSpecification="s-1vcpu-1gb")
    api.ok("POST", "/functions/fmt/variables", {"variableId": "plain", "key": "PLAIN", "value": "v"})
    execution = api.ok("POST", "/functions/fmt/executions", {"body": ""})
    return server, dep, execution


def get(srv, path: str, version: str | None = None):
    headers = {**H, **({"x-appwrite-response-format": version} if version else {})}
    r = requests.get(srv.endpoint + path, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def diff(old: dict, new: dict) -> tuple[set, set]:
    """(keys only the older shape has, keys only the newest has)."""
    return set(old) - set(new), set(new) - set(old)


def test_function_formats(fn):
    srv, dep, _ = fn
    new = get(srv, "/functions/fmt")
    assert get(srv, "/functions/fmt", "2.5.0") == new
    assert get(srv, "/functions/fmt", "1.9.5") == new

    v18 = get(srv, "/functions/fmt", "1.8.0")  # one `specification`: the build one
    assert diff(v18, new) == ({"specification"}, {"buildSpecification", "runtimeSpecification"})
    assert v18["specification"] == "s-2vcpu-2gb"

    v16 = get(srv, "/functions/fmt", "1.6.0")  # `deployment`, no deployment dates or latest*
    assert diff(v16, new) == ({"specification", "deployment"}, {
        "buildSpecification", "runtimeSpecification", "deploymentId", "deploymentCreatedAt",
        "latestDeploymentId", "latestDeploymentCreatedAt", "latestDeploymentStatus"})
    assert v16["deployment"] == dep["$id"] == new["deploymentId"]

    v15 = get(srv, "/functions/fmt", "1.5.0")  # no scopes, no specification
    assert diff(v15, new) == ({"deployment"}, {
        "buildSpecification", "runtimeSpecification", "deploymentId", "deploymentCreatedAt",
        "latestDeploymentId", "latestDeploymentCreatedAt", "latestDeploymentStatus", "scopes"})

    v13 = get(srv, "/functions/fmt", "1.3.0")  # schedule times are back
    assert diff(v13, new) == ({"deployment", "scheduleNext", "schedulePrevious"}, diff(v15, new)[1])
    assert v13["scheduleNext"].endswith("-01-01T00:00:00.000+00:00") and v13["schedulePrevious"] == ""

    # Lists get each item shaped; nested models (a function's vars) keep the newest shape.
    listed = get(srv, "/functions", "1.6.0")["functions"]
    assert [f for f in listed if f["$id"] == "fmt"] == [v16]
    assert "secret" in v16["vars"][0] and "resourceId" in v13["vars"][0]


def test_deployment_formats(fn):
    srv, dep, _ = fn
    path = f"/functions/fmt/deployments/{dep['$id']}"
    new = get(srv, path)
    assert get(srv, path, "1.9.5") == get(srv, path, "1.7.0") == new

    v16 = get(srv, path, "1.6.0")
    assert diff(v16, new) == ({"size", "buildTime"}, {"sourceSize", "buildDuration", "totalSize", "screenshotLight",
                                                       "screenshotDark"})
    assert (v16["size"], v16["buildTime"]) == (new["sourceSize"], new["buildDuration"])

    v13 = get(srv, path, "1.3.0")  # build output as stdout/stderr; the size counts the build
    assert diff(v13, new) == ({"size", "buildTime", "buildStdout", "buildStderr"},
                              diff(v16, new)[1] | {"buildLogs", "buildSize"})
    assert v13["size"] == new["sourceSize"] + new["buildSize"] and new["buildSize"] > 0
    assert (v13["buildStdout"], v13["buildStderr"]) == (new["buildLogs"], "")

    assert get(srv, "/functions/fmt/deployments", "1.6.0")["deployments"] == [v16]


def test_execution_formats(fn):
    srv, _, execution = fn
    path = f"/functions/fmt/executions/{execution['$id']}"
    new = get(srv, path)
    assert {"resourceId", "resourceType", "functionId"} <= set(new)  # the superset, without a header
    assert get(srv, path, "2.5.0") == new

    v19 = get(srv, path, "1.9.5")  # before 2.0: `functionId` only
    assert diff(v19, new) == (set(), {"resourceId", "resourceType"})
    assert v19["functionId"] == "fmt"

    v15 = get(srv, path, "1.5.0")
    assert diff(v15, new) == (set(), {"resourceId", "resourceType", "scheduledAt"})
    assert v15["status"] == "completed" and v15["responseStatusCode"] == 201

    v13 = get(srv, path, "1.3.0")
    assert diff(v13, new) == ({"statusCode", "response", "stdout", "stderr"}, {
        "resourceId", "resourceType", "scheduledAt", "responseStatusCode", "responseBody", "logs", "errors"})
    assert (v13["statusCode"], v13["response"], v13["stdout"]) == (201, new["responseBody"], new["logs"])
    assert get(srv, "/functions/fmt/executions", "1.3.0")["executions"] == [v13]


def test_variable_and_runtime_formats(fn):
    srv, _, _ = fn
    path = "/functions/fmt/variables/plain"
    new = get(srv, path)
    assert get(srv, path, "1.7.0") == new
    assert diff(get(srv, path, "1.6.0"), new) == (set(), {"secret"})
    v13 = get(srv, path, "1.3.0")
    assert diff(v13, new) == ({"functionId"}, {"secret", "resourceId"}) and v13["functionId"] == "fmt"
    assert get(srv, "/functions/fmt/variables", "1.6.0")["variables"] == [get(srv, path, "1.6.0")]

    runtimes = get(srv, "/functions/runtimes")["runtimes"]
    old = get(srv, "/functions/runtimes", "1.5.0")["runtimes"]
    assert old == [{k: v for k, v in r.items() if k != "key"} for r in runtimes]
    assert get(srv, "/functions/runtimes", "1.6.0")["runtimes"] == runtimes


def test_usage_and_proxy_rule_formats(fn):
    """Before 1.7 the usage models had no build figures, and a proxy rule named its function with
    resourceType/resourceId (Response/Filters/V19.php)."""
    srv, _, _ = fn
    builds = {"buildsSuccessTotal", "buildsFailedTotal", "buildsSuccess", "buildsFailed"}
    new = get(srv, "/functions/fmt/usage")
    assert builds | {"buildsTimeAverage"} <= set(new) and new["buildsTotal"] >= 1
    assert get(srv, "/functions/fmt/usage", "1.7.0") == new
    assert diff(get(srv, "/functions/fmt/usage", "1.6.0"), new) == (set(), builds | {"buildsTimeAverage"})
    all_new = get(srv, "/functions/usage")
    assert diff(get(srv, "/functions/usage", "1.6.0"), all_new) == (set(), builds)

    r = requests.post(srv.endpoint + "/proxy/rules/function", headers=H,
                      json={"domain": "fmt-rule.functions.localhost", "functionId": "fmt"})
    assert r.status_code == 201, r.text
    rule = r.json()
    old = get(srv, f"/proxy/rules/{rule['$id']}", "1.6.0")
    assert diff(old, rule) == ({"resourceType", "resourceId"}, {
        "deploymentResourceType", "deploymentResourceId", "type", "trigger", "redirectStatusCode", "deploymentId",
        "deploymentVcsProviderBranch"})
    assert (old["resourceType"], old["resourceId"], old["domain"]) == ("function", "fmt", rule["domain"])
    assert get(srv, "/proxy/rules", "1.8.0")["rules"] == get(srv, "/proxy/rules")["rules"]
    assert old in get(srv, "/proxy/rules", "1.6.0")["rules"]


def test_writes_answer_in_the_format(fn):
    """Creates and updates are shaped too, and an error keeps Appwrite's envelope whatever the format."""
    srv, _, _ = fn
    old = {**H, "x-appwrite-response-format": "1.6.0"}
    r = requests.post(srv.endpoint + "/functions/fmt/variables", headers=old, json={"key": "OTHER", "value": "x"})
    assert r.status_code == 201 and "secret" not in r.json() and r.json()["key"] == "OTHER", r.text
    r = requests.post(srv.endpoint + "/functions/fmt/executions", json={"body": ""},
                      headers={**H, "x-appwrite-response-format": "1.3.0"})
    assert r.status_code == 201, r.text
    assert (r.json()["statusCode"], r.json()["response"]) == (201, "formatted") and "responseBody" not in r.json()
    r = requests.get(srv.endpoint + "/functions/missing", headers=old)
    assert r.status_code == 404 and set(r.json()) == {"message", "code", "type", "version"}


def test_node_sdk_reads_its_format(fn):
    """node-appwrite (built for 1.9.5) gets an execution with `functionId`, as from Appwrite 1.9.6."""
    srv, _, execution = fn
    if shutil.which("node") is None:
        require_toolchain("node", "node not found. Install: apt-get install -y nodejs npm")
    if not (NODE_DIR / "node_modules" / "node-appwrite").exists():
        require_toolchain("node-appwrite", "node-appwrite not installed. Run: make install (cd tests/node && npm install)")
    script = (f"import {{ Client, Functions }} from 'node-appwrite';\n"
              f"const client = new Client().setEndpoint({json.dumps(srv.endpoint)}).setProject('{PROJECT}');\n"
              f"const e = await new Functions(client).getExecution('fmt', '{execution['$id']}');\n"
              "console.log(JSON.stringify(e));\n")
    out = subprocess.run(["node", "--input-type=module", "-e", script], cwd=NODE_DIR, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["functionId"] == "fmt" and "resourceId" not in doc and doc["$id"] == execution["$id"]
