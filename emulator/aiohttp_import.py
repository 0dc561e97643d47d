"""aiohttp's server side, imported without its client side.

`import aiohttp.web` first runs the package's `__init__`, which imports aiohttp's HTTP client as
well (client, connector, cookie jar, tracing: ~60 ms of `serve`'s and `dev`'s start, of which ~45
ms is the connector building two default TLS contexts, each parsing the system's CA bundle). The
emulator only serves: it reaches runtimes over its own connections
(executors/runtime_connections.py) and never uses aiohttp's client. So `serve` and `dev` put the
package in place without running its `__init__`; the server's modules import the submodules they
use (`from aiohttp import web`), and the first access to any other name of the package
(`aiohttp.ClientSession`, say) runs the real `__init__` then, once, so the package is complete
for whatever asks.
"""
from __future__ import annotations

import importlib.util
import os
import re
import sys


def import_aiohttp() -> None:
    """Put the aiohttp package in place (once), its `__init__` left to the first name asked of it."""
    if "aiohttp" in sys.modules:
        return
    spec = importlib.util.find_spec("aiohttp")
    package = importlib.util.module_from_spec(spec)
    folder = os.path.dirname(spec.origin)
    # Every submodule's name: `from . import hdrs` asks the package first, and must fall through to
    # importing the submodule (extension modules are `_http_parser.cpython-311-….so`).
    submodules = {name.split(".", 1)[0] for name in os.listdir(folder)}
    with open(spec.origin, encoding="utf-8") as init:  # aiohttp.http imports it from the package
        found = re.search(r'^__version__ = "([^"]+)"', init.read(), re.M)
    if found is None:  # another layout than the one this was written for: import it whole
        importlib.import_module("aiohttp")
        return

    def complete(name: str):
        if name in submodules:
            raise AttributeError(name)
        del package.__getattr__
        spec.loader.exec_module(package)  # the real __init__: every name, the client's included
        return getattr(package, name)

    package.__version__ = found.group(1)
    package.__getattr__ = complete
    sys.modules["aiohttp"] = package
