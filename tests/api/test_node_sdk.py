"""The official `node-appwrite` SDK (27.x) against a running emulator, over HTTP."""
from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from support import ROOT, make_archive, require_toolchain

NODE_DIR = ROOT / "tests" / "node"

MAIN = """
import os
def main(context):
    context.log("node sdk log")
    return context.res.json({"body": context.req.body_text, "path": context.req.path,
                             "x": context.req.query.get("x"), "header": context.req.headers.get("x-test"),
                             "var": os.environ.get("FROM_NODE")})
"""


@pytest.fixture(scope="module")
def node_sdk():
    if shutil.which("node") is None:
        require_toolchain("node", "node not found. Install: apt-get install -y nodejs npm")
    if not (NODE_DIR / "node_modules" / "node-appwrite").exists():
        require_toolchain("node-appwrite", "node-appwrite not installed. Run: make install (cd tests/node && npm install)")
    return NODE_DIR


def test_node_sdk_end_to_end(node_sdk, server, tmp_path):
    big = make_archive({"src/main.py": MAIN, "src/blob.bin": os.urandom(6 * 1024 * 1024)}, tmp_path / "big.tar.gz")
    small = make_archive({"src/main.py": MAIN}, tmp_path / "small.tar.gz")
    out = subprocess.run(["node", "sdk_flow.mjs", server.endpoint, "sdk-node", str(big), str(small)],
                         cwd=node_sdk, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr + out.stdout
    assert "X-Appwrite-Warning" not in out.stderr and "warn" not in out.stderr.lower(), out.stderr
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["created"]["id"] == "nodefn" and report["created"]["runtime"] == "python-3.11"
    assert report["created"]["createdAt"].endswith("+00:00")
    assert report["bigDeployment"] == {"status": "ready", "sourceSize": big.stat().st_size, "type": "manual"}
    assert report["smallDeployment"]["status"] == "ready" and report["activeDeployment"] is True
    sync = report["sync"]
    assert sync["status"] == "completed" and sync["code"] == 200 and sync["trigger"] == "http"
    assert sync["functionId"] == "nodefn" and sync["logs"] == "node sdk log\n"
    assert json.loads(sync["body"]) == {"body": "hello from node", "path": "/echo", "x": "1", "header": "1",
                                        "var": "yes"}
    assert report["asyncCreated"] == "waiting"
    assert report["asyncDone"]["status"] == "completed" and report["asyncDone"]["code"] == 200
    assert report["asyncDone"]["body"] == ""  # bodies are never stored
    assert report["pages"] == {"total": 4, "first": ["page0", "page1"], "second": ["page2", "page3"]}
    assert report["executions"] == {"total": 2, "firstIsAsync": True}
    errors = report["errors"]
    expected = {
        "functionNotFound": (404, "function_not_found"), "invalidId": (400, "general_argument_invalid"),
        "runtime": (400, "general_argument_invalid"), "deploymentNotFound": (404, "deployment_not_found"),
        "executionNotFound": (404, "execution_not_found"), "variableNotFound": (404, "variable_not_found"),
        "variableExists": (409, "variable_already_exists"), "badQuery": (400, "general_argument_invalid"),
    }
    for name, (code, type_) in expected.items():
        assert (errors[name]["code"], errors[name]["type"]) == (code, type_), (name, errors[name])
    assert report["deleted"] == "function_not_found"
