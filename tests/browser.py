"""Headless Chromium (Debian's `chromium`) driven by playwright-core from tests/node: what the tests
that run real pages share (the web console, the web SDK as a guest and from foreign pages).

Imported as `from browser import ...` (tests/ is on sys.path through tests/conftest.py).
"""
from __future__ import annotations

import functools
import http.server
import json
import shutil
import subprocess
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from support import ROOT, require_toolchain

NODE_MODULES = ROOT / "tests" / "node" / "node_modules"
SDK_BUNDLE = NODE_MODULES / "appwrite" / "dist" / "iife" / "sdk.js"  # the web SDK's browser build


def chromium_path() -> str:
    return shutil.which("chromium") or shutil.which("chromium-browser") or ""


def require_browser(sdk: bool = False) -> None:
    """Skip (fail under CI) with the install hint unless Chromium, node and playwright-core are there,
    and with `sdk` the web SDK's bundle too."""
    if not chromium_path():
        require_toolchain("chromium", "headless Chromium not found. Install: apt-get install -y chromium")
    if shutil.which("node") is None:
        require_toolchain("node", "node not found. Install: apt-get install -y nodejs npm")
    if not (NODE_MODULES / "playwright-core").is_dir() or (sdk and not SDK_BUNDLE.exists()):
        packages = "playwright-core / appwrite" if sdk else "playwright-core"
        require_toolchain("node-packages", f"{packages} not installed. Run: cd tests/node && npm install")


def drive(driver: Path, args: dict, timeout: float = 240) -> dict:
    """Run the node `driver` script with `args` (and the Chromium to use) as JSON; what it printed as
    JSON on its last line."""
    out = subprocess.run(["node", str(driver), json.dumps({"chromium": chromium_path(), **args})],
                         capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-4000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # a line per page load would only bury the test's own output
        pass


@contextmanager
def serve_folder(folder: Path) -> Iterator[int]:
    """`folder` served over HTTP on a loopback port of its own (another origin than the emulator's);
    yields the port."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(folder)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield httpd.server_address[1]
    finally:
        httpd.shutdown()
        httpd.server_close()


@contextmanager
def sdk_site(folder: Path, pages: dict[str, str]) -> Iterator[int]:
    """`pages` (file name -> HTML) and the web SDK's bundle as /sdk.js in `folder`, served by
    serve_folder; yields the port. Skips with the hint when the browser or the bundle is missing."""
    require_browser(sdk=True)  # before the bundle is copied
    folder.mkdir()
    shutil.copy(SDK_BUNDLE, folder / "sdk.js")
    for name, html in pages.items():
        (folder / name).write_text(html)
    with serve_folder(folder) as port:
        yield port
