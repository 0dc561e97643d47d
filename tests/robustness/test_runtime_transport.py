"""The keep-alive HTTP/1.1 transport to runtimes (emulator/executors/runtime_connections.py) against real
sockets: a small asyncio TCP server answers each request with exactly the bytes a test scripts,
so every framing a runtime may use (content-length, chunked, end of connection, HEAD, 1xx), every
way a runtime may misbehave, and connection reuse are exercised byte for byte.
"""
from __future__ import annotations

import asyncio

import pytest

from emulator.executors.runtime_connections import (BodyTooLarge, ClosedEarly, ConnectionPool, ConnectRefused, Malformed,
                                          Timeout)

pytestmark = pytest.mark.timeout(60)


CLOSE = object()


def then_close(data: bytes):
    """A reply that writes `data`, then closes the connection."""
    async def reply(writer):
        writer.write(data)
        await writer.drain()
        return CLOSE
    return reply


class ScriptedRuntime:
    """Reads one request head (+ content-length body) per reply; `replies` are raw bytes, or
    None to close the connection without answering, or a callable(writer) for anything else."""

    def __init__(self, replies):
        self.replies = list(replies)
        self.requests: list[bytes] = []
        self.connections = 0

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def _serve(self, reader, writer):
        self.connections += 1
        try:
            while self.replies:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                body = await reader.readexactly(length)
                self.requests.append(head + body)
                reply = self.replies.pop(0)
                if reply is None:
                    break
                if callable(reply):
                    if await reply(writer) is CLOSE:
                        break
                    continue
                writer.write(reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()

    async def close(self):
        self.server.close()


async def exchange(replies, *, method="POST", body=b"x", max_body=1_000_000, timeout=5.0, calls=1, headers=None):
    runtime = ScriptedRuntime(replies)
    port = await runtime.start()
    pool = ConnectionPool()
    try:
        results = []
        for _ in range(calls):
            results.append(await pool.request(port, method, "/p?q=1", headers or {"x-a": "1"}, body, max_body, timeout))
        return runtime, results
    finally:
        pool.close()
        await runtime.close()


async def test_content_length_response_and_keep_alive_reuse():
    ok = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nx-multi: 1\r\nx-multi: 2\r\ncontent-length: 2\r\n\r\nok"
    runtime, results = await exchange([ok, ok, ok], calls=3)
    assert [r.body for r in results] == [b"ok"] * 3
    assert results[0].status == 200 and ("x-multi", "1") in results[0].headers and ("x-multi", "2") in results[0].headers
    assert runtime.connections == 1, "a keep-alive connection is reused"
    first = runtime.requests[0]
    assert first.startswith(b"POST /p?q=1 HTTP/1.1\r\n") and b"\r\ncontent-length: 1\r\n" in first and first.endswith(b"x")


async def test_chunked_response_with_extensions_and_trailers():
    reply = (b"HTTP/1.1 201 Created\r\ntransfer-encoding: chunked\r\n\r\n"
             b"5;ext=1\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nx-trailer: t\r\n\r\n")
    runtime, results = await exchange([reply, reply], calls=2)
    assert [(r.status, r.body) for r in results] == [(201, b"hello world")] * 2
    assert runtime.connections == 1


async def test_chunked_response_split_across_packets():
    async def dribble(writer):
        data = (b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
                b"a\r\n0123456789\r\n3\r\nabc\r\n0\r\n\r\n")
        for i in range(0, len(data), 3):
            writer.write(data[i:i + 3])
            await writer.drain()
            await asyncio.sleep(0.001)
    _, results = await exchange([dribble])
    assert results[0].body == b"0123456789abc"


async def test_body_until_the_connection_closes():
    reply = b"HTTP/1.0 200 OK\r\ncontent-type: text/plain\r\n\r\n" + b"z" * 100_000
    runtime, results = await exchange([then_close(reply)])
    assert results[0].body == b"z" * 100_000


async def test_head_and_204_have_no_body_and_interim_responses_are_skipped():
    head = b"HTTP/1.1 200 OK\r\ncontent-length: 1234\r\n\r\n"
    _, results = await exchange([head], method="HEAD", body=b"")
    assert results[0].status == 200 and results[0].body == b""
    interim = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"
    _, results = await exchange([interim])
    assert results[0].status == 204 and results[0].body == b""


@pytest.mark.parametrize("reply,size", [
    (b"HTTP/1.1 200 OK\r\ncontent-length: 1000001\r\n\r\n", 1_000_001),
    (b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n" + b"7a121\r\n" + b"y" * 500_001 + b"\r\n"
     + b"7a121\r\n" + b"y" * 500_001 + b"\r\n0\r\n\r\n", 1_000_002),
    (b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n" + b"y" * 1_000_003, 1_000_003),
])
async def test_bodies_over_the_limit_fail_with_their_size(reply, size):
    with pytest.raises(BodyTooLarge) as err:
        await exchange([then_close(reply)])
    assert err.value.size == size


@pytest.mark.parametrize("reply,error", [
    (b"THIS IS NOT HTTP\r\n\r\n", Malformed),
    (b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", Malformed),
    (b"HTTP/1.1 200 OK\r\ncontent-length: many\r\n\r\n", Malformed),
    (b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n", Malformed),
    (b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nshort", ClosedEarly),
    (None, ClosedEarly),
])
async def test_misbehaving_runtimes_raise_clear_errors(reply, error):
    with pytest.raises(error):
        await exchange([then_close(reply) if reply else None])


async def test_closed_without_response_is_told_apart_from_mid_response():
    with pytest.raises(ClosedEarly) as err:
        await exchange([None])
    assert not err.value.mid_response
    with pytest.raises(ClosedEarly) as err:
        await exchange([then_close(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nhalf")])
    assert err.value.mid_response


async def test_timeout_closes_the_connection_and_the_next_request_uses_a_new_one():
    async def hang(writer):
        await asyncio.sleep(3)
    ok = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"
    runtime = ScriptedRuntime([hang, ok])
    port = await runtime.start()
    pool = ConnectionPool()
    try:
        with pytest.raises(Timeout):
            await pool.request(port, "GET", "/", {}, b"", 1000, 0.3)
        result = await pool.request(port, "GET", "/", {}, b"", 1000, 5)
        assert result.body == b"ok" and runtime.connections == 2
    finally:
        pool.close()
        await runtime.close()


async def test_a_connection_the_runtime_closed_while_idle_is_not_reused():
    ok_close = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"
    runtime = ScriptedRuntime([then_close(ok_close)])  # answers, then closes the idle connection
    port = await runtime.start()
    pool = ConnectionPool()
    try:
        assert (await pool.request(port, "GET", "/", {}, b"", 1000, 5)).body == b"ok"
        await asyncio.sleep(0.1)  # the close arrives while the connection sits idle
        runtime.replies = [ok_close]
        assert (await pool.request(port, "GET", "/", {}, b"", 1000, 5)).body == b"ok"
        assert runtime.connections == 2
    finally:
        pool.close()
        await runtime.close()


async def test_cancelled_request_does_not_leave_a_half_used_connection_in_the_pool():
    async def slow(writer):
        await asyncio.sleep(0.5)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nlate")
    ok = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"
    runtime = ScriptedRuntime([slow, ok])
    port = await runtime.start()
    pool = ConnectionPool()
    try:
        task = asyncio.ensure_future(pool.request(port, "GET", "/", {}, b"", 1000, 5))
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        result = await pool.request(port, "GET", "/", {}, b"", 1000, 5)
        assert result.body == b"ok", "the late answer to the cancelled request must not be read as this one's"
    finally:
        pool.close()
        await runtime.close()


async def test_header_values_cannot_inject_headers_and_framing_headers_are_ours():
    ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"
    runtime, _ = await exchange([ok], headers={"x-evil": "a\r\nx-injected: 1", "content-length": "999",
                                               "transfer-encoding": "chunked", "connection": "close"})
    sent = runtime.requests[0]
    assert b"\r\nx-injected" not in sent and b"x-evil: a  x-injected: 1" in sent
    assert b"999" not in sent and b"chunked" not in sent and sent.count(b"content-length") == 1


async def test_nothing_listening_is_connect_refused():
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    with pytest.raises(ConnectRefused):
        await ConnectionPool().request(port, "GET", "/", {}, b"", 1000, 5)
