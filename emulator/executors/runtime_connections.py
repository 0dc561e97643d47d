"""Keep-alive HTTP/1.1 connections to runtime instances: the transport under runtime_client.py.

Why not aiohttp's client: a warm execution of a trivial function spends about as long in
ClientSession's request machinery as the runtime spends answering, and that was most of the
emulator's overhead over a direct call. This case is narrow enough to do by hand: our own
instances on 127.0.0.1, one request at a time per connection, response bodies framed by
content-length, chunked encoding or the end of the connection (HTTP/1.0 style).

Errors say what went wrong in transport terms; runtime_client.py turns them into execution errors.
"""
from __future__ import annotations

import asyncio
import time

MAX_HEAD_BYTES = 1024 * 1024  # status line + headers; more than this is not a runtime answering
IDLE_REUSE_SECONDS = 4.0  # under node's 5 s keep-alive default: never reuse a socket the server is closing
MAX_IDLE_PER_PORT = 64
HOP_BY_HOP = frozenset(("connection", "content-length", "transfer-encoding", "keep-alive", "te", "upgrade",
                        "proxy-connection", "trailer", "expect"))


class TransportError(Exception):
    pass


class ConnectRefused(TransportError):
    """Nothing listens on the port: the request never left, a retry elsewhere is safe."""


class Timeout(TransportError):
    pass


class Malformed(TransportError):
    pass


class ClosedEarly(TransportError):
    def __init__(self, message: str, mid_response: bool):
        super().__init__(message)
        self.mid_response = mid_response


class BodyTooLarge(TransportError):
    def __init__(self, size: int):
        super().__init__(f"body of {size} bytes")
        self.size = size


class Response:
    __slots__ = ("status", "headers", "body")

    def __init__(self, status: int, headers: list[tuple[str, str]], body: bytes):
        self.status, self.headers, self.body = status, headers, body


class _Connection(asyncio.Protocol):
    """One socket; parses the response to the request in flight as bytes arrive."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self._waiter: asyncio.Future | None = None

    # -- asyncio.Protocol ----------------------------------------------------------------------
    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self._waiter is None:  # bytes nobody asked for: the connection can't be trusted
            self.close()
            return
        self._buf += data
        try:
            self._parse()
        except TransportError as exc:
            self._finish(exc)

    def eof_received(self):
        self._on_end()
        return False

    def connection_lost(self, exc) -> None:
        self._on_end()

    # -- one exchange --------------------------------------------------------------------------
    async def request(self, raw: bytes, head_only: bool, max_body: int, timeout: float) -> Response:
        loop = asyncio.get_running_loop()
        self._waiter = waiter = loop.create_future()
        self._buf = bytearray()
        self._pos = 0  # where parsing resumes in _buf
        self._status = 0
        self._headers: list[tuple[str, str]] = []
        self._framing = ""  # "length" | "chunked" | "close"
        self._expected = 0  # the body's length when framed by content-length
        self._remaining = 0  # bytes left of the current chunk
        self._parts: list[bytes] = []
        self._size = 0
        self._max_body = max_body
        self._head_only = head_only
        self._keep_alive = True
        self._chunk_phase = "size"  # "size" | "data" | "crlf" | "trailers"
        timer = loop.call_later(timeout, self._timed_out)
        try:
            self.transport.write(raw)
            return await waiter
        finally:
            timer.cancel()
            self._waiter = None

    def _timed_out(self) -> None:
        # _finish closes the socket; if the response completed in this same loop step, the
        # connection is left as it is, still good for the next request.
        self._finish(Timeout("no complete response within the timeout"))

    def _finish(self, outcome) -> None:
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        if isinstance(outcome, BaseException):
            self.close()
            waiter.set_exception(outcome)
        else:
            waiter.set_result(outcome)

    def _on_end(self) -> None:
        self.closed = True
        if self._waiter is None or self._waiter.done():
            return
        if self._framing == "close":  # the end of the connection is the end of the body
            self._keep_alive = False
            self._complete()
        elif not self._buf:
            self._finish(ClosedEarly("the runtime closed the connection without responding", False))
        else:
            self._finish(ClosedEarly("the runtime closed the connection mid-response", True))

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    # -- parsing -------------------------------------------------------------------------------
    def _parse(self) -> None:
        if not self._framing:
            if not self._parse_head():
                return
        if self._framing == "length":
            self._take(min(self._expected - self._size, len(self._buf) - self._pos))
            if self._size >= self._expected:
                self._complete()
        elif self._framing == "chunked":
            self._parse_chunks()
        else:  # "close": everything until the end of the connection
            self._take(len(self._buf) - self._pos)

    def _parse_head(self) -> bool:
        while True:
            end = self._buf.find(b"\r\n\r\n", self._pos)
            if end < 0:
                if len(self._buf) > MAX_HEAD_BYTES:
                    raise Malformed(f"response headers larger than {MAX_HEAD_BYTES} bytes")
                return False
            lines = bytes(self._buf[self._pos:end]).decode("utf-8", "replace").split("\r\n")
            self._pos = end + 4
            status_line = lines[0]
            if not status_line.startswith(("HTTP/1.1 ", "HTTP/1.0 ")) or not status_line[9:12].isdigit():
                raise Malformed(f"invalid status line {status_line[:80]!r}")
            status = int(status_line[9:12])
            headers = []
            for line in lines[1:]:
                name, sep, value = line.partition(":")
                if not sep or not name or name != name.strip():
                    raise Malformed(f"invalid header line {line[:80]!r}")
                headers.append((name.lower(), value.strip()))
            if 100 <= status < 200:  # an interim answer (100 Continue): the real one follows
                continue
            self._status, self._headers = status, headers
            break
        fields = dict(self._headers)
        connection = fields.get("connection", "").lower()
        self._keep_alive = status_line.startswith("HTTP/1.1") and "close" not in connection
        if self._head_only or self._status in (204, 304):
            self._framing, self._expected = "length", 0
        elif "chunked" in fields.get("transfer-encoding", "").lower():
            self._framing = "chunked"
        elif "content-length" in fields:
            length = fields["content-length"]
            if not length.isdigit():
                raise Malformed(f"invalid content-length {length[:40]!r}")
            self._framing, self._expected = "length", int(length)
            if self._expected > self._max_body:
                raise BodyTooLarge(self._expected)
        else:
            self._framing = "close"
            self._keep_alive = False
        return True

    def _take(self, n: int) -> None:
        if n <= 0:
            return
        self._size += n
        if self._size > self._max_body and self._framing != "length":
            # Count on past the limit (the error reports the real size) without keeping the bytes.
            self._parts.clear()
        elif self._size <= self._max_body:
            self._parts.append(bytes(self._buf[self._pos:self._pos + n]))
        self._pos += n
        if self._pos > 65536 and self._pos == len(self._buf):
            del self._buf[:]
            self._pos = 0

    def _parse_chunks(self) -> None:
        buf = self._buf
        while True:
            if self._chunk_phase == "size":
                end = buf.find(b"\r\n", self._pos)
                if end < 0:
                    if len(buf) - self._pos > 1024:
                        raise Malformed("invalid chunk size line")
                    return
                size_text = bytes(buf[self._pos:end]).split(b";", 1)[0].strip()
                try:
                    self._remaining = int(size_text, 16)
                except ValueError:
                    raise Malformed(f"invalid chunk size {size_text[:20]!r}") from None
                self._pos = end + 2
                self._chunk_phase = "data" if self._remaining else "trailers"
            elif self._chunk_phase == "data":
                n = min(self._remaining, len(buf) - self._pos)
                self._take(n)
                self._remaining -= n
                if self._remaining:
                    return
                self._chunk_phase = "crlf"
            elif self._chunk_phase == "crlf":
                if len(buf) - self._pos < 2:
                    return
                if buf[self._pos:self._pos + 2] != b"\r\n":
                    raise Malformed("chunk not followed by CRLF")
                self._pos += 2
                self._chunk_phase = "size"
            else:  # trailers: lines up to an empty one
                end = buf.find(b"\r\n", self._pos)
                if end < 0:
                    return
                line_empty = end == self._pos
                self._pos = end + 2
                if line_empty:
                    self._complete()
                    return

    def _complete(self) -> None:
        if self._size > self._max_body:
            self._finish(BodyTooLarge(self._size))
            return
        if not self._keep_alive or self._pos != len(self._buf):
            self.close()  # a closing server, or bytes past the response: this socket is done
        self._finish(Response(self._status, self._headers, b"".join(self._parts)))


class ConnectionPool:
    """Idle keep-alive connections per port. A connection carries one request at a time, so
    concurrent executions on one instance each get their own."""

    def __init__(self) -> None:
        self._idle: dict[int, list[_Connection]] = {}

    async def request(self, port: int, method: str, path: str, headers: dict[str, str], body: bytes,
                      max_body: int, timeout: float) -> Response:
        conn = self._reusable(port)
        if conn is None:
            conn = await self._connect(port, timeout)
        raw = _encode_request(method, path, port, headers, body)
        try:
            response = await conn.request(raw, method.upper() == "HEAD", max_body, timeout)
        except BaseException:  # failed, timed out or cancelled mid-exchange: the socket is unusable
            conn.close()
            raise
        if not conn.closed:
            conn.idle_since = time.monotonic()
            idle = self._idle.setdefault(port, [])
            if len(idle) < MAX_IDLE_PER_PORT:
                idle.append(conn)
            else:
                conn.close()
        return response

    def _reusable(self, port: int) -> _Connection | None:
        idle = self._idle.get(port)
        now = time.monotonic()
        while idle:
            conn = idle.pop()
            if not conn.closed and now - conn.idle_since < IDLE_REUSE_SECONDS:
                return conn
            conn.close()
        return None

    async def _connect(self, port: int, timeout: float) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            _, conn = await asyncio.wait_for(loop.create_connection(_Connection, "127.0.0.1", port), timeout)
        except ConnectionRefusedError as exc:
            raise ConnectRefused(str(exc)) from None
        except asyncio.TimeoutError:
            raise Timeout("could not connect within the timeout") from None
        except OSError as exc:
            raise TransportError(f"could not connect: {exc}") from None
        return conn

    def forget(self, port: int) -> None:
        """Close the idle connections to an instance that is going away."""
        for conn in self._idle.pop(port, []):
            conn.close()

    def close(self) -> None:
        for port in list(self._idle):
            self.forget(port)


def _encode_request(method: str, path: str, port: int, headers: dict[str, str], body: bytes) -> bytes:
    lines = [f"{method} {_clean(path) or '/'} HTTP/1.1"]
    if not any(k.lower() == "host" for k in headers):
        lines.append(f"host: 127.0.0.1:{port}")
    for key, value in headers.items():
        if key.lower() not in HOP_BY_HOP:
            lines.append(f"{_clean(key)}: {_clean(str(value))}")
    lines.append(f"content-length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + body


def _clean(text: str) -> str:
    # A header value or path with a line break would let a caller write headers of their own.
    if "\r" in text or "\n" in text:
        return text.replace("\r", " ").replace("\n", " ")
    return text
