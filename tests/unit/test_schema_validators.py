"""Request validators are built on first use or by a background thread, not at import
(emulator/schemas.py: importing jsonschema is ~30 ms of a start)."""
from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys, threading
import emulator.dev.session, emulator.server, emulator.cli
assert "jsonschema" not in sys.modules, "imported with the server's modules"
from emulator import schemas
from emulator.errors import AppwriteError
if sys.argv[1] == "background":
    schemas.load_validators_in_background()
    schemas.load_validators_in_background()  # a second call starts no second thread
    loaders = [t for t in threading.enumerate() if t.name == "schema-validators"]
    assert len(loaders) <= 1, loaders
    for t in loaders:
        t.join(30)
    assert schemas._validators is not None
assert schemas.validate("createExecution", {"body": "x", "async": "true"}) == {"body": "x", "async": True}
try:
    schemas.validate("createFunction", {"functionId": "bad id!", "name": "n", "runtime": "node-20.0"})
except AppwriteError as exc:
    print(exc.message)
"""


def run(mode: str) -> str:
    return subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True).stdout


def test_validation_on_first_use_without_a_preload():
    assert "Invalid `functionId` param" in run("first-use")


def test_validators_loaded_by_a_background_thread():
    assert "Invalid `functionId` param" in run("background")
