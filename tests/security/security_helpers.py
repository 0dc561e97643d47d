"""Shared by tests/security: plain-HTTP calls and a deployed Python function that leaves a trace.

The function appends one line to the file its MARK_FILE variable names each time it runs, and
answers with what it was given, so a test can tell from the disk whether a request ran code.
"""
from __future__ import annotations

from pathlib import Path

import requests

from support import make_archive, wait_deployment_ready

MARKER_MAIN = """
import os
def main(context):
    with open(os.environ["MARK_FILE"], "a") as f:
        f.write((context.req.body_text or "-") + "\\n")
    return context.res.json({"ran": True, "key": context.req.headers.get("x-appwrite-key", ""),
                             "project": os.environ.get("APPWRITE_FUNCTION_PROJECT_ID", "")})
"""


def call(endpoint: str, method: str, path: str, project: str | None = None, key: str | None = None,
         headers: dict | None = None, **kwargs) -> requests.Response:
    h = {}
    if project is not None:
        h["x-appwrite-project"] = project
    if key is not None:
        h["x-appwrite-key"] = key
    h.update(headers or {})
    return requests.request(method, endpoint + path, headers=h, timeout=60, **kwargs)


def deploy_marker(endpoint: str, project: str | None, key: str | None, function_id: str, mark_file: Path,
                  tmp_path: Path) -> None:
    """Create `function_id` running MARKER_MAIN, deploy it and wait until it is ready."""
    r = call(endpoint, "POST", "/functions", project, key,
             json={"functionId": function_id, "name": function_id, "runtime": "python-3.11",
                   "entrypoint": "main.py", "execute": ["any"], "timeout": 15})
    assert r.status_code == 201, r.text
    r = call(endpoint, "POST", f"/functions/{function_id}/variables", project, key,
             json={"variableId": "mark", "key": "MARK_FILE", "value": str(mark_file)})
    assert r.status_code == 201, r.text
    archive = make_archive({"main.py": MARKER_MAIN}, tmp_path / f"{function_id}.tar.gz")
    r = call(endpoint, "POST", f"/functions/{function_id}/deployments", project, key,
             files={"code": ("code.tar.gz", archive.read_bytes(), "application/gzip")},
             data={"entrypoint": "main.py", "activate": "true"})
    assert r.status_code == 202, r.text
    deployment_id = r.json()["$id"]
    wait_deployment_ready(lambda: call(endpoint, "GET", f"/functions/{function_id}/deployments/{deployment_id}",
                                       project, key).json(), deployment_id)


def marks(mark_file: Path) -> list[str]:
    return mark_file.read_text().splitlines() if mark_file.exists() else []
