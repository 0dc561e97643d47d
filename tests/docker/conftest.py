"""A real Docker engine and the locally built test images, for the docker executor's tests.

The session fixture uses a daemon that answers, or (as root) installs and starts one — see
docker_engine.py — then builds the openruntimes-layout test images (docker_images.py). Without
Docker and without root, every test here is skipped with the install hint, except under CI=true,
where a missing engine fails them (CI sets Docker up). A test image that fails to build always fails
them: the engine is there, the images' inputs are broken.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import docker_engine  # noqa: E402
import docker_images  # noqa: E402
from support import require_toolchain  # noqa: E402

_STATE: dict = {}


@pytest.fixture(scope="session")
def docker_setup():
    """{"engine": how the daemon was obtained, "images": {lang: tag}, "seconds": setup time}."""
    if "images" not in _STATE and "error" not in _STATE and "failure" not in _STATE:
        started = time.monotonic()
        try:
            _STATE["engine"] = docker_engine.ensure_engine(probe=docker_images.port_probe)
            _STATE["images"] = docker_images.ensure_test_images()
            _STATE["seconds"] = time.monotonic() - started
            print(f"\n[docker] {_STATE['engine']}; images {_STATE['images']} ready in {_STATE['seconds']:.1f}s",
                  file=sys.stderr)
        except docker_images.ImageBuildFailed as exc:
            _STATE["failure"] = f"a test image failed to build (the engine works): {exc}"
        except Exception as exc:  # noqa: BLE001 - any other failure to get Docker means no engine here
            _STATE["error"] = f"Docker is not available: {exc}. Hint: {docker_engine.INSTALL_HINT}"
    if "failure" in _STATE:
        pytest.fail(_STATE["failure"], pytrace=False)
    if "error" in _STATE:
        # Locally: skip with why. Under CI=true (.ci/docker-setup.sh is meant to provide it): fail.
        require_toolchain("docker", _STATE["error"])
    return _STATE


@pytest.fixture
def docker_client(docker_setup):
    client = docker_engine.client()
    yield client
    client.close()

