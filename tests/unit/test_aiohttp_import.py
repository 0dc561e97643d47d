"""`serve` and `dev` import aiohttp's server side without its client side (emulator/aiohttp_import.py):
no client module, no TLS context, no CA bundle parsed; the first other name asked of the package
completes it."""
from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import json, sys
from emulator.aiohttp_import import import_aiohttp
import_aiohttp()
import emulator.server, emulator.app, emulator.dev.session
import aiohttp
from aiohttp import web
before = sorted(m for m in ("aiohttp.client", "aiohttp.connector", "aiohttp.tracing", "aiohttp.cookiejar") if m in sys.modules)
version = aiohttp.__version__
session = aiohttp.ClientSession  # completes the package
from aiohttp import ClientTimeout, TCPConnector
import aiohttp.connector as connector
print(json.dumps({"before": before, "version": version, "session": session.__module__,
                  "after": "aiohttp.client" in sys.modules, "web": aiohttp.web is web,
                  "certs": connector._SSL_CONTEXT_VERIFIED.cert_store_stats()["x509_ca"]}))
"""


def test_the_server_side_only_and_the_whole_package_on_demand():
    out = json.loads(subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True).stdout)
    plain = json.loads(subprocess.run(
        [sys.executable, "-c", "import aiohttp, json, ssl; print(json.dumps([aiohttp.__version__, "
                               "ssl.create_default_context().cert_store_stats()['x509_ca']]))"],
        capture_output=True, text=True, check=True).stdout)
    assert out["before"] == [], f"the server's import brought in the client side: {out['before']}"
    assert out["version"] == plain[0]
    assert out["session"] == "aiohttp.client" and out["after"] and out["web"]
    assert out["certs"] == plain[1], "completed later, the client's default TLS context is the usual one"
