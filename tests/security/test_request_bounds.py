"""Request parsing is bounded before anything is built (emulator/params.py), on public routes too:
an array index past Appwrite's array limit, thousands of fields, a deep key or a JSON body of a
million values answer 400 at once, and the server's resident memory (VmRSS of its process) does
not move. Without a key, a body may not exceed 64 KiB at all (app.auth_middleware)."""
from __future__ import annotations

import json

import pytest
import requests

from security_helpers import call

KEY = "bounds-key"
LOGIN = "/account/sessions/email"
MB = 1024 * 1024


@pytest.fixture(scope="module")
def keyed(module_server_factory):
    return module_server_factory("--api-key", KEY)


def status_kb(srv, field: str) -> int:
    for line in open(f"/proc/{srv.proc.pid}/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no {field}")


def peak_growth(srv, send) -> int:
    """How far the server's peak resident memory (VmHWM) rose above its RSS while `send()` ran."""
    with open(f"/proc/{srv.proc.pid}/clear_refs", "w") as f:
        f.write("5")  # resets VmHWM to the current RSS
    before = status_kb(srv, "VmRSS")
    send()
    return status_kb(srv, "VmHWM") - before


def login(srv, query: str = "", key: str | None = None, **kwargs) -> requests.Response:
    """The console login: public, so it parses whatever comes before any credential is checked."""
    headers = {**kwargs.pop("headers", {}), **({"x-appwrite-key": key} if key else {})}
    return requests.post(srv.endpoint + LOGIN + query, timeout=60, headers=headers, **kwargs)


def assert_invalid(r: requests.Response, status: int = 400) -> None:
    assert r.status_code == status, r.text
    assert r.json()["type"] == "general_argument_invalid" and r.json()["code"] == status


def test_huge_array_index_answers_400_without_memory(keyed):
    # Warm up the same path (imports, buffers) so the baseline is the steady state.
    for _ in range(3):
        assert_invalid(login(keyed, "?x%5B100%5D=1"))

    def send():
        for query in ["?x%5B10000000%5D=1", "?x%5B0%5D%5B99999999%5D=1", "?x%5B%5D%5B123456789%5D=1",
                      "?email=a%40b.c&password=p&queries%5B2147483647%5D=1", "?x%5B" + "9" * 5000 + "%5D=1"]:
            r = login(keyed, query)
            assert_invalid(r)
            assert "no longer than 100 items" in r.json()["message"]
        # Same limits in a form body and in multipart fields.
        assert_invalid(login(keyed, data="x%5B10000000%5D=1",
                             headers={"Content-Type": "application/x-www-form-urlencoded"}))
        assert_invalid(login(keyed, files={"x[10000000]": (None, "1")}))

    grown = peak_growth(keyed, send)
    assert grown < 4 * MB, f"server peak RSS grew by {grown / MB:.1f} MB"
    # The server still answers, and the login itself works.
    r = login(keyed, json={"email": "a@b.c", "password": KEY})
    assert r.status_code == 201


def test_field_counts_depth_and_json_values_are_bounded(keyed):
    # With the key (a larger body is allowed then), still nothing unbounded is built.
    def send():
        # A 256 KiB form of 262,144 empty fields: refused from the separator count, nothing built.
        r = login(keyed, key=KEY, data=b"&" * (256 * 1024),
                  headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert_invalid(r)
        assert "too many parameters" in r.json()["message"]
        # A JSON body of 131,072 values: refused from its separators, before json.loads.
        r = login(keyed, key=KEY, data=b'{"a":[' + b"0," * (128 * 1024) + b"0]}",
                  headers={"Content-Type": "application/json"})
        assert_invalid(r)
        assert "values (arrays, objects" in r.json()["message"]
        # Repeated plain keys past the array limit, bracket appends past it.
        assert_invalid(login(keyed, "?" + "k=1&" * 101))
        assert_invalid(login(keyed, "?" + "k%5B%5D=1&" * 101))
        # A key nested deeper than anything takes; more query fields than any route takes.
        assert_invalid(login(keyed, "?a" + "%5Bb%5D" * 200 + "=1"))
        assert_invalid(login(keyed, "?" + "&".join(f"f{i}=1" for i in range(1001))))
        # Multipart: more parts than any route takes.
        assert_invalid(login(keyed, key=KEY, files=[(f"f{i}", (None, "1")) for i in range(1001)]))

    send()  # warm-up
    grown = peak_growth(keyed, send)
    assert grown < 4 * MB, f"server peak RSS grew by {grown / MB:.1f} MB"
    # Within the limits everything still parses: 100 items, in each encoding.
    r = call(keyed.endpoint, "GET", "/functions?" + "&".join(f"queries%5B{i}%5D=" + json.dumps(
        {"method": "limit", "values": [5]}) for i in range(100)), "bounds", KEY)
    assert r.status_code == 200, r.text
    r = call(keyed.endpoint, "GET", "/functions?" + "&".join(["queries%5B%5D=limit(5)"] * 101), "bounds", KEY)
    assert r.status_code == 400 and "no longer than 100 items" in r.json()["message"]


def test_multipart_body_is_bounded_while_streaming(keyed):
    # One part past the body limit (with the key, so the body is read): 413, the server goes on.
    boundary = "b0und4ry"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\n").encode()
    body = head + b"a" * (33 * MB) + f"\r\n--{boundary}--\r\n".encode()
    r = login(keyed, key=KEY, data=body, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert r.status_code == 413 and r.json()["code"] == 413
    assert login(keyed, json={"email": "a@b.c", "password": KEY}).status_code == 201


def test_anonymous_bodies_are_small(keyed):
    def send():
        # Without a key: more than 64 KiB, or no declared length (chunked), is refused unread.
        for body in [b'{"email":"a@b.c","password":"' + b"p" * (30 * MB) + b'"}', b"{" + b" " * (65 * 1024) + b"}"]:
            r = login(keyed, data=body, headers={"Content-Type": "application/json"})
            assert r.status_code == 413 and r.json()["code"] == 413
        r = login(keyed, data=iter([b'{"email":"a@b.c",', b'"password":"' + KEY.encode() + b'"}']),
                  headers={"Content-Type": "application/json"})
        assert r.status_code == 413

    send()  # warm-up
    grown = peak_growth(keyed, send)
    assert grown < 4 * MB, f"server peak RSS grew by {grown / MB:.1f} MB"
    # A login's few bytes are fine, and with the key the same 30 MB body is read (and refused by
    # the login's own parameter checks).
    assert login(keyed, json={"email": "a@b.c", "password": KEY}).status_code == 201
    r = login(keyed, key=KEY, data=b'{"email":"a@b.c","password":"' + b"p" * (30 * MB) + b'"}',
              headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and "`password`" in r.json()["message"]
