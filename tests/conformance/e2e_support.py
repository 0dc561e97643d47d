"""What the ports of Appwrite's e2e Functions suite share (tests/conformance/test_e2e_*.py; the fixtures
that start the emulator and give each side are in conftest.py).

Appwrite's e2e tests (tests/e2e/Services/Functions/ at 1.9.6) run every request from one "side": the
server side sends the project's API key, the console side a console session cookie, the client side
a user's session. Here each module gets its own real emulator started with `--api-key`, so a request
without credentials is a guest's, as in Appwrite, and `Side` sends a side's headers. The emulator has
no user accounts: where a test signs a user in, the docstring of the port says what replaces it.

Requests are encoded the way Appwrite's PHP test client encodes them: JSON bodies (`[]` when there are
no parameters), `http_build_query` for GET (so `true`/`false` become `1`/`0`), multipart form fields
with `true` as `1`. The small functions the tests deploy are in tests/conformance/functions/.
"""
from __future__ import annotations

import io
import json
import tarfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import requests

from support import Server, wait_deployment_ready, wait_for

KEY = "e2e-secret-key"
PROJECT = "e2e"
FUNCTIONS = Path(__file__).resolve().parent / "functions"


def unique() -> str:
    """A fresh id, as Appwrite's ID::unique() gives the e2e tests."""
    return uuid.uuid4().hex[:20]


def package(folder: str) -> bytes:
    """The tar.gz of tests/conformance/functions/<folder>, as the e2e suite's packageFunction() makes it."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for path in sorted((FUNCTIONS / folder).rglob("*")):
            if path.is_file():
                tar.add(path, arcname=str(path.relative_to(FUNCTIONS / folder)))
    return buf.getvalue()


@dataclass
class Reply:
    """A response as the PHP test client hands it over: status, lower-cased headers, decoded body."""
    status: int
    headers: dict
    body: object
    raw: bytes


def _php_value(value) -> str:
    """How PHP's http_build_query and curl's form encoding write a scalar."""
    if value is True:
        return "1"
    if value is False:
        return "0"
    return "" if value is None else str(value)


def _form_pairs(params, prefix: str = "") -> list[tuple[str, str]]:
    if isinstance(params, (list, tuple)):  # a PHP list is an array with keys 0, 1, ...
        params = dict(enumerate(params))
    pairs = []
    for key, value in params.items():
        name = f"{prefix}[{key}]" if prefix else str(key)
        if isinstance(value, dict):
            pairs += _form_pairs(value, name)
        elif isinstance(value, (list, tuple)):
            pairs += _form_pairs(value, name)
        else:
            pairs.append((name, _php_value(value)))
    return pairs


def decode(response: requests.Response) -> Reply:
    ctype = response.headers.get("content-type", "")
    body: object = response.content
    if ctype.startswith("application/json") and response.content:
        body = response.json()
    elif ctype.startswith("text/"):
        body = response.text
    return Reply(response.status_code, {k.lower(): v for k, v in response.headers.items()}, body, response.content)


class Side:
    """Requests to one emulator from one side of Appwrite's e2e scopes, with its helpers (FunctionsBase)."""

    def __init__(self, server: Server, headers: dict, project: str = PROJECT):
        self.server, self.project, self.headers = server, project, headers

    # -- transport ---------------------------------------------------------------------------------
    def call(self, method: str, path: str, params=None, headers: dict | None = None, *,
             multipart: bool = False, files: dict | None = None, raw: bytes | None = None,
             base_headers: dict | None = None) -> Reply:
        sent = {"x-appwrite-project": self.project, **(self.headers if base_headers is None else base_headers),
                **(headers or {})}
        url = self.server.endpoint + path
        kwargs: dict = {"headers": sent, "timeout": 120}
        if method in ("GET", "HEAD"):
            kwargs["params"] = _form_pairs(params or {})
        elif raw is not None:
            kwargs["data"] = raw
        elif multipart:
            sent.pop("content-type", None)
            kwargs["files"] = [(name, (None, value)) for name, value in _form_pairs(params or {})] + [
                (name, (filename, data, "application/x-gzip")) for name, (filename, data) in (files or {}).items()]
        else:
            sent.setdefault("content-type", "application/json")
            kwargs["data"] = json.dumps(params if params is not None else [])
        return decode(requests.request(method, url, **kwargs))

    def with_headers(self, headers: dict) -> "Side":
        return Side(self.server, headers, self.project)

    # -- FunctionsBase ------------------------------------------------------------------------------
    def create_function(self, params) -> Reply:
        return self.call("POST", "/functions", params)

    def update_function(self, function_id: str, params) -> Reply:
        return self.call("PUT", f"/functions/{function_id}", params)

    def get_function(self, function_id: str) -> Reply:
        return self.call("GET", f"/functions/{function_id}")

    def delete_function(self, function_id: str) -> Reply:
        return self.call("DELETE", f"/functions/{function_id}")

    def list_functions(self, params=None) -> Reply:
        return self.call("GET", "/functions", params)

    def create_variable(self, function_id: str, params) -> Reply:
        return self.call("POST", f"/functions/{function_id}/variables", params)

    def get_variable(self, function_id: str, variable_id: str) -> Reply:
        return self.call("GET", f"/functions/{function_id}/variables/{variable_id}")

    def update_variable(self, function_id: str, variable_id: str, params=None) -> Reply:
        return self.call("PUT", f"/functions/{function_id}/variables/{variable_id}", params)

    def list_variables(self, function_id: str, params=None) -> Reply:
        return self.call("GET", f"/functions/{function_id}/variables", params)

    def delete_variable(self, function_id: str, variable_id: str) -> Reply:
        return self.call("DELETE", f"/functions/{function_id}/variables/{variable_id}")

    def create_deployment(self, function_id: str, folder: str | None = None, headers: dict | None = None,
                          code: bytes | None = None, **fields) -> Reply:
        code = package(folder) if code is None else code
        return self.call("POST", f"/functions/{function_id}/deployments", fields, headers, multipart=True,
                         files={"code": ("code.tar.gz", code)})

    def get_deployment(self, function_id: str, deployment_id: str) -> Reply:
        return self.call("GET", f"/functions/{function_id}/deployments/{deployment_id}")

    def list_deployments(self, function_id: str, params=None) -> Reply:
        return self.call("GET", f"/functions/{function_id}/deployments", params)

    def delete_deployment(self, function_id: str, deployment_id: str) -> Reply:
        return self.call("DELETE", f"/functions/{function_id}/deployments/{deployment_id}")

    def cancel_deployment(self, function_id: str, deployment_id: str) -> Reply:
        return self.call("PATCH", f"/functions/{function_id}/deployments/{deployment_id}/status")

    def create_duplicate_deployment(self, function_id: str, deployment_id: str) -> Reply:
        return self.call("POST", f"/functions/{function_id}/deployments/duplicate", {"deploymentId": deployment_id},
                         multipart=True)

    def update_function_deployment(self, function_id: str, deployment_id: str) -> Reply:
        return self.call("PATCH", f"/functions/{function_id}/deployment", {"deploymentId": deployment_id})

    def deployment_download(self, function_id: str, deployment_id: str, kind: str) -> Reply:
        return self.call("GET", f"/functions/{function_id}/deployments/{deployment_id}/download", {"type": kind})

    def create_execution(self, function_id: str, params=None, headers: dict | None = None) -> Reply:
        return self.call("POST", f"/functions/{function_id}/executions", params, headers)

    def get_execution(self, function_id: str, execution_id: str) -> Reply:
        return self.call("GET", f"/functions/{function_id}/executions/{execution_id}")

    def list_executions(self, function_id: str, params=None) -> Reply:
        return self.call("GET", f"/functions/{function_id}/executions", params)

    def latest_finished_execution(self, function_id: str) -> dict | None:
        """The newest execution of the function once it has finished, else None (a wait_for condition)."""
        executions = self.list_executions(function_id)
        assert executions.status == 200
        listed = executions.body["executions"]
        return listed[0] if listed and listed[0]["status"] in ("completed", "failed") else None

    def delete_execution(self, function_id: str, execution_id: str) -> Reply:
        return self.call("DELETE", f"/functions/{function_id}/executions/{execution_id}")

    def get_usage(self, function_id: str, params) -> Reply:
        return self.call("GET", f"/functions/{function_id}/usage", params)

    def get_template(self, template_id: str) -> Reply:
        return self.call("GET", f"/functions/templates/{template_id}", base_headers={})

    def list_specifications(self) -> Reply:
        return self.call("GET", "/functions/specifications")

    # -- set-up helpers that always use the API key (FunctionsBase::setupFunction and friends) -------
    @property
    def admin(self) -> "Side":
        return self.with_headers({"x-appwrite-key": KEY})

    def setup_function(self, params) -> str:
        reply = self.admin.create_function(params)
        assert reply.status == 201, reply.body
        return reply.body["$id"]

    def setup_deployment(self, function_id: str, folder: str, activate: bool = True, **fields) -> str:
        admin = self.admin
        reply = admin.create_deployment(function_id, folder, activate=activate, **fields)
        assert reply.status == 202, reply.body
        deployment_id = reply.body["$id"]
        self.wait_ready(function_id, deployment_id)
        if activate:
            wait_for(lambda: admin.get_function(function_id).body["deploymentId"] == deployment_id, timeout=120,
                     interval=0.2, message=f"deployment {deployment_id} to be active")
        return deployment_id

    def wait_ready(self, function_id: str, deployment_id: str) -> dict:
        return wait_deployment_ready(lambda: self.admin.get_deployment(function_id, deployment_id).body,
                                     deployment_id, interval=0.2)

    def cleanup_function(self, function_id: str) -> None:
        assert self.admin.delete_function(function_id).status == 204

    def wait_execution(self, function_id: str, execution_id: str, status: str = "completed",
                       timeout: float = 120) -> dict:
        """The execution once it is `status` (failing early if it ends in another state)."""
        def settled():
            doc = self.admin.get_execution(function_id, execution_id).body
            if doc["status"] in ("completed", "failed") and doc["status"] != status:
                raise AssertionError(f"execution ended {doc['status']}, expected {status}: {doc}")
            return doc if doc["status"] == status else None
        return wait_for(settled, timeout=timeout, interval=0.2, message=f"execution {execution_id} to be {status}")

    # -- effects on disk and in the process table --------------------------------------------------
    def function_dir(self, function_id: str) -> Path:
        """Where the emulator keeps a function's deployments (its data dir layout)."""
        return self.server.data_dir / "projects" / self.project / "functions" / function_id

    def deployment_dir(self, function_id: str, deployment_id: str) -> Path:
        return self.function_dir(function_id) / "deployments" / deployment_id

    # -- function domains --------------------------------------------------------------------------
    def setup_function_domain(self, function_id: str, subdomain: str = "") -> str:
        suffix = self.call("GET", "/console/variables").body["_APP_DOMAIN_FUNCTIONS"].split(",")[0]
        rule = self.call("POST", "/proxy/rules/function",
                         {"domain": f"{subdomain or unique()}.{suffix}", "functionId": function_id})
        assert rule.status == 201, rule.body
        assert rule.body["$id"] and rule.body["domain"]
        return rule.body["domain"]

    def get_function_domain(self, function_id: str) -> str:
        rules = self.call("GET", "/proxy/rules", {"queries": [
            json.dumps({"method": "equal", "attribute": "deploymentResourceId", "values": [function_id]}),
            json.dumps({"method": "equal", "attribute": "trigger", "values": ["manual"]}),
            json.dumps({"method": "equal", "attribute": "type", "values": ["deployment"]})]})
        assert rules.status == 200, rules.body
        assert rules.body["total"] >= 1 and rules.body["rules"][0]["domain"]
        return rules.body["rules"][0]["domain"]

    def on_domain(self, domain: str, method: str, path: str, headers: dict | None = None,
                  data: bytes | None = None) -> Reply:
        """A plain HTTP request to a function's domain (`Host` names it; the socket is the emulator's)."""
        port = urlsplit(self.server.endpoint).port
        response = requests.request(method, f"http://127.0.0.1:{port}{path}", data=data, timeout=120,
                                    headers={"host": f"{domain}:{port}", **(headers or {})})
        return decode(response)


def query(method: str, attribute: str | None = None, values=None) -> str:
    """One query in Appwrite's JSON syntax (Query::...->toString())."""
    doc: dict = {"method": method}
    if attribute is not None:
        doc["attribute"] = attribute
    if values is not None:
        doc["values"] = values
    return json.dumps(doc)


def headers_of(doc: dict, key: str) -> dict:
    """An execution's requestHeaders/responseHeaders as a dict."""
    return {h["name"]: h["value"] for h in doc[key]}
