"""`serve` and `dev` import aiohttp without parsing the CA bundle (emulator/aiohttp_import.py)."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

PROBE = """
import json, ssl, sys
from emulator.aiohttp_import import import_aiohttp
import_aiohttp()
import aiohttp.connector as connector
verified = connector._SSL_CONTEXT_VERIFIED
print(json.dumps({
    "default_certs": verified.cert_store_stats()["x509_ca"],
    "verifies": [verified.verify_mode == ssl.CERT_REQUIRED, verified.check_hostname],
    "patch_undone": ssl.SSLContext.set_default_verify_paths is ssl._ssl._SSLContext.set_default_verify_paths,
    "later_certs": ssl.create_default_context().cert_store_stats()["x509_ca"],
}))
"""


def test_aiohttps_default_context_is_left_empty_and_still_verifies():
    out = json.loads(subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True).stdout)
    assert out["default_certs"] == 0, "the bundle was parsed during the import"
    assert out["verifies"] == [True, True], "an empty context must refuse every certificate, not accept any"
    assert out["patch_undone"]


def test_contexts_made_afterwards_load_the_bundle():
    plain = subprocess.run([sys.executable, "-c", "import ssl; print(ssl.create_default_context().cert_store_stats()['x509_ca'])"],
                           capture_output=True, text=True, check=True)
    if int(plain.stdout) == 0:
        pytest.skip("this machine has no CA bundle (apt-get install -y ca-certificates)")
    out = json.loads(subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True).stdout)
    assert out["later_certs"] == int(plain.stdout)
