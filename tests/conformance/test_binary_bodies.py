"""Binary request and response bodies of synchronous executions, as Appwrite 1.9.6 handles them.

Ported from FunctionsCustomServerTest::testCreateCustomExecutionBinaryResponse (with `Accept:
multipart/form-data` the execution comes back as multipart and the body as raw bytes; asking for
JSON when the body is not UTF-8 is 400 "Failed to parse response") and
::testCreateCustomExecutionBinaryRequest (a multipart `body` field with non-UTF-8 bytes reaches
the function byte for byte).
"""
from __future__ import annotations

import hashlib
import json

import requests

from support import JsonApi

PROJECT = "binary"
RESPONSE_MAIN = """
def main(context):
    return context.res.binary(bytes([0, 10, 255]))
"""
REQUEST_MAIN = """
import hashlib
def main(context):
    return context.res.text(hashlib.md5(context.req.body_binary).hexdigest())
"""


def _parts(content_type: str, body: bytes) -> list[tuple[bytes, bytes]]:
    """(headers, value) of each part, split exactly as Appwrite's BodyMultipart writes them."""
    boundary = content_type.split("boundary=", 1)[1].encode()
    delimiter = b"--" + boundary
    assert body.startswith(delimiter) and body.endswith(delimiter + b"--\r\n"), body[-80:]
    parts = []
    for section in body[len(delimiter):-len(delimiter + b"--\r\n")].split(b"\r\n" + delimiter):
        head, _, value = section.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        parts.append((head, value))
    return parts


def test_create_custom_execution_binary_response(server):
    api = JsonApi(server.endpoint, PROJECT)
    api.deploy("binary-response", {"main.py": RESPONSE_MAIN}, execute=["any"])
    url = f"{server.endpoint}/functions/binary-response/executions"
    headers = {"x-appwrite-project": PROJECT, "content-type": "application/json"}

    r = requests.post(url, headers={**headers, "accept": "multipart/form-data"}, data=json.dumps({"body": None}),
                      timeout=120)
    assert r.status_code == 201, r.text
    content_type = r.headers["content-type"]
    assert content_type.startswith("multipart/form-data; boundary=----")
    parts = _parts(content_type, r.content)
    fields = {}
    for head, value in parts:
        name = head.split(b'name="', 1)[1].split(b'"', 1)[0].decode()
        fields[name] = (head, value)
    assert fields["responseBody"][1] == bytes([0, 10, 255])
    assert list(fields)[0] == "$id" and fields["status"][1] == b"completed"
    assert fields["responseStatusCode"][1] == b"200"
    # Arrays travel as JSON parts, as Appwrite marks them.
    assert b"Content-Type: application/json" in fields["responseHeaders"][0]
    response_headers = json.loads(fields["responseHeaders"][1])
    assert {"name": "x-appwrite-execution-id", "value": fields["$id"][1].decode()} in response_headers

    r = requests.post(url, headers={**headers, "accept": "application/json"}, data=json.dumps({"body": None}),
                      timeout=120)
    assert r.status_code == 400
    assert r.json()["message"].startswith("Failed to parse response")
    assert r.json()["code"] == 400
    # Both ran and were recorded; only the answer's encoding failed.
    executions = api.ok("GET", "/functions/binary-response/executions")
    assert executions["total"] == 2
    assert {e["status"] for e in executions["executions"]} == {"completed"}


def test_create_custom_execution_binary_request(server):
    api = JsonApi(server.endpoint, PROJECT)
    api.deploy("binary-request", {"main.py": REQUEST_MAIN}, execute=["any"])
    url = f"{server.endpoint}/functions/binary-request/executions"
    raw = bytes([0, 20, 255])

    # A plain multipart field (no file name), its value not UTF-8: the function gets the bytes.
    r = requests.post(url, headers={"x-appwrite-project": PROJECT, "accept": "application/json"},
                      files={"body": (None, raw)}, timeout=120)
    assert r.status_code == 201, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert r.json()["responseBody"] == hashlib.md5(raw).hexdigest()

    # JSON cannot carry those bytes: what arrives is their text, so another digest.
    r = requests.post(url, headers={"x-appwrite-project": PROJECT, "accept": "application/json"},
                      json={"body": raw.decode("latin-1")}, timeout=120)
    assert r.status_code == 201, r.text
    assert r.json()["responseBody"] != hashlib.md5(raw).hexdigest()

    # Another field with bytes that are not text stays a 400: only `body` takes bytes.
    r = requests.post(url, headers={"x-appwrite-project": PROJECT}, files={"path": (None, raw)}, timeout=120)
    assert r.status_code == 400 and r.json()["type"] == "general_argument_invalid"
    # Bytes are held to the limit a text body has (Appwrite's Text(10485760)).
    r = requests.post(url, headers={"x-appwrite-project": PROJECT}, files={"body": (None, b"\xff" * 10_485_761)},
                      timeout=120)
    assert r.status_code == 400 and r.json()["message"].startswith("Invalid `body` param")
    assert api.ok("GET", "/functions/binary-request/executions")["total"] == 2
