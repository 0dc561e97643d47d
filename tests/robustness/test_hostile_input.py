"""Hostile requests get a clean 4xx and change nothing; the server keeps serving after each.

Oversize bodies (an execution body over 10 MB, a request over 32 MB), huge and numerous headers,
deeply nested JSON, invalid UTF-8 in JSON bodies, multipart fields, headers, paths and query strings.
Requests aiohttp cannot even parse (a header over 64 KiB, raw non-ASCII bytes in the URL) are
answered by aiohttp itself with a plain-text 400 and a closed connection; everything that reaches
the application is answered with Appwrite's error envelope.
"""
from __future__ import annotations

import http.client
import json
import socket
import urllib.parse

import pytest

pytestmark = pytest.mark.timeout(120)
PROJECT = "hostile"


class Http:
    def __init__(self, endpoint: str):
        url = urllib.parse.urlsplit(endpoint)
        self.host, self.port = url.hostname, url.port

    def call(self, method: str, path: str, body: bytes | str | None = None, headers: dict | None = None,
             ctype: str = "application/json"):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        try:
            conn.request(method, path, body=body, headers={"X-Appwrite-Project": PROJECT, "Content-Type": ctype,
                                                           **(headers or {})})
            resp = conn.getresponse()
            return resp.status, resp.getheader("content-type", ""), resp.read()
        finally:
            conn.close()

    def raw(self, data: bytes) -> bytes:
        with socket.create_connection((self.host, self.port), timeout=30) as sock:
            sock.sendall(data)
            out = b""
            while chunk := sock.recv(65536):
                out += chunk
            return out

    def envelope(self, method: str, path: str, body=None, headers=None, ctype="application/json",
                 status: int = 400, type_: str = "general_argument_invalid") -> dict:
        code, content_type, data = self.call(method, path, body, headers, ctype)
        assert code == status, (code, data[:300])
        assert content_type.startswith("application/json"), content_type
        doc = json.loads(data)
        assert doc["code"] == status and doc["type"] == type_ and doc["message"], doc
        return doc

    def alive(self) -> None:
        code, _, data = self.call("GET", "/v1/health/version")
        assert code == 200 and json.loads(data)["version"], data


@pytest.fixture(scope="module")
def api(server):
    api = Http(server.endpoint)
    code, _, data = api.call("POST", "/v1/functions", json.dumps(
        {"functionId": "target", "name": "target", "runtime": "python-3.11"}))
    assert code == 201, data
    return api


def functions_total(api: Http) -> int:
    return json.loads(api.call("GET", "/v1/functions")[2])["total"]


def test_execution_body_over_10mb_is_refused(api):
    doc = api.envelope("POST", "/v1/functions/target/executions", json.dumps({"body": "x" * (10 * 1024 * 1024 + 1)}))
    assert "`body`" in doc["message"] and "10485760" in doc["message"]
    # The limit is the body's, not the request's: 10 MB exactly passes validation (then: no deployment).
    api.envelope("POST", "/v1/functions/target/executions", json.dumps({"body": "x" * (10 * 1024 * 1024)}),
                 status=404, type_="deployment_not_found")
    api.alive()


def test_request_over_32mb_is_413(api):
    body = b'{"body": "' + b"x" * (33 * 1024 * 1024) + b'"}'
    doc = api.envelope("POST", "/v1/functions/target/executions", body, status=413)
    assert "too large" in doc["message"]
    api.alive()


def test_huge_and_numerous_headers(api, server):
    before = functions_total(api)
    for headers in ({"X-Big": "a" * 100_000}, {f"X-Many-{i}": "v" for i in range(300)}):
        code, _, data = api.call("POST", "/v1/functions", json.dumps(
            {"functionId": "hdr", "name": "hdr", "runtime": "python-3.11"}), headers=headers)
        assert 400 <= code < 500, (code, data[:200])
        api.alive()
    # A big header under the limit is fine.
    code, _, _ = api.call("GET", "/v1/functions", headers={"X-Big": "a" * 30_000})
    assert code == 200
    assert functions_total(api) == before
    assert server.proc.poll() is None


@pytest.mark.parametrize("body", [
    b'{"a":' * 100_000 + b"1" + b"}" * 100_000,  # deeper than the JSON parser goes
    json.dumps({"functionId": "deep", "name": "deep", "runtime": "python-3.11",
                "execute": [json.loads("[" * 900 + "]" * 900)]}).encode(),  # parses, far too deep for the API
    b'{"functionId": "deep", "name": "deep", "runtime": "python-3.11", "vars": ' + b'{"k":' * 500 + b"1" + b"}" * 500 + b"}",
], ids=["unparseable", "nested-array", "nested-object"])
def test_deep_json_is_refused(api, body):
    before = functions_total(api)
    doc = api.envelope("POST", "/v1/functions", body)
    assert "deep" in doc["message"]
    assert functions_total(api) == before
    api.alive()


def test_invalid_utf8_in_bodies_headers_and_fields(api):
    before = functions_total(api)
    api.envelope("POST", "/v1/functions", b'{"functionId": "u8", "name": "\xff\xfe", "runtime": "python-3.11"}')
    api.envelope("POST", "/v1/functions", b'--b\r\nContent-Disposition: form-data; name="name"\r\n\r\n\xff\xfe\r\n--b--\r\n',
                 ctype="multipart/form-data; boundary=b")
    api.envelope("POST", "/v1/functions/target/executions", b'{"body": "\xc3\x28"}')
    # A header value that is not UTF-8 (the project id) is refused before it reaches the store.
    answer = api.raw(b"GET /v1/functions HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nX-Appwrite-Project: \xff\xfe\r\n\r\n")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400") and json.loads(body)["type"] == "general_argument_invalid", answer[:300]
    assert functions_total(api) == before
    api.alive()


def test_invalid_utf8_in_query_strings_and_paths(api):
    # Percent-encoded invalid UTF-8 decodes with replacement characters: a harmless search.
    code, _, data = api.call("GET", "/v1/functions?search=%FF%FE")
    assert code == 200 and json.loads(data)["total"] == 0
    api.envelope("GET", "/v1/functions?queries[0]=%FF%FE", type_="general_query_invalid")
    # Inside a valid query, the replaced bytes are just a value that matches nothing.
    code, _, data = api.call("GET", "/v1/functions/target/executions?queries[0]=%7B%22method%22%3A%22equal%22%2C"
                                    "%22attribute%22%3A%22status%22%2C%22values%22%3A%5B%22%FF%C3%28%22%5D%7D")
    assert code == 200 and json.loads(data)["total"] == 0, data
    # Not an id Appwrite's UID validator accepts: its 400, before any lookup.
    code, _, data = api.call("GET", "/v1/functions/%FF%FE")
    assert code == 400 and json.loads(data)["type"] == "general_argument_invalid", data
    # Raw (not percent-encoded) bytes in the request target: aiohttp refuses them itself.
    for target in (b"/v1/functions?search=\xff\xfe", b"/v1/functions/\xff\xfe"):
        answer = api.raw(b"GET " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Appwrite-Project: hostile\r\n\r\n")
        assert answer.startswith(b"HTTP/1.0 400") or answer.startswith(b"HTTP/1.1 400"), answer[:200]
    api.alive()
