"""Fixtures of the ports of Appwrite's e2e Functions suite (test_e2e_*.py): one emulator per module,
started with `--api-key`, and the sides of Appwrite's e2e scopes (helpers in e2e_support.py)."""
from __future__ import annotations

import pytest
import requests

from e2e_support import KEY, Side


@pytest.fixture(scope="module")
def e2e_server(module_server_factory):
    """An emulator with `--api-key`, one per test module, as each e2e class gets its own project."""
    return module_server_factory("--api-key", KEY)


@pytest.fixture(scope="module")
def server_side(e2e_server) -> Side:
    """Appwrite's SideServer: every request carries the project's API key."""
    return Side(e2e_server, {"x-appwrite-key": KEY})


@pytest.fixture(scope="module")
def console_side(e2e_server) -> Side:
    """Appwrite's SideConsole: every request carries a console session cookie (the emulator's login)."""
    login = requests.post(e2e_server.endpoint + "/account/sessions/email", timeout=60,
                          json={"email": "e2e@localhost", "password": KEY}, headers={"x-appwrite-project": "console"})
    assert login.status_code == 201, login.text
    return Side(e2e_server, {"cookie": f"a_session_console={login.cookies['a_session_console']}"})


@pytest.fixture(scope="module")
def guest_side(e2e_server) -> Side:
    """A request without credentials: what Appwrite's client side is when no user is signed in."""
    return Side(e2e_server, {})
