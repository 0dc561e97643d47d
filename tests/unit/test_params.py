"""emulator/params.py on its own: every encoding clients use, holes, the depth limit and the bounds.

Requests travel over real HTTP to a one-route aiohttp app whose handler returns what
read_params made of them.
"""
from __future__ import annotations


import aiohttp
import pytest
from aiohttp import web

from emulator.errors import AppwriteError
from emulator.params import MAX_ARRAY_ITEMS, MAX_DEPTH, MAX_FIELDS, _set, read_params


async def echo(request: web.Request) -> web.Response:
    try:
        params, files = await read_params(request)
    except AppwriteError as exc:
        return web.json_response(exc.to_json(), status=exc.code)
    return web.json_response({"params": params,
                              "files": {k: [f.filename, f.data.decode("latin-1")] for k, f in files.items()}})


@pytest.fixture
async def client(aiohttp_client):
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_route("*", "/echo", echo)
    return await aiohttp_client(app)


async def parsed(client, method="GET", query=None, **kwargs):
    r = await client.request(method, "/echo", params=query, **kwargs)
    return r.status, await r.json()


def built(*pairs):
    target = {}
    for key, value in pairs:
        _set(target, key, value)
    return target


async def test_query_string_encodings(client):
    status, body = await parsed(client, query=[("queries[0]", "a"), ("queries[1]", "b"), ("search", "s")])
    assert status == 200 and body["params"] == {"queries": ["a", "b"], "search": "s"}
    _, body = await parsed(client, query=[("queries[]", "a"), ("queries[]", "b")])
    assert body["params"] == {"queries": ["a", "b"]}
    _, body = await parsed(client, query=[("ids", "1"), ("ids", "2"), ("ids", "3")])  # repeated keys
    assert body["params"] == {"ids": ["1", "2", "3"]}
    _, body = await parsed(client, query=[("headers[x-a]", "1"), ("headers[x-b]", "2")])
    assert body["params"] == {"headers": {"x-a": "1", "x-b": "2"}}
    _, body = await parsed(client, query=[("a[0][k]", "1"), ("a[1][k]", "2"), ("a[][k]", "3")])
    assert body["params"] == {"a": [{"k": "1"}, {"k": "2"}, {"k": "3"}]}


async def test_holes_are_dropped(client):
    _, body = await parsed(client, query=[("queries[2]", "c"), ("queries[0]", "a")])
    assert body["params"] == {"queries": ["a", "c"]}
    assert built(("q[3]", "z")) == {"q": [None, None, None, "z"]}  # padded while parsing, compacted after
    _, body = await parsed(client, query=[("q[99]", "last")])
    assert body["params"] == {"q": ["last"]}


async def test_json_body(client):
    payload = {"functionId": "f", "execute": ["any"], "vars": {"a": {"b": [1, 2]}}}
    status, body = await parsed(client, "POST", json=payload)
    assert status == 200 and body["params"] == payload
    # The query string and the body merge; the body wins.
    _, body = await parsed(client, "POST", query={"a": "q", "b": "q"}, json={"b": "body"})
    assert body["params"] == {"a": "q", "b": "body"}
    for raw, words in [(b"{oops", "not valid JSON"), (b"[1, 2]", "must be a JSON object"),
                       (b"\xff\xfe{}", "not valid JSON"), (b'{"a":' + b"[" * 5000 + b"]" * 5000 + b"}", "deeply"),
                       (b'{"a":' + b"[" * 100000 + b"]" * 100000 + b"}", "values (arrays, objects")]:
        status, body = await parsed(client, "POST", data=raw, headers={"Content-Type": "application/json"})
        assert status == 400 and words in body["message"], body
    status, body = await parsed(client, "POST", data=b"   ", headers={"Content-Type": "application/json"})
    assert status == 200 and body["params"] == {}


async def test_form_body(client):
    status, body = await parsed(client, "POST", data={"name": "n", "execute[]": "any", "empty": ""})
    assert status == 200 and body["params"] == {"name": "n", "execute": ["any"], "empty": ""}
    form = aiohttp.FormData([("queries[0]", "a"), ("queries[1]", "b"), ("headers[x-a]", "1")])
    _, body = await parsed(client, "POST", data=form)
    assert body["params"] == {"queries": ["a", "b"], "headers": {"x-a": "1"}}


async def test_multipart_fields_and_files(client):
    form = aiohttp.FormData()
    form.add_field("entrypoint", "main.py")
    form.add_field("commands[0]", "one")
    form.add_field("commands[1]", "two")
    form.add_field("code", b"\x1f\x8b binary", filename="code.tar.gz", content_type="application/gzip")
    status, body = await parsed(client, "POST", data=form)
    assert status == 200
    assert body["params"] == {"entrypoint": "main.py", "commands": ["one", "two"]}
    assert body["files"] == {"code": ["code.tar.gz", "\x1f\x8b binary"]}


async def test_depth_limit(client):
    ok = "a" + "[b]" * (MAX_DEPTH - 2)
    status, _ = await parsed(client, query={ok: "1"})
    assert status == 200
    for key in ["a" + "[b]" * MAX_DEPTH, "a" + "[]" * (MAX_DEPTH + 5)]:
        status, body = await parsed(client, query={key: "1"})
        assert status == 400 and "nested too deeply" in body["message"]
    deep = {"v": 1}
    for _ in range(MAX_DEPTH + 1):
        deep = {"d": deep}
    status, body = await parsed(client, "POST", json=deep)
    assert status == 400 and "nested too deeply" in body["message"]


@pytest.mark.parametrize("pairs", [
    [("x[10000000]", "1")], [(f"x[{MAX_ARRAY_ITEMS}]", "1")], [("x[0][99999999]", "1")],
    [("x[" + "9" * 5000 + "]", "1")], [("x[]", "1")] * (MAX_ARRAY_ITEMS + 1),
    [("k", "1")] * (MAX_ARRAY_ITEMS + 1),
])
async def test_array_bounds(client, pairs):
    status, body = await parsed(client, query=pairs)
    assert status == 400 and f"no longer than {MAX_ARRAY_ITEMS} items" in body["message"], body
    status, body = await parsed(client, "POST", data=aiohttp.FormData(pairs))
    assert status == 400 and f"no longer than {MAX_ARRAY_ITEMS} items" in body["message"], body


async def test_array_limit_itself_is_accepted(client):
    pairs = [(f"x[{i}]", str(i)) for i in range(MAX_ARRAY_ITEMS)]
    status, body = await parsed(client, query=pairs)
    assert status == 200 and body["params"]["x"] == [str(i) for i in range(MAX_ARRAY_ITEMS)]


async def test_field_count_bounds(client):
    status, _ = await parsed(client, query=[(f"f{i}", "1") for i in range(MAX_FIELDS)])
    assert status == 200
    status, body = await parsed(client, query=[(f"f{i}", "1") for i in range(MAX_FIELDS + 1)])
    assert status == 400 and "too many parameters" in body["message"]
    status, body = await parsed(client, "POST", data=b"a&" * (MAX_FIELDS + 1),
                                headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 400 and "too many parameters" in body["message"]
    form = aiohttp.FormData([(f"f{i}", "1") for i in range(MAX_FIELDS + 1)])
    status, body = await parsed(client, "POST", data=form)
    assert status == 400 and "too many parameters" in body["message"]


async def test_mixed_array_and_object_keys_are_refused(client):
    status, body = await parsed(client, query=[("a[0]", "x"), ("a[k]", "y")])
    assert status == 400 and "mixes array and object keys" in body["message"]
    status, body = await parsed(client, query=[("a[0]", "x"), ("a[k][j]", "y")])
    assert status == 400


async def test_multipart_total_size_is_bounded(client):
    from emulator import params
    form = aiohttp.FormData()
    form.add_field("code", b"x" * (params.MAX_BODY_BYTES + 1), filename="big.bin")
    status, body = await parsed(client, "POST", data=form)
    assert status == 413 and body["code"] == 413


async def test_json_value_count_is_bounded(client):
    from emulator.params import MAX_JSON_VALUES
    # Values are counted outside strings only: a long string full of separators is one value.
    text = "a,b[{\\\"" * 100_000
    status, body = await parsed(client, "POST", json={"body": text, "n": list(range(MAX_JSON_VALUES - 10))})
    assert status == 200 and body["params"]["body"] == text
    status, body = await parsed(client, "POST", json={"n": [0] * (MAX_JSON_VALUES + 1)})
    assert status == 400 and "values (arrays, objects" in body["message"]
    status, body = await parsed(client, "POST", json={"n": [{"a": {}}] * (MAX_JSON_VALUES // 2 + 1)})
    assert status == 400 and "values (arrays, objects" in body["message"]
    # An unterminated string is not counted past: the body is refused as invalid JSON.
    status, body = await parsed(client, "POST", data=b'{"a": "' + b'\\",' * 50_000,
                                headers={"Content-Type": "application/json"})
    assert status == 400 and "not valid JSON" in body["message"]
