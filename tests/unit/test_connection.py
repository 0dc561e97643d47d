"""The connection's framing alone (emulator/connection.py): which requests it answers itself,
which it gives aiohttp, and which hand the connection to aiohttp for good. The behaviour over
sockets is in tests/robustness/test_connection.py."""
from __future__ import annotations

import pytest

from emulator import connection
from emulator.connection import _parse_head


def head(raw: bytes):
    return _parse_head(raw, raw.find(b"\r\n\r\n"))


SDK = (b"POST /v1/functions/f1/executions HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nX-Appwrite-Project: p\r\n"
       b"X-Appwrite-Key: k\r\nX-Appwrite-Response-Format: 1.9.5\r\ncontent-type: application/json\r\n"
       b"accept: application/json\r\ncontent-length: 12\r\n\r\n{\"body\":\"x\"}")


def test_the_installed_aiohttp_has_what_direct_answers_need():
    assert connection.DIRECT_ANSWERS, f"aiohttp's RequestHandler lacks one of {connection.AIOHTTP_PARTS}"


def test_an_sdks_request_is_answered_directly():
    parsed = head(SDK)
    assert parsed.function_id == "f1" and parsed.length == 12 and not parsed.close
    assert parsed.headers["x-appwrite-project"] == "p" and parsed.headers["x-appwrite-response-format"] == "1.9.5"
    assert head(SDK.replace(b"HTTP/1.1\r\n", b"HTTP/1.1\r\nConnection: close\r\n")).close


@pytest.mark.parametrize("change", [
    (b"POST ", b"PUT "),
    (b"HTTP/1.1\r\n", b"HTTP/1.0\r\n"),
    (b"/executions", b"/executions/"),
    (b"/executions", b"/executions?x=1"),
    (b"/f1/", b"/f%31/"),
    (b"/f1/", b"/../"),
    (b"application/json", b"text/plain"),
    (b"accept: application/json", b"accept: multipart/form-data"),
    (b"Host:", b"Origin: http://localhost\r\nHost:"),
    (b"Host:", b"Sec-Fetch-Site: same-origin\r\nHost:"),
    (b"Host:", b"Cookie: a=b\r\nHost:"),
    (b"Host:", b"Expect: 100-continue\r\nHost:"),
    (b"Host:", b"X-Appwrite-Key: k2\r\nHost:"),  # a repeated header: aiohttp joins or picks
    (b"Host:", b"Connection: keep-alive, te\r\nHost:"),
    (b"content-length: 12", b"content-length: %d" % (connection.DIRECT_BODY_LIMIT + 1)),
])
def test_other_requests_go_to_aiohttp_framed(change):
    parsed = head(SDK.replace(*change))
    assert parsed is not None and parsed.function_id is None


@pytest.mark.parametrize("change", [
    (b"content-length: 12", b"transfer-encoding: chunked"),
    (b"content-length: 12", b"content-length: 12\r\nContent-Length: 12"),
    (b"content-length: 12", b"content-length: +12"),
    (b"content-length: 12", b"content-length: 1 2"),
    (b"Host: 127.0.0.1:8080\r\n", b"Host: a\r\nHost: b\r\n"),
    (b"Host:", b"Upgrade: websocket\r\nHost:"),
    (b"Host:", b"Connection: Upgrade\r\nHost:"),
    (b"Host:", b"Bad Header: x\r\nHost:"),
    (b"Host:", b" folded\r\nHost:"),
    (b"Host:", b"X-Nul: a\x00b\r\nHost:"),
    (b"X-Appwrite-Key: k\r\n", b"X-Appwrite-Key: k\n"),
    (b"X-Appwrite-Key: k\r\n", b"X-Appwrite-Key: k\rX: y\r\n"),
    (b"POST ", b"CONNECT "),
    (b"HTTP/1.1\r\n", b"HTTP/2.0\r\n"),
    (b"POST /v1", b"POST  /v1"),
])
def test_what_cannot_be_framed_plainly_hands_the_connection_over(change):
    assert head(SDK.replace(*change)) is None


def test_a_bare_line_break_is_seen_before_the_header_block_ends():
    assert connection._bare_line_break(b"POST / HTTP/1.1\nHost")
    assert connection._bare_line_break(b"POST / HTTP/1.1\r\nA: b\rC")
    assert not connection._bare_line_break(b"POST / HTTP/1.1\r\nHost: x\r")  # its LF may come next
