"""aiohttp, imported without parsing the system's CA bundle.

When aiohttp is imported, aiohttp.connector builds its two default TLS client contexts, and each
loads every certificate of the system's bundle: ~45 ms here, a tenth of `serve`'s and `dev`'s
start. The emulator never makes a TLS connection (it speaks plain HTTP to 127.0.0.1), so `serve`
and `dev` import aiohttp with those two contexts left without certificates: a verified TLS
connection through aiohttp's default would fail, never pass unchecked. Every TLS context made
afterwards, by anything in the process, loads the bundle as usual.
"""
from __future__ import annotations

import ssl
import sys


def import_aiohttp() -> None:
    """Import aiohttp (once) with its default TLS contexts holding no certificates."""
    if "aiohttp" in sys.modules:
        return
    own = vars(ssl.SSLContext).get("set_default_verify_paths")  # None: inherited from _ssl's class
    ssl.SSLContext.set_default_verify_paths = lambda self: None
    try:
        import aiohttp  # noqa: F401
    finally:
        if own is None:
            del ssl.SSLContext.set_default_verify_paths
        else:
            ssl.SSLContext.set_default_verify_paths = own
