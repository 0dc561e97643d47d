"""Bad input is refused where it is parsed, so an unexpected ValueError is a bug (a logged 500).

The error middleware maps only AppwriteError (and aiohttp's own HTTP errors) to 4xx. Each request
here once reached a bare ValueError/UnicodeDecodeError deep in parsing (int() of "²" or of
thousands of digits, an unknown charset, a malformed multipart body, a non-integer limit) and must
now get Appwrite's 400 envelope from the parser itself, change nothing, and leave the server
serving. The last test proves the other half: a ValueError no parser raised is not dressed up as
the client's fault.
"""
from __future__ import annotations

import asyncio
import http.client
import json
import logging
import socket
import urllib.parse

import aiohttp
import pytest
from aiohttp import web

from emulator.middlewares import error_middleware

pytestmark = pytest.mark.timeout(120)
PROJECT = "badinput"


class Http:
    def __init__(self, endpoint: str):
        url = urllib.parse.urlsplit(endpoint)
        self.host, self.port = url.hostname, url.port

    def call(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        try:
            conn.request(method, path, body=body, headers={"X-Appwrite-Project": PROJECT, **(headers or {})})
            resp = conn.getresponse()
            return resp.status, json.loads(resp.read() or b"{}")
        finally:
            conn.close()

    def refused(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None,
                type_: str = "general_argument_invalid") -> dict:
        status, doc = self.call(method, path, body, headers)
        assert status == 400, (status, doc)
        assert doc["code"] == 400 and doc["type"] == type_ and doc["message"], doc
        return doc

    def functions(self) -> list[str]:
        status, doc = self.call("GET", "/v1/functions")
        assert status == 200, doc
        return sorted(f["$id"] for f in doc["functions"])


@pytest.fixture(scope="module")
def api(server):
    api = Http(server.endpoint)
    status, doc = api.call("POST", "/v1/functions", json.dumps(
        {"functionId": "kept", "name": "kept", "runtime": "python-3.11"}).encode(), {"Content-Type": "application/json"})
    assert status == 201, doc
    return api


def _multipart(fields: list[tuple[str, bytes, str]], boundary: str = "b") -> bytes:
    out = b""
    for name, value, extra in fields:
        out += (f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n{extra}\r\n').encode() + value + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


def test_non_ascii_digit_array_index_is_a_key_not_a_crash(api):
    # "²".isdigit() is True but int("²") raises: the index must not be taken for an array slot.
    api.refused("POST", "/v1/functions?queries[0]=x&queries[%C2%B2]=y",
                json.dumps({"functionId": "sq", "name": "sq", "runtime": "python-3.11"}).encode(),
                {"Content-Type": "application/json"})
    api.refused("GET", "/v1/functions?queries[]=limit(1)&queries[%C2%B2]=limit(2)")
    assert api.functions() == ["kept"]


def test_malformed_multipart_bodies(api):
    create = [("functionId", b"mp", ""), ("name", b"mp", ""), ("runtime", b"python-3.11", "")]
    for ctype, body in (
            ("multipart/form-data", _multipart(create)),  # no boundary
            ("multipart/form-data; boundary=" + "x" * 80, _multipart(create, "x" * 80)),  # boundary too long
            ("multipart/form-data; boundary=b", b"--c\r\n\r\nnot the boundary\r\n--c--\r\n"),
    ):
        doc = api.refused("POST", "/v1/functions", body, {"Content-Type": ctype})
        assert doc["message"].startswith("Invalid request"), doc
    assert api.functions() == ["kept"]


def test_unknown_or_non_text_charsets(api):
    create = [("functionId", b"cs", ""), ("runtime", b"python-3.11", "")]
    for charset in ("no-such-charset", "rot13", "base64"):
        body = _multipart(create + [("name", b"cs", f"Content-Type: text/plain; charset={charset}\r\n")])
        doc = api.refused("POST", "/v1/functions", body, {"Content-Type": "multipart/form-data; boundary=b"})
        assert "charset" in doc["message"], doc
        doc = api.refused("POST", "/v1/functions", b"functionId=cs&name=cs&runtime=python-3.11",
                          {"Content-Type": f"application/x-www-form-urlencoded; charset={charset}"})
        assert "charset" in doc["message"], doc
    body = _multipart(create + [("name", b"\xff\xfe", "")])
    doc = api.refused("POST", "/v1/functions", body, {"Content-Type": "multipart/form-data; boundary=b"})
    assert "`name`" in doc["message"], doc
    assert api.functions() == ["kept"]


def test_integer_queries_are_checked_by_the_parser(api):
    # The proxy rules listing reads limit/offset itself: the parser hands it an int in range or refuses.
    for query in ('limit("abc")', "limit(0)", "limit(2.5)", 'offset("x")', "offset(-1)", "limit()",
                  json.dumps({"method": "limit", "values": [None]})):
        api.refused("GET", "/v1/proxy/rules?" + urllib.parse.urlencode({"queries[]": query}))
        api.refused("GET", "/v1/functions?" + urllib.parse.urlencode({"queries[]": query}))
    status, doc = api.call("GET", "/v1/proxy/rules?" + urllib.parse.urlencode({"queries[]": 'limit("2")'}))
    assert status == 200, doc


def test_digit_strings_int_cannot_read(api):
    # int() refuses more than 4300 digits and non-ASCII digits it does not know.
    for version in ("1." + "9" * 5000, "1.²", "²"):
        status, doc = api.call("GET", "/v1/functions", headers={"X-Appwrite-Response-Format": version})
        assert status == 200, (version, status, doc)
    for duration in ("9" * 5000, "²"):
        doc = api.refused("POST", f"/v1/projects/{PROJECT}/jwts", json.dumps({"duration": duration}).encode(),
                          {"Content-Type": "application/json"})
        assert "duration" in doc["message"], doc
    huge = "9" * 5000
    body = _multipart([("entrypoint", b"main.py", ""), ("activate", b"false", ""),
                       ("code", b"\x1f\x8b", "Content-Type: application/gzip\r\n")])
    body = body.replace(b'name="code"', b'name="code"; filename="code.tar.gz"')
    status, doc = api.call("POST", "/v1/functions/kept/deployments", body, {
        "Content-Type": "multipart/form-data; boundary=b", "Content-Range": f"bytes 0-{huge}/{huge}"})
    assert status == 400 and doc["type"] == "storage_invalid_content_range", (status, doc)
    status, doc = api.call("GET", "/v1/functions/kept/deployments")
    assert status == 200 and doc["total"] == 0, doc


def test_unexpected_value_error_is_a_logged_500(caplog):
    # The same middleware, on a real aiohttp server, around a handler with a bug.
    async def buggy(request):
        return web.json_response({"n": int("not a number")})

    async def run():
        app = web.Application(middlewares=[error_middleware])
        app.router.add_get("/bug", buggy)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        try:
            async with aiohttp.ClientSession() as session:
                async with session.get(f"http://127.0.0.1:{port}/bug") as resp:
                    return resp.status, await resp.json()
        finally:
            await runner.cleanup()

    with caplog.at_level(logging.ERROR, logger="emulator"):
        status, doc = asyncio.run(run())
    assert status == 500 and doc["type"] == "general_unknown" and doc["code"] == 500, doc
    logged = [r for r in caplog.records if r.exc_info and r.exc_info[0] is ValueError]
    assert logged and "/bug" in logged[0].getMessage()


def _raw_status(endpoint: str, request: bytes) -> tuple[int, bytes]:
    url = urllib.parse.urlsplit(endpoint)
    with socket.create_connection((url.hostname, url.port), timeout=30) as sock:
        sock.sendall(request)
        out = b""
        while chunk := sock.recv(65536):
            out += chunk
    head, _, body = out.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), body


def test_headers_that_are_not_utf8_or_not_urls(server_factory):
    # Header values arrive as str with the bytes that are not UTF-8 escaped as lone surrogates.
    srv = server_factory("--api-key", "the-key")
    host = b"Host: localhost\r\nConnection: close\r\n"
    for headers, status in (
            (b"X-Appwrite-Key: \xff\xfe\r\n", 401),  # not the key
            (b"Cookie: a_session_console=\xff\xfe\r\n", 401),  # names no session
            (b"Cookie: a_session_console=\xff; a_session_console=\xfe\r\n", 401),
            (b"Origin: http://[::1\r\n", 403),  # urlsplit refuses an unclosed IPv6 bracket: not an allowed origin
    ):
        code, body = _raw_status(srv.endpoint, b"GET /v1/functions HTTP/1.1\r\n" + host + headers + b"\r\n")
        assert code == status, (headers, code, body[:300])
        assert json.loads(body)["code"] == status
    code, body = _raw_status(srv.endpoint, b"GET /v1/functions HTTP/1.1\r\n" + host + b"X-Appwrite-Key: the-key\r\n\r\n")
    assert code == 200, body
    assert "unhandled error" not in srv.logs()


def test_lone_surrogates_are_refused_for_routes_that_read_params_themselves(api):
    # The console routes read their parameters without a schema: the parser refuses for them too.
    for path in (f"/v1/projects/{PROJECT}/jwts", "/v1/proxy/rules/function"):
        doc = api.refused("POST", path, b'{"duration":"9","domain":"x.localhost","functionId":"kept","x":"\\ud800"}',
                          {"Content-Type": "application/json"})
        assert "UTF-8" in doc["message"], doc
    status, doc = api.call("GET", "/v1/proxy/rules")
    assert status == 200 and doc["total"] == 0, doc


def test_json_numbers_python_reads_as_infinity_or_nan(api):
    for body in (b'{"duration": 1e400}', b'{"duration": -1e400}', b'{"duration": NaN}', b'{"duration": Infinity}'):
        doc = api.refused("POST", f"/v1/projects/{PROJECT}/jwts", body, {"Content-Type": "application/json"})
        assert "JSON" in doc["message"], doc
        api.refused("POST", "/v1/functions", body.replace(b"duration", b"timeout")[:-1]
                    + b', "functionId": "inf", "name": "inf", "runtime": "python-3.11"}', {"Content-Type": "application/json"})
    assert api.functions() == ["kept"]
