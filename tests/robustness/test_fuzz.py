"""Property-based fuzzing of the whole API from its own OpenAPI document (schemathesis).

Every operation of `GET /v1/openapi.json` gets generated requests, schema-valid (positive) and
schema-violating (negative). Whatever arrives, the server must answer with a 2xx/3xx or an
Appwrite error envelope whose code matches the status (never an unhandled 500), and keep serving.
Half the cases address a real function with a ready deployment, so executions, variables and
deployments are reached, not only the 404 branch. Bounded: a few examples per operation, no
shrinking, the whole file in well under two minutes.
"""
from __future__ import annotations

import json
import time
import urllib.request

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from support import Server, make_archive
from emulator.app import PUBLIC, ROUTES
from emulator.openapi import build_document

pytestmark = pytest.mark.timeout(240)
HEADERS = {"X-Appwrite-Project": "fuzz", "X-Appwrite-Key": "fuzz-key"}
FUNCTION = "fuzzfn"
EXAMPLES = 20
OPERATIONS = [(path, method.upper()) for path, item in build_document(ROUTES, PUBLIC)["paths"].items()
              for method in item]


def _request(endpoint: str, method: str, path: str, body: bytes | None = None, ctype="application/json"):
    req = urllib.request.Request(endpoint + path, data=body, method=method,
                                 headers={**HEADERS, "Content-Type": ctype})
    with urllib.request.urlopen(req, timeout=60) as resp:
        return json.loads(resp.read() or b"{}")


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fuzz")
    srv = Server(tmp / "data").start()
    # A real function with a ready deployment for the cases that address it.
    _request(srv.endpoint, "POST", "/functions", json.dumps(
        {"functionId": FUNCTION, "name": "fuzz", "runtime": "python-3.11", "entrypoint": "main.py",
         "timeout": 5}).encode())
    code = make_archive({"main.py": "def main(context):\n    return context.res.json({'path': context.req.path})\n"},
                        tmp / "code.tar.gz").read_bytes()
    boundary = "fuzzboundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"activate\"\r\n\r\ntrue\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"code\"; filename=\"code.tar.gz\"\r\n"
            "Content-Type: application/gzip\r\n\r\n").encode() + code + f"\r\n--{boundary}--\r\n".encode()
    dep = _request(srv.endpoint, "POST", f"/functions/{FUNCTION}/deployments", body,
                   f"multipart/form-data; boundary={boundary}")
    deadline = time.monotonic() + 120
    while _request(srv.endpoint, "GET", f"/functions/{FUNCTION}/deployments/{dep['$id']}")["status"] != "ready":
        assert time.monotonic() < deadline, "fuzz function did not build"
        time.sleep(0.1)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def api_schema(fuzz_server):
    return schemathesis.openapi.from_url(fuzz_server.endpoint + "/openapi.json")


def check_response(response) -> None:
    """Success, or Appwrite's error envelope with a matching code; never an unhandled error."""
    if response.status_code < 400:
        return
    try:
        body = json.loads(response.content)
    except ValueError:
        raise AssertionError(f"{response.status_code} is not a JSON error envelope: {response.content[:300]!r}")
    assert isinstance(body, dict) and {"message", "code", "type", "version"} <= set(body), body
    assert body["code"] == response.status_code, body
    assert body["type"] not in ("general_unknown", "general_server_error"), f"unhandled server error: {body}"


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
@pytest.mark.parametrize("path,method", OPERATIONS, ids=[f"{m} {p}" for p, m in OPERATIONS])
def test_api_answers_generated_requests(api_schema, fuzz_server, path, method, mode):
    operation = api_schema[path][method]
    # DELETE of the shared function would leave nothing for the cases after it.
    fixed = {"functionId": FUNCTION} if "{functionId}" in path and not path.endswith("{functionId}") else None
    strategies = [operation.as_strategy(generation_mode=mode)]
    if fixed:
        strategies.append(operation.as_strategy(generation_mode=mode, path_parameters=fixed))

    for strategy in strategies:
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        @given(case=strategy)
        def run(case):
            case.headers = {**(case.headers or {}), **HEADERS}
            check_response(case.call(timeout=60))

        try:
            run()
        except Unsatisfiable:  # an operation without parameters has nothing to violate
            assert mode == GenerationMode.NEGATIVE


def test_server_still_serves_after_fuzzing(fuzz_server):
    with urllib.request.urlopen(fuzz_server.endpoint + "/health/version", timeout=10) as resp:
        assert resp.status == 200
    execution = _request(fuzz_server.endpoint, "POST", f"/functions/{FUNCTION}/executions", b'{"path": "/after"}')
    assert execution["status"] == "completed" and json.loads(execution["responseBody"]) == {"path": "/after"}
    assert fuzz_server.proc.poll() is None
    assert "Traceback" not in fuzz_server.logs(), fuzz_server.logs()[-3000:]


def test_openapi_document_matches_routes_and_schemas(fuzz_server):
    from emulator.schemas import SCHEMAS
    with urllib.request.urlopen(fuzz_server.endpoint + "/openapi.json", timeout=10) as resp:
        doc = json.loads(resp.read())
    assert doc["openapi"].startswith("3.")
    for method, path, _ in ROUTES:
        assert method.lower() in doc["paths"][path], (method, path)
    ops = {op["operationId"]: op for item in doc["paths"].values() for op in item.values()}
    # The same schema the server validates with, property for property.
    body = ops["createExecution"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["properties"] == SCHEMAS["createExecution"]["properties"]
    create = ops["createFunction"]["requestBody"]["content"]["application/json"]["schema"]
    assert create["required"] == ["functionId", "name", "runtime"]
    assert {p["name"] for p in ops["listExecutions"]["parameters"]} >= {"functionId", "queries", "search"}
    validated = {name for name in SCHEMAS if name in ops}
    assert validated >= {"createFunction", "updateFunction", "createExecution", "listExecutions", "createVariable",
                         "createDeployment", "listDeployments"}
