"""Connections answering executions themselves (emulator/connection.py): the answers match aiohttp's
path, the direct path is really taken, and pipelining, framing, handover to aiohttp, read-ahead,
keep-alive and a vanished client behave.

The server runs in-process (BackgroundServer) so that a spy can count the direct answers and look
at a connection's state; every request still travels over real sockets. A request carrying
`Sec-Fetch-Site: same-origin` (harmless: origin_guard refuses only `cross-site`) takes aiohttp's
path, so each answer is compared with the one the middlewares and handler give.
"""
from __future__ import annotations

import json
import re
import socket
import time
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emulator import connection, server as server_module
from emulator.background import BackgroundServer
from emulator.services.state import Settings
from support import JsonApi, closed_by_server, read_response, wait_for

KEY = "connection-test-key"
PROJECT = "conn"
# Waits for a file named in its body ("wait:<path>") so a test can hold an execution in flight
# and release it on a condition of its own; answers with what it was sent.
FUNCTION = """import os, time
def main(context):
    body = context.req.body_text
    if body.startswith("wait:"):
        while not os.path.exists(body[5:]):
            time.sleep(0.005)
    context.log("logged " + body[:200])
    return context.res.text("ok:" + body if len(body) < 100 else "len:%d" % len(body))
"""
VIA_AIOHTTP = {"Sec-Fetch-Site": "same-origin"}
VOLATILE = {"$id", "$createdAt", "$updatedAt", "duration"}


class Spy:
    """Counts the requests connections answer directly, and remembers each connection."""

    def __init__(self):
        self.direct = 0
        self.connections: list[connection.Connection] = []


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    spy = Spy()
    real_direct, real_init = connection.create_execution_direct, connection.Connection.__init__

    async def counting_direct(*args, **kwargs):
        spy.direct += 1
        return await real_direct(*args, **kwargs)

    def remembering_init(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        spy.connections.append(self)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(connection, "create_execution_direct", counting_direct)
        mp.setattr(connection.Connection, "__init__", remembering_init)
        # A short keep-alive, so that the idle-connection test does not wait an hour.
        mp.setattr(server_module, "make_runner",
                   lambda app: server_module.EmulatorRunner(app, access_log=None, keepalive_timeout=1.0))
        data_dir = tmp_path_factory.mktemp("connection") / "data"
        background = BackgroundServer(Settings(data_dir=data_dir, api_key=KEY)).start()
        try:
            api = JsonApi(background.endpoint, PROJECT, key=KEY)
            api.deploy("f", {"main.py": FUNCTION}, execute=["any"])
            api.deploy("closed", {"main.py": FUNCTION}, execute=[])
            yield background, api, spy
        finally:
            background.stop()


def port_of(background) -> int:
    return int(re.search(r":(\d+)/v1$", background.endpoint).group(1))


def request(method: str, path: str, body: bytes = b"", headers: dict | None = None, key: str | None = KEY,
            project: str = PROJECT) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    if project is not None:
        lines.append(f"X-Appwrite-Project: {project}")
    if key is not None:
        lines.append(f"X-Appwrite-Key: {key}")
    if body:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def execution(body: str, headers: dict | None = None, function: str = "f", **kw) -> bytes:
    return request("POST", f"/v1/functions/{function}/executions", json.dumps({"body": body}).encode(), headers, **kw)


class Reader:
    """HTTP/1.1 responses read off one socket, in order."""

    def __init__(self, sock: socket.socket):
        self.sock, self.buf = sock, b""

    def response(self) -> tuple[int, dict, bytes]:
        status, headers, body, self.buf = read_response(self.sock, self.buf)
        return status, headers, body

    def closed(self) -> bool:
        """Whether the server has closed the connection (with nothing more to read)."""
        return not self.buf and closed_by_server(self.sock)


def connect(background, timeout: float = 60) -> tuple[socket.socket, Reader]:
    sock = socket.create_connection(("127.0.0.1", port_of(background)), timeout=timeout)
    return sock, Reader(sock)


def exchange(background, raw: bytes) -> tuple[int, dict, bytes]:
    sock, reader = connect(background)
    with sock:
        sock.sendall(raw)
        return reader.response()


def comparable(status: int, headers: dict, body: bytes):
    """An answer with what differs between two executions of the same request masked."""
    doc = json.loads(body)
    for key in VOLATILE & doc.keys():
        doc[key] = "*"
    for header in doc.get("responseHeaders", []):
        if header["name"] == "x-appwrite-execution-id":
            header["value"] = "*"
    return status, sorted(set(headers) - {"date"}), headers.get("content-type"), doc


CASES = {
    "sync": execution("hello"),
    "sync, an old response format": execution("hello", {"X-Appwrite-Response-Format": "1.4.0"}),
    "sync, no Content-Type": request("POST", "/v1/functions/f/executions", b'{"body":"x"}').replace(
        b"Content-Type: application/json\r\n", b""),
    "async": request("POST", "/v1/functions/f/executions", b'{"body":"later","async":true}'),
    "guest, function open to any": execution("guest", key=None),
    "guest, function closed": execution("guest", function="closed", key=None),
    "wrong key": execution("x", key="not-the-key"),
    "unknown function": execution("x", function="nosuch"),
    "function id too long": execution("x", function="a" * 40),
    "invalid project": execution("x", project="not valid!"),
    "a project header that is not UTF-8": execution("x").replace(b"X-Appwrite-Project: conn", b"X-Appwrite-Project: c\xe9"),
    "a key that is not UTF-8": execution("x").replace(b"X-Appwrite-Key: ", b"X-Appwrite-Key: \xff"),
    "not JSON": request("POST", "/v1/functions/f/executions", b"{not json"),
    "a JSON array": request("POST", "/v1/functions/f/executions", b"[1,2]"),
    "an invalid parameter": request("POST", "/v1/functions/f/executions", b'{"body":"x","async":"maybe"}'),
    "sync but scheduled": request("POST", "/v1/functions/f/executions", b'{"scheduledAt":"2030-01-01T00:00:00Z"}'),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_direct_answer_is_the_one_aiohttps_path_gives(served, case):
    background, _, spy = served
    raw = CASES[case]
    before = spy.direct
    direct = exchange(background, raw)
    assert spy.direct == before + 1, "the request was not answered directly"
    via_aiohttp = exchange(background, raw.replace(b"\r\n\r\n", b"\r\nSec-Fetch-Site: same-origin\r\n\r\n", 1))
    assert spy.direct == before + 1, "the request with Sec-Fetch-Site was answered directly"
    assert comparable(*direct) == comparable(*via_aiohttp)
    assert direct[1]["server"] == via_aiohttp[1]["server"]


def test_answers_differ_where_requests_differ(served):
    """The comparison above can fail: two different requests do not compare equal."""
    background, _, _ = served
    assert comparable(*exchange(background, CASES["sync"])) != comparable(*exchange(background, CASES["guest, function open to any"]))
    status, _, body = exchange(background, CASES["guest, function open to any"])
    assert status == 201 and json.loads(body)["logs"] == ""  # blanked for guests
    status, _, body = exchange(background, CASES["sync"])
    assert status == 201 and json.loads(body)["logs"].startswith("logged hello")


# Generated create-execution requests: any mix of the parameters, each with a value of its type or
# any JSON at all, and the headers a client may add. Bounded: each example is two exchanges.
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 10**15) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=5)
_TYPED = {
    "body": st.text(max_size=40),
    "async": st.booleans(),
    "xasync": st.booleans(),
    "path": st.sampled_from(["/", "/a b/é?x=1#f", "", "no-slash", "/%zz%41"]),
    "method": st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD", "get", "TRACE"]),
    "headers": st.dictionaries(st.sampled_from(["x-a", "Content-Type", "x-appwrite-trigger", "cookie", "X-B"]),
                               st.text(max_size=10), max_size=3),
    "scheduledAt": st.sampled_from(["2030-01-01T00:00:00.000+00:00", "2030-01-01T00:00:30Z", "soon", ""]),
    "data": st.text(max_size=10),
}
# Two draws in three are well typed (most reach the function); the third may hold any JSON anywhere.
_PARAMS = (st.fixed_dictionaries({}, optional=_TYPED) | st.fixed_dictionaries({}, optional=_TYPED)
           | st.fixed_dictionaries({}, optional={name: typed | _JSON for name, typed in _TYPED.items()}))
_HEADERS = st.fixed_dictionaries({}, optional={
    "X-Appwrite-Response-Format": st.sampled_from(["1.4.0", "1.5.0", "1.6.0", "1.8.0", "0.15.0", "x"]),
    "Accept": st.sampled_from(["application/json", "*/*", "text/html"]),
})


@settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(params=_PARAMS, headers=_HEADERS, key=st.sampled_from([KEY, KEY, KEY, None, "wrong"]),
       function=st.sampled_from(["f", "f", "f", "closed", "nosuch"]))
def test_generated_requests_get_the_answer_aiohttps_path_gives(served, params, headers, key, function):
    """Whatever a client sends to the execution route, the direct answer is aiohttp's path's."""
    background, _, spy = served
    raw = request("POST", f"/v1/functions/{function}/executions", json.dumps(params).encode(), headers, key=key)
    before = spy.direct
    direct = exchange(background, raw)
    assert spy.direct == before + 1, "the request was not answered directly"
    via_aiohttp = exchange(background, raw.replace(b"\r\n\r\n", b"\r\nSec-Fetch-Site: same-origin\r\n\r\n", 1))
    assert comparable(*direct) == comparable(*via_aiohttp), (params, headers, key, function)


def test_official_sdks_requests_are_answered_directly(served):
    from appwrite.client import Client
    from appwrite.services.functions import Functions
    background, _, spy = served
    before = spy.direct
    functions = Functions(Client().set_endpoint(background.endpoint).set_project(PROJECT).set_key(KEY))
    result = functions.create_execution("f", body="from the sdk")
    assert result.responsebody == "ok:from the sdk" and result.status.value == "completed"
    assert spy.direct == before + 1


def test_pipelined_requests_are_answered_in_order(served):
    background, _, spy = served
    sock, reader = connect(background)
    before = spy.direct
    with sock:
        sock.sendall(execution("one") + request("GET", "/v1/functions/f") + execution("two")
                     + execution("three", VIA_AIOHTTP) + request("GET", "/v1/health/version") + execution("four"))
        answers = [reader.response() for _ in range(6)]
        assert [status for status, _, _ in answers] == [201, 200, 201, 201, 200, 201]
        assert json.loads(answers[0][2])["responseBody"] == "ok:one"
        assert json.loads(answers[1][2])["$id"] == "f"
        assert json.loads(answers[2][2])["responseBody"] == "ok:two"
        assert json.loads(answers[3][2])["responseBody"] == "ok:three"
        assert "version" in json.loads(answers[4][2])
        assert json.loads(answers[5][2])["responseBody"] == "ok:four"
        assert spy.direct >= before + 1  # the first; the rest may queue behind aiohttp's
        # The connection still serves, directly again once aiohttp is done with it.
        before = spy.direct
        sock.sendall(execution("five"))
        assert json.loads(reader.response()[2])["responseBody"] == "ok:five"
        assert spy.direct == before + 1


def test_a_request_sent_a_byte_at_a_time(served):
    background, _, spy = served
    sock, reader = connect(background)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    before = spy.direct
    with sock:
        for raw in (execution("slowly"), request("GET", "/v1/functions/f")):
            for i in range(len(raw)):
                sock.send(raw[i:i + 1])
        assert json.loads(reader.response()[2])["responseBody"] == "ok:slowly"
        assert reader.response()[0] == 200
    assert spy.direct == before + 1


def test_a_chunked_request_hands_the_connection_to_aiohttp(served):
    background, _, spy = served
    body = b'{"body":"chunked"}'
    chunked = request("POST", "/v1/functions/f/executions", headers={
        "Content-Type": "application/json", "Transfer-Encoding": "chunked"}) + b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    sock, reader = connect(background)
    before = spy.direct
    with sock:
        sock.sendall(chunked + execution("after"))
        assert json.loads(reader.response()[2])["responseBody"] == "ok:chunked"
        assert json.loads(reader.response()[2])["responseBody"] == "ok:after"
    assert spy.direct == before  # both through aiohttp: the connection is its own from the first


@pytest.mark.parametrize("bad", [
    b"Content-Length: 12\r\nContent-Length: 13",  # repeated: which one frames the body?
    b"Content-Length: +12",
    b"Bad Header: x",
])
def test_a_request_framed_oddly_is_aiohttps_to_refuse(served, bad):
    background, _, spy = served
    raw = (b"POST /v1/functions/f/executions HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Appwrite-Project: conn\r\n"
           b"X-Appwrite-Key: " + KEY.encode() + b"\r\nContent-Type: application/json\r\n" + bad + b"\r\n\r\n"
           + b'{"body":"x"}')
    sock, reader = connect(background)
    before = spy.direct
    with sock:
        sock.sendall(raw)
        status, headers, body = reader.response()
        assert status == 400 and json.loads(body)["type"] == "general_bad_request"
        assert reader.closed()
    assert spy.direct == before


def test_connection_close_is_honoured(served):
    background, _, spy = served
    sock, reader = connect(background)
    with sock:
        sock.sendall(execution("bye", {"Connection": "close"}))
        status, headers, body = reader.response()
        assert status == 201 and headers["connection"] == "close"
        assert reader.closed()


def test_a_body_over_the_direct_limit_streams_through_aiohttp(served):
    background, _, spy = served
    big = "x" * (connection.DIRECT_BODY_LIMIT + 1000)
    sock, reader = connect(background)
    before = spy.direct
    with sock:
        sock.sendall(execution(big) + execution("small"))
        assert json.loads(reader.response()[2])["responseBody"] == f"len:{len(big)}"
        assert json.loads(reader.response()[2])["responseBody"] == "ok:small"
    assert spy.direct == before


def test_hosts_are_checked_as_the_origin_guard_does(served):
    background, _, spy = served
    before = spy.direct
    status, _, body = exchange(background, execution("x").replace(b"Host: 127.0.0.1", b"Host: evil.example"))
    assert status == 403 and json.loads(body)["type"] == "general_access_forbidden"
    # A function domain runs the function with the request as it came.
    status, headers, body = exchange(background, execution("x").replace(b"Host: 127.0.0.1", b"Host: f.functions.localhost"))
    assert status == 200 and body == b'ok:{"body": "x"}' and "x-appwrite-execution-id" in headers
    assert spy.direct == before


def test_reading_stops_while_a_direct_answer_waits(served, tmp_path):
    """Bytes pipelined behind an execution in flight are not read without bound."""
    background, api, spy = served
    release = tmp_path / "release"
    known = set(map(id, spy.connections))  # before connecting: the server may accept at once
    sock, reader = connect(background)
    with sock:
        sock.sendall(execution(f"wait:{release}"))
        conn = wait_for(lambda: next((c for c in spy.connections if id(c) not in known and c._direct), None),
                        message="the execution to be in flight")
        sock.setblocking(False)
        flood = request("POST", "/v1/functions/f/executions", b'{"body":"' + b"y" * (8 << 20) + b'"}')
        sent = [0]

        def stalled() -> bool:
            try:
                sent[0] += sock.send(flood[sent[0]:sent[0] + 65536])
            except BlockingIOError:
                return conn._reading_held
            return False

        wait_for(stalled, timeout=60, message="the server to stop reading")
        assert len(conn._pending) <= connection.READ_AHEAD_LIMIT + (1 << 20)
        assert sent[0] < len(flood)
        release.touch()
        sock.setblocking(True)
        sock.sendall(flood[sent[0]:])
        assert json.loads(reader.response()[2])["responseBody"] == f"ok:wait:{release}"
        assert json.loads(reader.response()[2])["responseBody"] == f"len:{8 << 20}"
        assert not conn._reading_held


def test_keep_alive_spares_a_direct_answer_in_flight_and_closes_idle_connections(served, tmp_path):
    background, _, _ = served
    release = tmp_path / "release"
    sock, reader = connect(background)
    with sock:
        sock.sendall(execution(f"wait:{release}"))
        started = time.monotonic()
        wait_for(lambda: time.monotonic() > started + 2.5, message="the keep-alive timeout (1 s) to pass twice")
        release.touch()
        assert json.loads(reader.response()[2])["responseBody"] == f"ok:wait:{release}"
        sock.sendall(execution("again"))  # still open after a long answer
        assert json.loads(reader.response()[2])["responseBody"] == "ok:again"
        assert reader.closed()  # then closed once idle for the keep-alive timeout


def test_an_execution_whose_client_left_is_recorded(served, tmp_path):
    background, api, _ = served
    release = tmp_path / "release"
    newest = "/functions/f/executions?" + urlencode({
        "queries[0]": json.dumps({"method": "orderDesc", "attribute": "$createdAt"}),
        "queries[1]": json.dumps({"method": "limit", "values": [5]})})
    sock, _ = connect(background)
    sock.sendall(execution(f"wait:{release}"))
    wait_for(lambda: any(e["status"] in ("waiting", "processing") for e in api.ok("GET", newest)["executions"]),
             message="the execution to start")
    sock.close()
    release.touch()

    def recorded():
        return [e for e in api.ok("GET", newest)["executions"]
                if e["status"] == "completed" and f"wait:{release}" in e["logs"]]

    wait_for(recorded, message="the execution to be recorded as completed")
    assert exchange(background, execution("still serving"))[0] == 201
