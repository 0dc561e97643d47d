"""The docker executor behind the REST API: the server's default, and chosen per function."""
from __future__ import annotations

import json
import time

import docker_engine
import requests

from docker_images import TEST_PREFIX
from emulator.executors.docker import LABEL
from support import JsonApi

H = {"x-appwrite-project": "docker-api", "x-appwrite-key": "k"}
# 'host': the container's hostname, which the docker executor sets to a random token per container.
MAIN = ("import os, socket\ndef main(context):\n    return context.res.json({'where': os.path.exists('/usr/local/server/helpers/start.sh'), "
        "'body': context.req.body_text, 'host': socket.gethostname()})\n")


def deploy(endpoint: str, function_id: str, **extra) -> None:
    dep = JsonApi(endpoint, H["x-appwrite-project"]).deploy(function_id, {"main.py": MAIN}, **extra)
    if extra.get("executor") == "docker":
        assert "docker" in dep["buildLogs"], dep["buildLogs"]


def execute(endpoint: str, function_id: str) -> dict:
    result = requests.post(endpoint + f"/functions/{function_id}/executions", headers=H, json={"body": "hi"})
    assert result.status_code == 201, result.text
    return result.json()


def test_per_function_executor_choice(docker_setup, server_factory):
    srv = server_factory("--docker-image-prefix", TEST_PREFIX)
    deploy(srv.endpoint, "in-docker", executor="docker")
    deploy(srv.endpoint, "on-host")
    in_docker, on_host = execute(srv.endpoint, "in-docker"), execute(srv.endpoint, "on-host")
    assert in_docker["status"] == "completed", in_docker["errors"]
    assert '"where":true' in in_docker["responseBody"] and '"body":"hi"' in in_docker["responseBody"]
    assert on_host["status"] == "completed" and '"where":false' in on_host["responseBody"]


def test_docker_as_server_default(docker_setup, server_factory):
    srv = server_factory("--executor", "docker", "--docker-image-prefix", TEST_PREFIX)
    deploy(srv.endpoint, "default-docker")
    first = execute(srv.endpoint, "default-docker")
    assert first["status"] == "completed" and '"where":true' in first["responseBody"], first
    second = execute(srv.endpoint, "default-docker")
    assert second["status"] == "completed", second
    host = json.loads(first["responseBody"])["host"]
    assert json.loads(second["responseBody"])["host"] == host, "the warm container serves the second call"
    client = docker_engine.client()
    try:
        serving = [c.id for c in client.containers.list(filters={"label": LABEL})
                   if c.attrs["Config"]["Hostname"] == host]
    finally:
        client.close()
    assert len(serving) == 1, f"one running container has hostname {host}: {serving}"
    queued = requests.post(srv.endpoint + "/functions/default-docker/executions", headers=H,
                           json={"body": "later", "async": True}).json()
    assert queued["status"] == "waiting"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        done = requests.get(srv.endpoint + f"/functions/default-docker/executions/{queued['$id']}", headers=H).json()
        if done["status"] in ("completed", "failed"):
            break
        time.sleep(0.1)
    assert done["status"] == "completed" and done["responseStatusCode"] == 200, done
