"""The environment a runtime is started with (emulator/runtime_env.py), seen from inside a real
function run by the local executor: the function's variables are there and may set the image
defaults (OPEN_RUNTIMES_HEADERS, as on Appwrite), but no variable changes what the executor decides
(secret, port, logs directory, limits)."""
from __future__ import annotations

import json
import re

import requests

from support import make_archive, wait_deployment_ready

H = {"x-appwrite-project": "runtime-env", "x-appwrite-key": "k"}
SOURCE = '''import os

NAMES = ("OPEN_RUNTIMES_SECRET", "OPEN_RUNTIMES_PORT", "OPEN_RUNTIMES_LOGS_DIR", "OPEN_RUNTIMES_CPUS",
         "OPEN_RUNTIMES_MEMORY", "OPEN_RUNTIMES_ENV", "OPEN_RUNTIMES_ENTRYPOINT", "CI", "MY_VAR")


def main(context):
    return context.res.json({"env": {name: os.environ.get(name) for name in NAMES},
                             "forced": context.req.headers.get("x-forced")})
'''


def test_variables_cannot_change_what_the_executor_sets(server, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    created = requests.post(server.endpoint + "/functions", headers=H, json={
        "functionId": "envcheck", "name": "envcheck", "runtime": "python-3.11", "entrypoint": "main.py"})
    assert created.status_code == 201, created.text
    variables = {"OPEN_RUNTIMES_SECRET": "hijack", "OPEN_RUNTIMES_PORT": "1", "OPEN_RUNTIMES_LOGS_DIR": str(elsewhere),
                 "OPEN_RUNTIMES_ENTRYPOINT": "other.py", "OPEN_RUNTIMES_HEADERS": '{"X-Forced": "yes"}',
                 "MY_VAR": "mine"}
    for key, value in variables.items():
        made = requests.post(server.endpoint + "/functions/envcheck/variables", headers=H,
                             json={"variableId": "unique()", "key": key, "value": value})
        assert made.status_code == 201, made.text
    archive = make_archive({"main.py": SOURCE}, tmp_path / "code.tar.gz")
    with open(archive, "rb") as fh:
        up = requests.post(server.endpoint + "/functions/envcheck/deployments", headers=H,
                           files={"code": ("code.tar.gz", fh)}, data={"activate": "true", "entrypoint": "main.py"})
    assert up.status_code == 202, up.text
    dep_id = up.json()["$id"]
    wait_deployment_ready(lambda: requests.get(f"{server.endpoint}/functions/envcheck/deployments/{dep_id}",
                                               headers=H).json(), dep_id, timeout=300)

    run = requests.post(server.endpoint + "/functions/envcheck/executions", headers=H, json={"async": False})
    assert run.status_code == 201, run.text
    execution = run.json()
    # A secret or port taken from the variables would leave the executor unable to reach or
    # authenticate to the runtime: the execution succeeding is the first proof.
    assert execution["status"] == "completed" and execution["responseStatusCode"] == 200, execution["errors"]
    seen = json.loads(execution["responseBody"])
    env = seen["env"]
    assert re.fullmatch(r"[0-9a-f]{32}", env["OPEN_RUNTIMES_SECRET"]), env
    assert env["OPEN_RUNTIMES_PORT"] != "1" and int(env["OPEN_RUNTIMES_PORT"]) > 1024, env
    assert env["OPEN_RUNTIMES_ENTRYPOINT"] == "main.py", env
    logs_dir = env["OPEN_RUNTIMES_LOGS_DIR"]
    assert logs_dir.startswith(str(server.data_dir.resolve())) or logs_dir.startswith(str(server.data_dir)), env
    assert not elsewhere.exists()
    assert env["OPEN_RUNTIMES_CPUS"] == "1" and env["OPEN_RUNTIMES_MEMORY"] == "512", env
    assert env["CI"] == "true" and env["OPEN_RUNTIMES_ENV"] == "production" and env["MY_VAR"] == "mine", env
    # The image default a variable may replace: headers forced onto every request.
    assert seen["forced"] == "yes", seen


DRAINING = '''import os, time


def main(context):
    body = context.req.body_text
    if body:  # "<path>": say the call started, then wait until the test lets it end
        with open(body + ".started", "w") as started:
            started.write(str(os.getpid()))
        while not os.path.exists(body):
            time.sleep(0.005)
    return context.res.json({"pid": os.getpid(), "var": os.environ.get("MY_VAR")})
'''


class _Function:
    """A function of a project of its own on the module's server, over plain HTTP."""

    def __init__(self, server, project: str, function_id: str, tmp_path, **fields):
        self.h = {"x-appwrite-project": project, "x-appwrite-key": "k"}
        self.url = f"{server.endpoint}/functions/{function_id}"
        self.tmp_path = tmp_path
        created = requests.post(server.endpoint + "/functions", headers=self.h, json={
            "functionId": function_id, "name": function_id, "runtime": "python-3.11", "entrypoint": "main.py",
            **fields})
        assert created.status_code == 201, created.text

    def deploy(self, code: str, name: str = "code") -> str:
        """Upload `code` as main.py and wait until it is built and active; its deployment id."""
        from support import wait_for

        with open(make_archive({"main.py": code}, self.tmp_path / f"{name}.tar.gz"), "rb") as fh:
            up = requests.post(f"{self.url}/deployments", headers=self.h, files={"code": ("code.tar.gz", fh)},
                               data={"activate": "true"})
        dep_id = up.json()["$id"]
        wait_deployment_ready(lambda: requests.get(f"{self.url}/deployments/{dep_id}", headers=self.h).json(), dep_id)
        wait_for(lambda: requests.get(self.url, headers=self.h).json()["deploymentId"] == dep_id,
                 message=f"deployment {name} to be active")
        return dep_id

    def execute(self, body: str = "") -> dict:
        """The JSON a DRAINING function answers, from an execution that must complete."""
        answer = requests.post(f"{self.url}/executions", headers=self.h, json={"body": body}, timeout=60).json()
        assert answer["status"] == "completed", answer["errors"]
        return json.loads(answer["responseBody"])


def test_a_variable_changed_mid_execution_lets_the_execution_finish_on_its_instance(server, tmp_path):
    """A variable change starts new calls on an instance with the new environment; a call in
    flight ends on its own instance, which is stopped once that call is done (not killed mid-call)."""
    from concurrent.futures import ThreadPoolExecutor

    from support import process_running, wait_for

    fn = _Function(server, "draining", "drain", tmp_path)
    fn.deploy(DRAINING)
    release = tmp_path / "release"
    with ThreadPoolExecutor(1) as pool:
        in_flight = pool.submit(fn.execute, str(release))
        wait_for(lambda: (tmp_path / "release.started").exists(), message="the first call to start")
        made = requests.post(f"{fn.url}/variables", headers=fn.h, json={"variableId": "v", "key": "MY_VAR",
                                                                        "value": "new"})
        assert made.status_code == 201, made.text
        after = fn.execute()
        assert after["var"] == "new"
        assert not in_flight.done()  # the first call still waits, its instance still there
        release.touch()
        first = in_flight.result(timeout=60)
    assert first["var"] is None and first["pid"] != after["pid"]
    wait_for(lambda: not process_running(first["pid"]), message="the replaced instance to stop once its call ended")
    assert process_running(after["pid"])


def test_an_execution_in_flight_when_another_deployment_is_activated_finishes_on_its_own(server, tmp_path):
    """Activating a new deployment (a redeploy, a `dev` reload) sends new calls to it; a call in
    flight on the previous one ends there, and that instance stops once it is done."""
    from concurrent.futures import ThreadPoolExecutor

    from support import process_running, wait_for

    # A long timeout: the held call below ends only when its instance is stopped.
    fn = _Function(server, "redeploying", "redeploy", tmp_path, timeout=300)

    def deploy(marker: str) -> str:
        return fn.deploy(DRAINING.replace('"var": os.environ.get("MY_VAR")', f'"var": "{marker}"'), marker)

    deploy("first")
    release = tmp_path / "release"
    with ThreadPoolExecutor(1) as pool:
        in_flight = pool.submit(fn.execute, str(release))
        wait_for(lambda: (tmp_path / "release.started").exists(), message="the first call to start")
        second_id = deploy("second")
        after = fn.execute()
        assert after["var"] == "second"
        assert not in_flight.done()  # still waiting, on the first deployment's instance
        release.touch()
        first = in_flight.result(timeout=60)
    assert first["var"] == "first" and first["pid"] != after["pid"]
    wait_for(lambda: not process_running(first["pid"]), message="the previous deployment's instance to stop")

    # Deleting a deployment stops its instance at once, even one still finishing a call.
    held = tmp_path / "held"
    with ThreadPoolExecutor(1) as pool:
        pool.submit(requests.post, f"{fn.url}/executions", headers=fn.h, json={"body": str(held)}, timeout=120)
        wait_for(lambda: (tmp_path / "held.started").exists() and (tmp_path / "held.started").read_text(),
                 message="the call to start")
        pid = int((tmp_path / "held.started").read_text())
        deploy("third")
        assert process_running(pid)  # retired, still serving
        assert requests.delete(f"{fn.url}/deployments/{second_id}", headers=fn.h).status_code == 204
        wait_for(lambda: not process_running(pid), timeout=20, message="the deleted deployment's instance to stop")
