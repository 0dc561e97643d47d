"""The real `appwrite` web SDK in headless Chromium (Debian's `chromium`, driven by playwright-core).

A page on another loopback port (an allowed origin) runs a function through the SDK. A page served
as http://evil.example (mapped to 127.0.0.1 inside the browser, so it only talks to loopback)
sends what a browser lets any page send without asking: text/plain, urlencoded and multipart
POSTs, an HTML form post, a request from a sandboxed frame (Origin: null), and then reaches the
emulator's own port under its name (DNS rebinding). None of it may run the function or create
one: the marker file the function appends to, the execution count and the function list say so.
The CORS and preflight details are checked without a browser in test_browser_origins.py.
"""
from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest

from browser import drive, sdk_site
from security_helpers import call, deploy_marker, marks
from support import ROOT

DRIVER = ROOT / "tests" / "security" / "web_sdk_browser.mjs"
PROJECT = "console"  # a simple request cannot send x-appwrite-project: an attack lands in the default project
PAGE = '<!doctype html><html><head><script src="/sdk.js"></script></head><body><p>{name}</p></body></html>'


@pytest.fixture
def static_site(tmp_path):
    """A local web server (127.0.0.1, its own port) serving the pages and the SDK bundle."""
    with sdk_site(tmp_path / "site", {f"{name}.html": PAGE.format(name=name) for name in ("ok", "evil")}) as port:
        yield port


def test_web_sdk_from_allowed_and_foreign_pages(server_factory, tmp_path, static_site):
    srv = server_factory(data_dir=tmp_path / "browser-data")  # open server: nothing but the origin checks
    mark_file = tmp_path / "marks.txt"
    deploy_marker(srv.endpoint, PROJECT, None, "marker", mark_file, tmp_path)
    emulator_port = urlsplit(srv.endpoint).port
    args = {
        "okPage": f"http://127.0.0.1:{static_site}/ok.html",
        "evilPage": f"http://evil.example:{static_site}/evil.html",
        "endpoint": srv.endpoint,
        "reboundUrl": f"http://evil.example:{emulator_port}/v1/health/version",
        "project": PROJECT, "functionId": "marker",
    }
    seen = drive(DRIVER, args)

    # The allowed page: preflight passed, the SDK got the execution back, the function ran once.
    assert seen["allowed"] == {"status": "completed", "body": seen["allowed"].get("body")}, seen
    assert json.loads(seen["allowed"]["body"])["ran"] is True
    # The foreign page's requests all left the browser (opaque responses) and were refused.
    foreign = seen["foreign"]
    for name in ("text", "urlencoded", "multipart", "create"):
        assert foreign[name] == "sent:opaque", (name, foreign)
    assert foreign["nullOrigin"] == "sent:opaque", foreign
    assert foreign["read"] == "blocked" and foreign["sdk"] == "blocked", foreign
    assert seen["formPost"] == 403
    assert seen["rebound"] == 403 and seen["reboundPost"] == 403

    # Effects: only the allowed page's execution ran; no function was created from the foreign page.
    assert marks(mark_file) == ["from-browser"]
    executions = call(srv.endpoint, "GET", "/functions/marker/executions", PROJECT).json()
    assert executions["total"] == 1
    assert {f["$id"] for f in call(srv.endpoint, "GET", "/functions", PROJECT).json()["functions"]} == {"marker"}
