"""A real Docker engine and the locally built test images, for the docker executor's tests.

The session fixture uses a daemon that answers, or (as root) installs and starts one — see
docker_engine.py — then builds the openruntimes-layout test images (docker_images.py). Without
Docker and without root, every test here is skipped with the install hint.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import docker_engine  # noqa: E402
import docker_images  # noqa: E402

_STATE: dict = {}


@pytest.fixture(scope="session")
def docker_setup():
    """{"engine": how the daemon was obtained, "images": {lang: tag}, "seconds": setup time}."""
    if "error" in _STATE:
        pytest.skip(_STATE["error"])
    if "images" not in _STATE:
        started = time.monotonic()
        try:
            _STATE["engine"] = docker_engine.ensure_engine(probe=docker_images.port_probe)
            _STATE["images"] = docker_images.ensure_test_images()
        except Exception as exc:  # noqa: BLE001 - any failure to get Docker means: skip, with why
            _STATE["error"] = f"Docker is not available: {exc}. Hint: {docker_engine.INSTALL_HINT}"
            pytest.skip(_STATE["error"])
        _STATE["seconds"] = time.monotonic() - started
        print(f"\n[docker] {_STATE['engine']}; images {_STATE['images']} ready in {_STATE['seconds']:.1f}s",
              file=sys.stderr)
    return _STATE


@pytest.fixture
def docker_client(docker_setup):
    client = docker_engine.client()
    yield client
    client.close()

