"""The official `appwrite` Python SDK (27.x) against a running emulator, over HTTP."""
from __future__ import annotations

import json
import os
import time

import pytest
from appwrite.client import Client
from appwrite.exception import AppwriteException
from appwrite.id import ID
from appwrite.input_file import InputFile
from appwrite.query import Query
from appwrite.services.functions import Functions

from support import make_archive

PY_MAIN = """
import os, json
def main(context):
    if context.req.path == "/env":
        return context.res.json({k: v for k, v in os.environ.items() if k.startswith(("APPWRITE_", "MY_"))})
    if context.req.path == "/sleep":
        import time; time.sleep(30)
    if context.req.path == "/big":
        return context.res.text("x" * 1_500_000)
    if context.req.path == "/crash":
        raise ValueError("boom")
    if context.req.path == "/status":
        return context.res.text("nope", 503)
    context.log("log line", {"a": 1})
    context.error("error line")
    return context.res.json({"method": context.req.method, "body": context.req.body_text,
                             "header": context.req.headers.get("x-custom", ""),
                             "trigger": context.req.headers.get("x-appwrite-trigger", ""),
                             "query": context.req.query})
"""


def client(endpoint: str, project: str = "sdk-py") -> Functions:
    return Functions(Client().set_endpoint(endpoint).set_project(project).set_key("any-key"))


def wait_build(functions: Functions, function_id: str, deployment_id: str, timeout: float = 120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        dep = functions.get_deployment(function_id, deployment_id)
        if dep.status.value in ("ready", "failed", "canceled"):
            return dep
        time.sleep(0.1)
    raise AssertionError("build did not finish")


def deploy(functions: Functions, tmp_path, function_id: str, files: dict, entrypoint="src/main.py", **kw):
    archive = make_archive(files, tmp_path / f"{function_id}-{time.monotonic_ns()}.tar.gz")
    dep = functions.create_deployment(function_id, InputFile.from_path(str(archive)), activate=True,
                                      entrypoint=entrypoint, **kw)
    return wait_build(functions, function_id, dep.id)


@pytest.fixture(scope="module")
def fx(server):
    return client(server.endpoint)


@pytest.fixture(scope="module")
def hello(fx, tmp_path_factory):
    fx.create("hello", "Hello", "python-3.11", entrypoint="src/main.py", timeout=3)
    fx.create_variable("hello", ID.unique(), "MY_VAR", "my-value", secret=False)
    fx.create_variable("hello", ID.unique(), "MY_SECRET", "s3cret", secret=True)
    dep = deploy(fx, tmp_path_factory.mktemp("hello"), "hello", {"src/main.py": PY_MAIN})
    assert dep.status.value == "ready", dep.buildlogs
    return dep


def test_function_crud_and_models(fx):
    fn = fx.create(ID.unique(), "Crud", "node-18.0", execute=["any"], events=[], schedule="*/5 * * * *",
                   timeout=20, entrypoint="index.js", commands="npm install", scopes=["users.read"])
    assert len(fn.id) == 20 and fn.runtime == "node-18.0" and fn.timeout == 20
    assert fn.createdat.endswith("+00:00") and "." in fn.createdat
    assert fn.deploymentid == "" and fn.live is True and fn.version == "v5"
    got = fx.get(fn.id)
    assert got.name == "Crud" and got.schedule == "*/5 * * * *"
    updated = fx.update(fn.id, "Crud 2", runtime="node-18.0", timeout=30)
    assert updated.name == "Crud 2" and updated.timeout == 30
    assert updated.execute == [] and updated.schedule == ""  # PUT replaces: omitted fields reset
    assert updated.entrypoint == "index.js"  # ... except those Appwrite keeps
    fx.delete(fn.id)
    with pytest.raises(AppwriteException) as err:
        fx.get(fn.id)
    assert (err.value.code, err.value.type) == (404, "function_not_found")


def test_chunked_upload_over_5mb_builds_and_executes(fx, tmp_path):
    fx.create("big", "Big", "python-3.11", entrypoint="src/main.py")
    blob = os.urandom(6 * 1024 * 1024)  # random bytes do not compress: the archive is > 5 MiB
    archive = make_archive({"src/main.py": "def main(context):\n    import os\n    return context.res.text(str(os.path.getsize(os.path.join(os.path.dirname(__file__), 'blob.bin'))))\n",
                            "src/blob.bin": blob}, tmp_path / "big.tar.gz")
    assert archive.stat().st_size > 5 * 1024 * 1024 * 1.1
    dep = fx.create_deployment("big", InputFile.from_path(str(archive)), activate=True)
    dep = wait_build(fx, "big", dep.id)
    assert dep.status.value == "ready", dep.buildlogs
    assert dep.sourcesize == archive.stat().st_size
    assert fx.list_deployments("big").total == 1
    execution = fx.create_execution("big")
    assert execution.responsebody == str(len(blob))
    downloaded = fx.get_deployment_download("big", dep.id)
    assert downloaded == archive.read_bytes()


def test_sync_execution_fields(fx, hello):
    e = fx.create_execution("hello", body="ping", path="/?a=1&b=2", method="PUT", headers={"x-custom": "yes",
                                                                                        "content-type": "text/plain"})
    assert e.status.value == "completed" and e.responsestatuscode == 200
    body = json.loads(e.responsebody)
    assert body == {"method": "PUT", "body": "ping", "header": "yes", "trigger": "http", "query": {"a": "1", "b": "2"}}
    assert e.logs == 'log line {"a":1}\n' and e.errors == "error line\n"
    assert e.requestmethod == "PUT" and e.requestpath == "/?a=1&b=2" and e.trigger.value == "http"
    assert {"name": "content-type", "value": "application/json; charset=utf-8"} in [h.model_dump() for h in e.responseheaders]
    assert e.duration > 0
    stored = fx.get_execution("hello", e.id)
    assert stored.duration == e.duration
    assert stored.responsebody == "" and stored.logs == e.logs and stored.status.value == "completed"
    assert {h.name for h in stored.responseheaders} <= {"content-type", "content-length"}


def test_variables_reach_the_environment(fx, hello):
    env = json.loads(fx.create_execution("hello", path="/env", method="GET").responsebody)
    assert env["MY_VAR"] == "my-value" and env["MY_SECRET"] == "s3cret"
    assert env["APPWRITE_FUNCTION_ID"] == "hello" and env["APPWRITE_FUNCTION_NAME"] == "Hello"
    assert env["APPWRITE_FUNCTION_PROJECT_ID"] == "sdk-py" and env["APPWRITE_FUNCTION_DEPLOYMENT"] == hello.id
    assert env["APPWRITE_FUNCTION_RUNTIME_NAME"] == "Python" and env["APPWRITE_FUNCTION_RUNTIME_VERSION"] == "3.11"
    assert env["APPWRITE_FUNCTION_API_ENDPOINT"].endswith("/v1")
    assert env["APPWRITE_FUNCTION_CPUS"] == "1" and env["APPWRITE_FUNCTION_MEMORY"] == "512"
    variables = fx.list_variables("hello")
    assert variables.total == 2
    secret = next(v for v in variables.variables if v.key == "MY_SECRET")
    assert secret.value == "" and secret.secret is True


def test_async_execution_completes(fx, hello):
    e = fx.create_execution("hello", body="later", xasync=True)
    assert e.status.value == "waiting" and e.responsestatuscode == 0
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        e = fx.get_execution("hello", e.id)
        if e.status.value in ("completed", "failed"):
            break
        time.sleep(0.1)
    assert e.status.value == "completed" and e.responsestatuscode == 200 and e.logs.startswith("log line")


def test_failures_are_failed_executions(fx, hello):
    crash = fx.create_execution("hello", path="/crash")
    assert crash.status.value == "failed" and crash.responsestatuscode == 500 and "boom" in crash.errors
    status = fx.create_execution("hello", path="/status")
    assert status.status.value == "failed" and status.responsestatuscode == 503
    ok = fx.create_execution("hello")
    assert ok.status.value == "completed"


def test_timeout_is_enforced(fx, hello):
    e = fx.create_execution("hello", path="/sleep")  # sleeps 30 s; the function's timeout is 3 s
    assert e.status.value == "failed" and "timed out" in e.errors.lower()
    assert 3 <= e.duration < 30, e.duration  # ended by the timeout, not by the function's own end
    assert fx.create_execution("hello").status.value == "completed"


def test_response_over_1mb_never_reaches_caller(fx, hello):
    e = fx.create_execution("hello", path="/big")
    assert e.status.value == "failed" and e.responsebody == ""
    assert "1500000" in e.errors and "1000000" in e.errors
    assert fx.create_execution("hello").status.value == "completed"


def test_legacy_req_res_function(fx, tmp_path):
    fx.create("legacy", "Legacy", "python-3.9", entrypoint="main.py")
    fx.create_variable("legacy", ID.unique(), "GREETING", "hi")
    code = ("def main(req, res):\n"
            "    print('legacy stdout')\n"
            "    res.json({'payload': req.payload, 'greeting': req.variables.get('GREETING'),\n"
            "              'fn': req.variables.get('APPWRITE_FUNCTION_ID'),\n"
            "              'trigger': req.variables.get('APPWRITE_FUNCTION_TRIGGER')})\n")
    assert deploy(fx, tmp_path, "legacy", {"main.py": code}, entrypoint="main.py").status.value == "ready"
    e = fx.create_execution("legacy", body="data!")
    assert e.status.value == "completed", e.errors
    assert json.loads(e.responsebody) == {"payload": "data!", "greeting": "hi", "fn": "legacy", "trigger": "http"}
    assert "legacy stdout" in e.logs


def test_requirements_install_into_the_deployment(fx, tmp_path):
    fx.create("deps", "Deps", "python-3.11", entrypoint="main.py")
    code = "import six\ndef main(context):\n    return context.res.text(six.__file__)\n"
    dep = deploy(fx, tmp_path, "deps", {"main.py": code, "requirements.txt": "six==1.16.0\n"}, entrypoint="main.py")
    assert dep.status.value == "ready", dep.buildlogs
    location = fx.create_execution("deps").responsebody
    assert "/deployments/" in location and "/build/" in location, location


def test_failed_build_keeps_logs(fx, tmp_path):
    fx.create("badbuild", "Bad", "python-3.11", entrypoint="main.py", commands="echo building; exit 3")
    dep = deploy(fx, tmp_path, "badbuild", {"main.py": "def main(context):\n    return context.res.empty()\n"},
                 entrypoint="main.py")
    assert dep.status.value == "failed" and "building" in dep.buildlogs and "code 3" in dep.buildlogs
    with pytest.raises(AppwriteException) as err:
        fx.create_execution("badbuild")
    assert (err.value.code, err.value.type) == (404, "deployment_not_found")


def test_queries_and_pagination(server):
    fx = client(server.endpoint, "sdk-py-queries")
    for i in range(7):
        fx.create(f"q{i}", f"Query {i % 2}", "python-3.11" if i % 2 else "node-18.0", entrypoint="main.py")
    page = fx.list(queries=[Query.limit(3)])
    assert page.total == 7 and [f.id for f in page.functions] == ["q0", "q1", "q2"]
    page2 = fx.list(queries=[Query.limit(3), Query.cursor_after("q2")])
    assert [f.id for f in page2.functions] == ["q3", "q4", "q5"]
    offset = fx.list(queries=[Query.limit(2), Query.offset(5)])
    assert [f.id for f in offset.functions] == ["q5", "q6"]
    before = fx.list(queries=[Query.limit(2), Query.cursor_before("q3")])
    assert [f.id for f in before.functions] == ["q1", "q2"]
    py = fx.list(queries=[Query.equal("runtime", ["python-3.11"])])
    assert py.total == 3 and all(f.runtime == "python-3.11" for f in py.functions)
    desc = fx.list(queries=[Query.order_desc("$id"), Query.limit(2)])
    assert [f.id for f in desc.functions] == ["q6", "q5"]
    names = fx.list(queries=[Query.equal("name", ["Query 1"]), Query.order_asc("name")])
    assert names.total == 3
    assert fx.list(search="Query 0").total == 4
    assert fx.list(queries=[Query.limit(1)], total=False).total == 0
    with pytest.raises(AppwriteException) as err:
        fx.list(queries=[Query.equal("nope", ["x"])])
    assert (err.value.code, err.value.type) == (400, "general_argument_invalid")
    assert "Attribute not found in schema: nope" in err.value.message
    with pytest.raises(AppwriteException) as err:
        fx.list(queries=[Query.cursor_after("missing")])
    assert (err.value.code, err.value.type) == (400, "general_cursor_not_found")
    with pytest.raises(AppwriteException) as err:
        fx.list(queries=["{not json"])
    assert (err.value.code, err.value.type) == (400, "general_query_invalid")


def test_legacy_string_queries(server):
    fx = client(server.endpoint, "sdk-py-legacy-queries")
    for i in range(3):
        fx.create(f"l{i}", f"L{i}", "python-3.11")
    result = fx.list(queries=['equal("name", ["L1", "L2"])', "limit(1)", 'orderDesc("$id")'])
    assert result.total == 2 and [f.id for f in result.functions] == ["l2"]


def test_execution_queries(fx, hello):
    get = fx.create_execution("hello", method="GET")
    post = fx.create_execution("hello", method="POST")
    crashed = fx.create_execution("hello", path="/crash", method="GET")
    assert crashed.status.value == "failed", crashed.errors
    gets = fx.list_executions("hello", queries=[Query.equal("requestMethod", ["GET"])])
    ids = [e.id for e in gets.executions]
    assert get.id in ids and crashed.id in ids and post.id not in ids
    assert gets.total >= 2 and {e.requestmethod for e in gets.executions} == {"GET"}
    failed = fx.list_executions("hello", queries=[Query.equal("status", ["failed"]), Query.limit(1)])
    assert len(failed.executions) == 1 and failed.executions[0].status.value == "failed"
    assert failed.total >= 1


@pytest.mark.parametrize("call, code, type_", [
    (lambda f: f.get("missing"), 404, "function_not_found"),
    (lambda f: f.update("missing", "x"), 404, "function_not_found"),
    (lambda f: f.delete("missing"), 404, "function_not_found"),
    (lambda f: f.create("bad id!", "x", "python-3.11"), 400, "general_argument_invalid"),
    (lambda f: f.create("_lead", "x", "python-3.11"), 400, "general_argument_invalid"),
    (lambda f: f.create("a" * 37, "x", "python-3.11"), 400, "general_argument_invalid"),
    (lambda f: f.create("okid", "x" * 129, "python-3.11"), 400, "general_argument_invalid"),
    (lambda f: f.create("okid", "x", "cobol-1.0"), 400, "general_argument_invalid"),  # not in the whitelist
    (lambda f: f.create("okid", "x", "bun-1.1"), 404, "function_runtime_unsupported"),  # Appwrite's, not run here
    (lambda f: f.create("okid", "x", "python-3.11", timeout=901), 400, "general_argument_invalid"),
    (lambda f: f.create("okid", "x", "python-3.11", timeout=0), 400, "general_argument_invalid"),
    (lambda f: f.create("okid", "x", "python-3.11", schedule="61 * * * *"), 400, "general_argument_invalid"),
    (lambda f: f.create("hello", "dup", "python-3.11"), 409, "function_already_exists"),
    (lambda f: f.get_deployment("hello", "missing"), 404, "deployment_not_found"),
    (lambda f: f.update_function_deployment("hello", "missing"), 404, "deployment_not_found"),
    (lambda f: f.delete_deployment("hello", "missing"), 404, "deployment_not_found"),
    (lambda f: f.get_execution("hello", "missing"), 404, "execution_not_found"),
    (lambda f: f.delete_execution("hello", "missing"), 404, "execution_not_found"),
    (lambda f: f.get_variable("hello", "missing"), 404, "variable_not_found"),
    (lambda f: f.create_variable("hello", ID.unique(), "MY_VAR", "again"), 409, "variable_already_exists"),
    (lambda f: f.create_variable("hello", ID.unique(), "1BAD", "x"), 400, "general_argument_invalid"),
    (lambda f: f.create_execution("missing"), 404, "function_not_found"),
    (lambda f: f.create_execution("hello", scheduled_at="2020-01-01T00:00:00.000+00:00"), 400, "general_bad_request"),
    (lambda f: f.create_execution("hello", xasync=True, scheduled_at="not a date"), 400, "general_bad_request"),
    (lambda f: f.create_execution("hello", headers={"x-appwrite-evil": "1"}), 400, "general_argument_invalid"),
    (lambda f: f.create_execution("hello", headers={"bad header": "1"}), 400, "general_argument_invalid"),
    (lambda f: f.list_executions("missing"), 404, "function_not_found"),
    (lambda f: f.list_deployments("hello", queries=[Query.equal("nope", [1])]), 400, "general_argument_invalid"),
])
def test_error_codes_and_types(fx, hello, call, code, type_):
    with pytest.raises(AppwriteException) as err:
        call(fx)
    assert (err.value.code, err.value.type) == (code, type_), err.value.message
    assert err.value.message


def test_not_ready_and_secret_rules(fx, hello):
    variable = next(v for v in fx.list_variables("hello").variables if v.key == "MY_SECRET")
    with pytest.raises(AppwriteException) as err:
        fx.update_variable("hello", variable.id, secret=False)
    assert (err.value.code, err.value.type) == (400, "variable_cannot_unset_secret")
    fx.create("nodeploy", "No deployment", "python-3.11")
    with pytest.raises(AppwriteException) as err:
        fx.create_execution("nodeploy")
    assert (err.value.code, err.value.type) == (404, "deployment_not_found")


def test_runtimes_and_specifications(fx):
    runtimes = fx.list_runtimes()
    ids = {r.id for r in runtimes.runtimes}
    assert {"python-3.11", "python-3.12", "node-18.0", "node-22"} <= ids
    python = next(r for r in runtimes.runtimes if r.id == "python-3.11")
    assert python.key == "python" and python.name == "Python" and python.version == "3.11"
    specs = fx.list_specifications()
    assert "s-1vcpu-512mb" in {s.slug for s in specs.specifications}


def test_deployment_lifecycle(fx, tmp_path):
    fx.create("life", "Life", "python-3.11", entrypoint="main.py")
    one = deploy(fx, tmp_path, "life", {"main.py": "def main(context):\n    return context.res.text('one')\n"},
                 entrypoint="main.py")
    two = deploy(fx, tmp_path, "life", {"main.py": "def main(context):\n    return context.res.text('two')\n"},
                 entrypoint="main.py")
    assert fx.get("life").deploymentid == two.id
    assert fx.create_execution("life").responsebody == "two"
    fn = fx.update_function_deployment("life", one.id)
    assert fn.deploymentid == one.id
    assert fx.create_execution("life").responsebody == "one"  # the instance was replaced
    with pytest.raises(AppwriteException) as err:
        fx.update_deployment_status("life", one.id)
    assert err.value.type == "build_already_completed"
    dup = fx.create_duplicate_deployment("life", two.id)
    assert wait_build(fx, "life", dup.id).status.value == "ready"
    assert fx.get("life").deploymentid == dup.id
    assert fx.create_execution("life").responsebody == "two"
    fx.delete_deployment("life", dup.id)
    assert fx.get("life").deploymentid == ""
    assert fx.list_deployments("life").total == 2


def test_missing_toolchain_fails_the_build_with_the_hint(fx, tmp_path):
    from emulator.languages import LANGUAGES
    missing = next((lang for lang in LANGUAGES.values() if not lang.toolchain().available), None)
    if missing is None:
        pytest.skip("every toolchain is installed here")
    runtime = f"{missing.key}-{missing.versions[-1]}"
    fx.create("notool", "No toolchain", runtime, entrypoint=missing.default_entrypoint)
    dep = deploy(fx, tmp_path, "notool", {missing.default_entrypoint: "x"}, entrypoint=missing.default_entrypoint)
    assert dep.status.value == "failed"
    assert missing.toolchain().hint in dep.buildlogs
    listed = next(r for r in fx.list_runtimes().runtimes if r.id == runtime)
    assert listed.model_dump().get("available") is False or getattr(listed, "available", None) is False


def test_emulating_appwrite_1_3_uses_the_v2_contract(server_factory, tmp_path):
    srv = server_factory("--appwrite-version", "1.3.8")
    fx = client(srv.endpoint, "v2-era")
    fn = fx.create("old", "Old", "python-3.9", entrypoint="main.py")
    assert fn.version == "v2"
    code = ("import os\ndef main(req, res):\n    print('v2 log')\n"
            "    res.json({'payload': req.payload, 'trigger': req.variables.get('APPWRITE_FUNCTION_TRIGGER'),\n"
            "              'wire': 'INTERNAL_RUNTIME_KEY' in os.environ}, 201)\n")
    assert deploy(fx, tmp_path, "old", {"main.py": code}, entrypoint="main.py").status.value == "ready"
    e = fx.create_execution("old", body="v2 body")
    assert e.status.value == "completed" and e.responsestatuscode == 201, e.errors
    assert json.loads(e.responsebody) == {"payload": "v2 body", "trigger": "http", "wire": True}
    assert "v2 log" in e.logs
