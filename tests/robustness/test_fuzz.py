"""Property-based fuzzing of the whole API from its own OpenAPI document (schemathesis).

Every operation of `GET /v1/openapi.json` gets generated requests, schema-valid (positive) and
schema-violating (negative). Whatever arrives, the server must answer with a success the document
declares for that operation, its body valid against the declared Appwrite model, or an Appwrite
error envelope whose code matches the status (never an unhandled 500), and keep serving. The
models are written from Appwrite's (emulator/openapi.py), not derived from the serialisers they
check. Half the cases address a real function with a ready deployment, so executions, variables
and deployments are reached, not only the 404 branch. Bounded: a few examples per operation, no
shrinking, the whole file in well under two minutes.
"""
from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from jsonschema import Draft202012Validator
from schemathesis import GenerationMode

from support import Server, make_archive
from emulator.app import PUBLIC, ROUTES
from emulator.openapi import build_document

pytestmark = pytest.mark.timeout(240)
API_KEY = "fuzz-key"
HEADERS = {"X-Appwrite-Project": "fuzz", "X-Appwrite-Key": API_KEY}
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
    srv = Server(tmp / "data", "--api-key", API_KEY).start()
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


@pytest.fixture(scope="module")
def document(fuzz_server):
    with urllib.request.urlopen(fuzz_server.endpoint + "/openapi.json", timeout=10) as resp:
        return json.loads(resp.read())


def model_validator(document: dict, schema: dict) -> Draft202012Validator:
    """A validator for one response schema whose `#/components/...` refs resolve in `document`."""
    return Draft202012Validator({**schema, "components": document["components"]})


def check_response(response, declared: dict, document: dict) -> None:
    """A success the operation declares, with a body of its declared model; or Appwrite's error
    envelope with a matching code; never an unhandled error."""
    status = response.status_code
    if status < 400:
        assert str(status) in declared, f"{status} is not a success this operation declares: {sorted(declared)}"
        content = declared[str(status)].get("content")
        if not content:
            assert response.content == b"", f"{status} should have no body: {response.content[:300]!r}"
            return
        ctype = response.headers.get("content-type") or [""]  # schemathesis: name -> list of values
        ctype = (ctype if isinstance(ctype, str) else ctype[0]).split(";")[0].strip()
        assert ctype in content, f"{status} {ctype!r} is not one of {sorted(content)}"
        if ctype == "application/json":
            body = json.loads(response.content)
            errors = sorted(model_validator(document, content[ctype]["schema"]).iter_errors(body), key=str)
            assert not errors, "body does not match the declared model:\n" + "\n".join(
                f"{list(e.absolute_path)}: {e.message[:200]}" for e in errors[:10])
        return
    try:
        body = json.loads(response.content)
    except ValueError:
        raise AssertionError(f"{status} is not a JSON error envelope: {response.content[:300]!r}")
    assert isinstance(body, dict) and {"message", "code", "type", "version"} <= set(body), body
    assert body["code"] == status, body
    assert body["type"] not in ("general_unknown", "general_server_error"), f"unhandled server error: {body}"


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
@pytest.mark.parametrize("path,method", OPERATIONS, ids=[f"{m} {p}" for p, m in OPERATIONS])
def test_api_answers_generated_requests(api_schema, document, fuzz_server, path, method, mode):
    operation = api_schema[path][method]
    declared = document["paths"][path][method.lower()]["responses"]
    # Not DELETE or PUT of the shared function itself: that would leave nothing (or a disabled
    # function) for the cases after it.
    fixed = {"functionId": FUNCTION} if "{functionId}" in path and (
        not path.endswith("{functionId}") or method == "GET") else None
    strategies = [operation.as_strategy(generation_mode=mode)]
    if fixed:
        strategies.append(operation.as_strategy(generation_mode=mode, path_parameters=fixed))

    for strategy in strategies:
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        @given(case=strategy)
        def run(case):
            case.headers = {**(case.headers or {}), **HEADERS}
            check_response(case.call(timeout=60), declared, document)

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


def _get(endpoint: str, path: str) -> dict:
    return _request(endpoint, "GET", path)


def test_every_route_declares_appwrite_models(document):
    ops = {op["operationId"]: op for item in document["paths"].values() for op in item.values()}
    assert len(ops) == len(ROUTES)
    for method, path, _ in ROUTES:
        op = document["paths"][path][method.lower()]
        successes = {code: r for code, r in op["responses"].items() if code.startswith("2")}
        assert successes, (method, path)
        for response in successes.values():
            for content in response.get("content", {}).values():
                assert content["schema"], (method, path)  # never the `{}` that accepts anything
    models = document["components"]["schemas"]
    for name in ("function", "functionList", "deployment", "deploymentList", "execution", "executionList",
                 "variable", "variableList", "runtime", "runtimeList", "specification", "specificationList",
                 "healthVersion", "headers"):
        Draft202012Validator.check_schema(models[name])
    assert ops["getFunction"]["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/function"}
    assert set(ops["createExecution"]["responses"]) == {"201", "202", "default"}


# Each mutation makes a body Appwrite's SDKs would refuse to parse (or parse wrongly).
BROKEN = [
    ("function", lambda b: b.update(timeout="15")),
    ("function", lambda b: b.update(enabled=None)),
    ("function", lambda b: b.pop("deploymentId")),
    ("function", lambda b: b.update({"$createdAt": "2026-01-01 00:00:00"})),
    ("function", lambda b: b["vars"].append({"key": "K"})),
    ("functionList", lambda b: b.pop("total")),
    ("functionList", lambda b: b.update(functions={})),
    ("deployment", lambda b: b.update(status="done")),
    ("deployment", lambda b: b.update(sourceSize=1.5)),
    ("execution", lambda b: b.update(trigger="cron")),
    ("execution", lambda b: b["responseHeaders"].append({"name": "x", "value": 12})),
    ("execution", lambda b: b.update(duration=None)),
    ("variable", lambda b: b.update(secret="false")),
    ("runtimeList", lambda b: b["runtimes"][0].pop("image")),
    ("specificationList", lambda b: b["specifications"][0].update(memory="512")),
    ("healthVersion", lambda b: b.update(version=196)),
]


def _real_bodies(endpoint: str) -> dict[str, dict]:
    execution = _request(endpoint, "POST", f"/functions/{FUNCTION}/executions", b'{"path": "/models"}')
    variable = _request(endpoint, "POST", f"/functions/{FUNCTION}/variables", b'{"key": "MODEL_CHECK", "value": "v"}')
    function = _get(endpoint, f"/functions/{FUNCTION}")
    deployments = _get(endpoint, f"/functions/{FUNCTION}/deployments")
    return {"function": function, "functionList": _get(endpoint, "/functions"),
            "deployment": deployments["deployments"][0], "execution": execution, "variable": variable,
            "runtimeList": _get(endpoint, "/functions/runtimes"),
            "specificationList": _get(endpoint, "/functions/specifications"),
            "healthVersion": _get(endpoint, "/health/version")}


def test_response_models_accept_real_bodies_and_reject_broken_ones(fuzz_server, document):
    bodies = _real_bodies(fuzz_server.endpoint)
    for name, body in bodies.items():
        validator = model_validator(document, {"$ref": f"#/components/schemas/{name}"})
        assert not list(validator.iter_errors(body)), (name, [e.message for e in validator.iter_errors(body)])
    assert bodies["function"]["vars"], "the function should show the variable just created"
    for name, mutate in BROKEN:
        body = json.loads(json.dumps(bodies[name]))
        mutate(body)
        validator = model_validator(document, {"$ref": f"#/components/schemas/{name}"})
        assert list(validator.iter_errors(body)), f"the {name} model accepted a broken body: {body}"


def _call(endpoint: str, method: str, path: str, body: bytes | None = None, headers=None):
    req = urllib.request.Request(endpoint + path, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_documented_request_schemas_are_what_the_server_enforces(fuzz_server, document):
    """Required body fields the document lists are the ones the server asks for, and every
    `queries` parameter it lists is parsed as Appwrite queries."""
    checked = 0
    for path, item in document["paths"].items():
        concrete = re.sub(r"{\w+}", "nosuchid", path.removeprefix("/v1").replace("{functionId}", FUNCTION))
        for method, op in item.items():
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            if body and body.get("required"):
                status, raw = _call(fuzz_server.endpoint, method.upper(), concrete, b"{}",
                                    {**HEADERS, "Content-Type": "application/json"})
                message = json.loads(raw)["message"]
                assert status == 400 and any(f'Param "{name}" is not optional.' == message
                                             for name in body["required"]), (method, path, status, message)
                checked += 1
            if any(p["name"] == "queries" for p in op["parameters"]):
                status, raw = _call(fuzz_server.endpoint, method.upper(), concrete + "?queries[]=%7Bnot-json",
                                    headers=HEADERS)
                assert status == 400 and json.loads(raw)["type"] == "general_query_invalid", (method, path, raw)
                checked += 1
    assert checked >= 8, checked


def test_documented_security_is_what_the_server_enforces(fuzz_server, document):
    """Operations the document marks public answer without a key; every other one is a 401."""
    for path, item in document["paths"].items():
        concrete = re.sub(r"{\w+}", "nosuchid", path.removeprefix("/v1").replace("{functionId}", FUNCTION))
        for method, op in item.items():
            if method == "delete" and "{functionId}" in path and path.endswith("{functionId}"):
                continue  # never delete the shared function, even by mistake
            status, raw = _call(fuzz_server.endpoint, method.upper(), concrete,
                                b"{}" if method in ("post", "put", "patch") else None,
                                {"X-Appwrite-Project": "fuzz", "Content-Type": "application/json"})
            if op.get("security") == []:
                assert status != 401, (method, path, raw)
            else:
                assert status == 401, (method, path, status, raw)


# Hand-written hostile variants, sent to every operation on top of the generated cases: the
# bad input the security model names (unbounded indexes, non-finite numbers, lone surrogates,
# deep nesting, too many fields, ids that try to name a path). Each must be a 4xx in the envelope.
DEEP = "[" * 5000 + "]" * 5000
HOSTILE_QUERY = [
    "x%5B10000000%5D=1",
    "queries%5B0%5D=" + urllib.parse.quote('{"method":"equal","attribute":"timeout","values":[1e400]}'),
    "queries%5B0%5D=" + urllib.parse.quote('{"method":"limit","values":[1e400]}'),
    "&".join(f"f{i}=1" for i in range(2000)),
    "queries%5B%5D=" + urllib.parse.quote('{"method":"and","values":' + DEEP + "}"),
]
HOSTILE_BODIES = [
    b'{"functionId":"f\\ud800","name":"\\ud800","body":"\\ud800","path":"/\\ud800","key":"k","value":"\\ud800"}',
    b'{"a":' + DEEP.encode() + b"}",
    b'{"timeout":1e400,"limit":1e400,"scheduledAt":"9999-12-31T23:59:59-14:00"}',
    b"[" + b"0," * 20000 + b"0]",
]
# Bad for the routes that read these fields; others ignore unknown parameters and may succeed.
LOOSE_BODIES = [b'{"vars":{"bad key":"v"},"functionId":"unique()","name":"n","runtime":"no-such-runtime"}']
HOSTILE_IDS = ["..", "%2Fabs%2Fvictim", "..%2F..%2Fvictim", "a" * 40, "_lead", "bad%20id!"]


def _raw(endpoint: str, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
    req = urllib.request.Request(endpoint + path, data=body, method=method,
                                 headers={**HEADERS, "Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _assert_client_error(status: int, raw: bytes, what: str) -> None:
    assert 400 <= status < 500, f"{what}: {status} {raw[:300]!r}"
    body = json.loads(raw)
    assert body["code"] == status and {"message", "type", "version"} <= set(body), f"{what}: {body}"


@pytest.mark.parametrize("path,method", OPERATIONS, ids=[f"{m} {p}" for p, m in OPERATIONS])
def test_hostile_variants_get_a_client_error(fuzz_server, path, method):
    # Not the shared function itself for DELETE/PUT: a variant a route may ignore must not take it away.
    own = path.endswith("{functionId}") and method in ("DELETE", "PUT")
    concrete = re.sub(r"\{functionId\}", "missing" if own else FUNCTION, path)
    concrete = re.sub(r"\{[A-Za-z]+\}", "missing", concrete)
    base = concrete[len("/v1"):]
    functions_before = _request(fuzz_server.endpoint, "GET", "/functions")["total"]
    for query in HOSTILE_QUERY:
        status, raw = _raw(fuzz_server.endpoint, method, f"{base}?{query}")
        # A route that ignores unknown parameters may succeed; it must never fail on the server side.
        if status >= 400:
            _assert_client_error(status, raw, f"{method} {base}?{query[:60]}")
    if method in ("POST", "PUT", "PATCH"):
        for body in HOSTILE_BODIES:
            status, raw = _raw(fuzz_server.endpoint, method, base, body)
            _assert_client_error(status, raw, f"{method} {base} {body[:60]!r}")
        for body in LOOSE_BODIES:
            status, raw = _raw(fuzz_server.endpoint, method, base, body)
            if status >= 400:
                _assert_client_error(status, raw, f"{method} {base} {body[:60]!r}")
    for bad in HOSTILE_IDS:
        for name in re.findall(r"\{([A-Za-z]+)\}", path):
            target = path.replace("{" + name + "}", bad)
            target = re.sub(r"\{functionId\}", FUNCTION, target)
            target = re.sub(r"\{[A-Za-z]+\}", "missing", target)[len("/v1"):]
            status, raw = _raw(fuzz_server.endpoint, method, target, b"{}" if method != "GET" else None)
            _assert_client_error(status, raw, f"{method} {target}")
    # A simple cross-site request from a foreign page: refused before anything runs.
    status, raw = _raw(fuzz_server.endpoint, method, base, b"{}" if method != "GET" else None,
                       {"Origin": "http://evil.example", "Content-Type": "text/plain"})
    assert status == 403, (status, raw[:200])
    assert _request(fuzz_server.endpoint, "GET", "/functions")["total"] == functions_before
