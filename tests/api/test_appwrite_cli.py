"""The official Appwrite CLI (`appwrite-cli` 12.x) against a running emulator.

The CLI keeps its global config in ~/.appwrite/prefs.json, so each test gives it its own HOME,
and a project directory with an `appwrite.config.json` and one Python function. Every command
runs non-interactively: `--force` answers the CLI's confirmations, `--all` picks every function
on pull, stdin is closed (a prompt fails instead of waiting), and every call has a timeout.
Note the CLI exits 0 even when a push fails, so the tests read its output.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from support import ROOT, require_toolchain

APPWRITE = ROOT / "tests" / "node" / "node_modules" / ".bin" / "appwrite"
API_KEY = "cli-test-key"

MAIN_V1 = '''
def main(context):
    context.log("hi from cli")
    return context.res.text("hello v1")
'''
MAIN_V2 = '''
import os
def main(context):
    context.log("hi again")
    return context.res.text("hello v2 " + os.environ.get("GREETING", "-"))
'''


@pytest.fixture(scope="module")
def cli_server(module_server_factory):
    if shutil.which("node") is None:
        require_toolchain("node", "node not found. Install: apt-get install -y nodejs npm")
    if not APPWRITE.exists():
        require_toolchain("appwrite-cli", "appwrite-cli not installed. Run: cd tests/node && npm install")
    return module_server_factory("--api-key", API_KEY)


class Cli:
    """One CLI user: a HOME of its own and a project directory."""

    def __init__(self, tmp_path: Path, endpoint: str, project_id: str, function_ids: list[str]):
        self.home = tmp_path / "home"
        self.home.mkdir()
        self.project = tmp_path / "project"
        self.endpoint = endpoint
        self.project_id = project_id
        functions = []
        for fid in function_ids:
            (self.project / "functions" / fid).mkdir(parents=True)
            self.write(fid, "main.py", MAIN_V1)
            functions.append({
                "$id": fid, "name": fid, "runtime": "python-3.11", "specification": "s-1vcpu-512mb",
                "execute": ["any"], "events": [], "scopes": ["users.read"], "schedule": "", "timeout": 15,
                "enabled": True, "logging": True, "entrypoint": "main.py", "commands": "",
                "path": f"functions/{fid}",
            })
        self.config_path.write_text(json.dumps(
            {"projectId": project_id, "endpoint": endpoint, "functions": functions}, indent=4))

    @property
    def config_path(self) -> Path:
        return self.project / "appwrite.config.json"

    def write(self, function_id: str, name: str, text: str) -> None:
        (self.project / "functions" / function_id / name).write_text(text)

    def run(self, *args: str, timeout: float = 180) -> str:
        env = {**os.environ, "HOME": str(self.home), "CI": "true", "NO_COLOR": "1"}
        out = subprocess.run([str(APPWRITE), *args], cwd=self.project, env=env, stdin=subprocess.DEVNULL,
                             capture_output=True, text=True, timeout=timeout)
        return out.stdout + out.stderr

    def json(self, *args: str) -> dict:
        env = {**os.environ, "HOME": str(self.home), "CI": "true", "NO_COLOR": "1"}
        out = subprocess.run([str(APPWRITE), "--json", *args], cwd=self.project, env=env,
                             stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stdout + out.stderr
        return json.loads(out.stdout)

    def prefs(self) -> dict:
        prefs = json.loads((self.home / ".appwrite" / "prefs.json").read_text())
        return prefs.get(prefs["current"], {}) if prefs.get("current") else {}

    def push(self, function_id: str, *flags: str) -> str:
        out = self.run("push", "function", "--function-id", function_id, *flags)
        assert "Successfully pushed 1 functions." in out, out
        assert "Deployed" in out and "Error" not in out, out
        return out


def api(endpoint: str, method: str, path: str, project: str, headers: dict | None = None, body=None):
    req = urllib.request.Request(endpoint + path, method=method, data=None if body is None else json.dumps(body).encode(),
                                 headers={"x-appwrite-project": project, "content-type": "application/json",
                                          **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def test_key_auth_push_create_update_execute_pull(cli_server, tmp_path):
    cli = Cli(tmp_path, cli_server.endpoint, "cli-key", ["hello"])
    out = cli.run("client", "--endpoint", cli_server.endpoint, "--project-id", "cli-key", "--key", API_KEY)
    assert "Setting client" in out, out
    assert cli.prefs()["key"] == API_KEY and cli.prefs()["endpoint"] == cli_server.endpoint

    # A new function: created, given a proxy rule (console SDK), deployed and built.
    out = cli.push("hello", "--force")
    assert ".functions.localhost" in out, out  # the rule's domain, printed once deployed
    status, _, body = api(cli_server.endpoint, "GET", "/functions/hello", "cli-key", {"x-appwrite-key": API_KEY})
    fn = json.loads(body)
    assert status == 200 and fn["runtime"] == "python-3.11" and fn["latestDeploymentStatus"] == "ready"
    assert fn["deploymentId"] == fn["latestDeploymentId"]

    execution = cli.json("functions", "create-execution", "--function-id", "hello", "--body", "x")
    assert execution["status"] == "completed" and execution["responseStatusCode"] == 200
    assert execution["responseBody"] == "hello v1" and execution["logs"] == "hi from cli\n"
    assert execution["functionId"] == "hello"
    listed = cli.json("functions", "list-executions", "--function-id", "hello")
    assert listed["total"] == 1 and listed["executions"][0]["$id"] == execution["$id"]

    # The update path (PUT), without --force: an unchanged function shows no diff, so no prompt
    # (stdin is closed; a prompt would fail the push). Variables come from the function's .env.
    cli.write("hello", "main.py", MAIN_V2)
    cli.write("hello", ".env", "GREETING=hola\nOTHER=x y\n")
    out = cli.push("hello", "--with-variables")
    assert "Skipping push" not in out, out
    variables = cli.json("functions", "list-variables", "--function-id", "hello")
    assert sorted((v["key"], v["value"]) for v in variables["variables"]) == [("GREETING", "hola"), ("OTHER", "x y")]
    execution = cli.json("functions", "create-execution", "--function-id", "hello")
    assert execution["responseBody"] == "hello v2 hola" and execution["logs"] == "hi again\n"
    status, _, body = api(cli_server.endpoint, "GET", "/functions/hello/deployments", "cli-key",
                          {"x-appwrite-key": API_KEY})
    assert json.loads(body)["total"] == 2

    # A second --with-variables push replaces the variables instead of adding to them.
    cli.write("hello", ".env", "GREETING=salut\n")
    cli.push("hello", "--with-variables", "--force")
    variables = cli.json("functions", "list-variables", "--function-id", "hello")
    assert [(v["key"], v["value"]) for v in variables["variables"]] == [("GREETING", "salut")]

    # Pull brings the latest deployment's code (and, asked, the variables) back.
    config_before = json.loads(cli.config_path.read_text())
    shutil.rmtree(cli.project / "functions" / "hello")
    out = cli.run("pull", "function", "--all", "--force", "--with-variables")
    assert "Successfully pulled 1 functions." in out, out
    assert (cli.project / "functions" / "hello" / "main.py").read_text() == MAIN_V2
    assert (cli.project / "functions" / "hello" / ".env").read_text() == "GREETING=salut\n"
    assert json.loads(cli.config_path.read_text()) == config_before  # the remote matches the local config


def test_login_cookie_push_and_logout(cli_server, tmp_path):
    cli = Cli(tmp_path, cli_server.endpoint, "cli-login", ["greeter"])
    login = ("login", "--endpoint", cli_server.endpoint, "--email", "dev@example.com")

    out = cli.run(*login, "--password", "wrong-password")
    assert "Invalid credentials" in out, out
    assert "cookie" not in cli.prefs()

    # With --api-key the password is the key.
    out = cli.run(*login, "--password", API_KEY)
    assert "Successfully signed in as dev@example.com" in out, out
    cookie = cli.prefs()["cookie"]
    assert cookie.startswith("a_session_console=") and "expires=" in cookie.lower()
    assert "dev@example.com" in cli.run("whoami")

    # No key anywhere: the project calls go with the cookie in admin mode.
    cli.push("greeter", "--force")
    execution = cli.json("functions", "create-execution", "--function-id", "greeter")
    assert execution["responseBody"] == "hello v1"
    status, _, body = api(cli_server.endpoint, "GET", "/proxy/rules", "cli-login", {"x-appwrite-key": API_KEY})
    rules = json.loads(body)
    assert status == 200 and rules["total"] == 1
    assert rules["rules"][0]["deploymentResourceId"] == "greeter"
    assert rules["rules"][0]["deploymentId"] == execution["deploymentId"]

    # The stored Set-Cookie string, attributes and all, is a credential for the REST API too.
    status, _, _ = api(cli_server.endpoint, "GET", "/functions/greeter", "cli-login", {"cookie": cookie})
    assert status == 200

    out = cli.run("logout")
    assert "Logging out" in out and "Unable to log out" not in out, out
    status, _, body = api(cli_server.endpoint, "GET", "/functions/greeter", "cli-login", {"cookie": cookie})
    assert status == 401 and "appwrite login" in json.loads(body)["message"]


def test_console_endpoints_over_http(cli_server):
    e, key = cli_server.endpoint, {"x-appwrite-key": API_KEY}
    status, headers, body = api(e, "POST", "/account/sessions/email", "console",
                                body={"email": "a@b.c", "password": API_KEY})
    session = json.loads(body)
    assert status == 201 and session["current"] is True and session["providerUid"] == "a@b.c"
    set_cookie = headers["Set-Cookie"]
    assert set_cookie.startswith("a_session_console=")
    status, _, body = api(e, "GET", "/account", "console", {"cookie": set_cookie})
    assert status == 200 and json.loads(body)["email"] == "a@b.c" and json.loads(body)["mfa"] is False

    status, _, body = api(e, "GET", "/account", "console", key)
    assert status == 401 and json.loads(body)["type"] == "general_unauthorized_scope"
    status, _, body = api(e, "POST", "/account/sessions/email", "console", body={"email": "a@b.c"})
    assert status == 400 and json.loads(body)["message"] == 'Param "password" is not optional.'

    status, _, body = api(e, "GET", "/console/variables", "console", key)
    assert status == 200 and json.loads(body)["_APP_DOMAIN_FUNCTIONS"] == "functions.localhost"

    status, _, body = api(e, "POST", "/proxy/rules/function", "rules-proj", key,
                          body={"domain": "x.functions.localhost", "functionId": "missing"})
    assert status == 404 and json.loads(body)["type"] == "function_not_found"

    status, _, body = api(e, "POST", "/projects/rules-proj/jwts", "console", key, body={"duration": 60})
    jwt = json.loads(body)["jwt"]
    assert status == 201
    status, _, _ = api(e, "GET", "/functions", "rules-proj", {"x-appwrite-key": jwt})
    assert status == 200


def test_open_server_key_only_first_push(server_factory, tmp_path):
    """Without --api-key any key works; a first push still needs a console session, which the
    emulator hands the CLI with the function it creates."""
    if shutil.which("node") is None or not APPWRITE.exists():
        require_toolchain("appwrite-cli", "appwrite-cli not installed. Run: cd tests/node && npm install")
    srv = server_factory(data_dir=tmp_path / "open-data")
    cli = Cli(tmp_path, srv.endpoint, "cli-open", ["hello"])
    assert "Setting client" in cli.run("client", "--endpoint", srv.endpoint, "--key", "anything")
    cli.push("hello", "--force")
    assert cli.prefs()["cookie"].startswith("a_session_console=")
    assert cli.json("functions", "create-execution", "--function-id", "hello")["responseBody"] == "hello v1"
    out = cli.run("login", "--endpoint", srv.endpoint, "--email", "x@y.z", "--password", "whatever")
    assert "Successfully signed in as x@y.z" in out, out
