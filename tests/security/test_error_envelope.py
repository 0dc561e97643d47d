"""Requests aiohttp cannot parse (a header or URL over the limits, a malformed line) are answered
from its protocol layer, before any middleware: in Appwrite's JSON error envelope all the same."""
from __future__ import annotations

import json
import socket
from urllib.parse import urlsplit

import requests

from security_helpers import call


def raw_exchange(server, payload: bytes) -> tuple[int, dict, bytes]:
    """Send bytes as they are; read the answer until the server closes the connection."""
    url = urlsplit(server.endpoint)
    with socket.create_connection((url.hostname, url.port), timeout=30) as sock:
        sock.sendall(payload)
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return status, headers, body


def assert_envelope(status: int, headers: dict, body: bytes) -> dict:
    assert 400 <= status < 500, (status, body[:300])
    assert headers["content-type"].startswith("application/json"), headers
    error = json.loads(body)
    assert set(error) == {"message", "code", "type", "version"}
    assert error["code"] == status and error["type"] == "general_bad_request"
    assert error["message"].startswith("Invalid request")
    return error


def test_oversized_header_and_url(server):
    r = requests.get(server.endpoint + "/functions", headers={"x-appwrite-project": "env", "X-Big": "a" * 100_000},
                     timeout=30)
    assert_envelope(r.status_code, {k.lower(): v for k, v in r.headers.items()}, r.content)
    r = requests.get(server.endpoint + "/functions?search=" + "q" * 70_000, headers={"x-appwrite-project": "env"},
                     timeout=30)
    assert_envelope(r.status_code, {k.lower(): v for k, v in r.headers.items()}, r.content)
    # Many headers of legal size each.
    many = {f"x-h{i}": "v" for i in range(500)}
    r = requests.get(server.endpoint + "/functions", headers={"x-appwrite-project": "env", **many}, timeout=30)
    assert r.status_code == 200 or r.json()["type"] == "general_bad_request"


def test_malformed_request_lines(server):
    host = urlsplit(server.endpoint).netloc
    cases = [
        f"GET /v1/functions HTTP/1.1\r\nHost: {host}\r\nThis is not a header\r\n\r\n",
        f"GET /v1/functions HTTP/1.1\r\nHost: {host}\r\nBad Name: x\r\n\r\n",
        f"GET /v1/functions HTTP/1.1\r\nHost: {host}\r\nContent-Length: nope\r\n\r\n",
        "GET /v1/functions HTTP/9.9\r\n\r\n",
        "G\x01T /v1/functions HTTP/1.1\r\n\r\n",
        f"POST /v1/functions HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    ]
    for payload in cases:
        status, headers, body = raw_exchange(server, payload.encode("latin-1"))
        assert_envelope(status, headers, body)
    # The server is fine afterwards.
    assert call(server.endpoint, "GET", "/health/version").json()["version"]
