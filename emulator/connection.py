"""One client connection: aiohttp's protocol, answering executions itself.

Every connection the server accepts is a `Connection`, aiohttp's RequestHandler with two additions:

- A request aiohttp cannot parse (a header or URL over the limits, a malformed line) is answered
  in Appwrite's error envelope, not aiohttp's plain text (`handle_error`).
- `POST /v1/functions/{functionId}/executions`, the request behind every SDK's createExecution,
  is answered by the connection itself when it needs nothing the middlewares do beyond what
  `api/executions.py:create_execution_direct` does with the same functions: a JSON body, a Host of
  this server's, none of the headers the other middlewares act on (an Origin or Sec-Fetch-Site, a
  cookie; `_DIRECT_REFUSED`), and no multipart answer asked for. aiohttp's request and response
  objects, its router and the middleware chain are skipped: they were a third of the server's CPU
  per execution (README, "Performance"). Anything else goes to aiohttp unchanged.

How the two share one connection. The bytes are framed here first: the header block ends at the
first CRLF CRLF and the body's Content-Length says where the next request begins. A request is
answered directly only while aiohttp has nothing of this connection to answer, and nothing more
is given to aiohttp until that answer is written, so pipelined answers leave in order. Every other
request goes to aiohttp's parser whole or streamed, always from a message boundary. A request that
cannot be framed that simply (Transfer-Encoding, an upgrade, a bare CR or LF, a malformed or
duplicated framing header, a header block over HEAD_LIMIT) hands the connection to aiohttp for good,
which answers it as it always did: whatever is odd about a request is aiohttp's to judge.
"""
from __future__ import annotations

import asyncio
import logging
import re
from http import HTTPStatus
from typing import NamedTuple

from aiohttp import web
from aiohttp.helpers import rfc822_formatted_time
from aiohttp.http import SERVER_SOFTWARE
from aiohttp.web_protocol import RequestHandler

from .api.common import JSON_TYPE, json_body
from .api.executions import create_execution_direct, wants_multipart
from .errors import AppwriteError
from .middlewares import error_response, host_allowed, host_name_of, shaped_body
from .services.state import State

log = logging.getLogger("emulator")

# A header block longer than this is aiohttp's (it allows 64 KiB a line; SDK requests are ~1 KiB).
HEAD_LIMIT = 64 * 1024
# A body longer than this is streamed to aiohttp rather than buffered here (an execution's body is
# usually small; aiohttp handles the rest, up to the API's 32 MB).
DIRECT_BODY_LIMIT = 1024 * 1024
# Bytes read ahead of a direct answer (pipelined requests) before the connection stops reading.
READ_AHEAD_LIMIT = HEAD_LIMIT + DIRECT_BODY_LIMIT
MAX_HEADERS = 128  # aiohttp's limit: a request with more is its to refuse

# A request with any of these goes through the middlewares: origin_guard (Origin, Sec-Fetch-Site),
# cors_middleware (Origin), auth_middleware (a console session's Cookie), and aiohttp itself
# (Expect: 100-continue). The response format every SDK sends is applied here as its middleware does.
_DIRECT_REFUSED = frozenset({"origin", "sec-fetch-site", "cookie", "expect"})
# The route's path with an id that needs no decoding (aiohttp's router would decode %-escapes and
# resolve dot segments; such a path is aiohttp's). api/executions.py checks the id itself.
_DIRECT_TARGET = re.compile(r"/v1/functions/([A-Za-z0-9_][A-Za-z0-9._-]*)/executions")
_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_VALUE = r"[^\x00-\x08\x0a-\x1f\x7f]*"  # no control characters but HTAB; obs-text arrives as surrogates
_REQUEST_LINE = re.compile(rf"({_TOKEN}) ([^\x00-\x20\x7f]+) (HTTP/1\.[01])")
_FIELDS = re.compile(rf"(?:{_TOKEN}:{_VALUE}\r\n)*")
_FIELD = re.compile(rf"({_TOKEN}):[ \t]*({_VALUE}?)[ \t]*\r\n")
_JSON_TYPES = frozenset({"", "application/json"})
_FRAMING = frozenset({"content-length", "transfer-encoding", "host"})  # repeated: aiohttp's to refuse
_JSON_HEADERS = (("Content-Type", JSON_TYPE),)
_REASONS = {status.value: status.phrase for status in HTTPStatus}  # what aiohttp writes after the code

# What of aiohttp's RequestHandler the direct answers rely on (its request queue and keep-alive
# timer). An aiohttp without them gets every request, as before (tests/unit/test_connection.py
# fails on such an aiohttp, so an upgrade that drops them is noticed rather than slowly served).
AIOHTTP_PARTS = ("_waiter", "_messages", "_close", "_force_close", "_keepalive_timeout",
                 "_next_keepalive_close_time", "_keepalive_handle")
DIRECT_ANSWERS = all(name in RequestHandler.__slots__ for name in AIOHTTP_PARTS) and callable(
    getattr(RequestHandler, "_process_keepalive", None))


def _bare_line_break(buf: bytes) -> bool:
    """A CR or LF not part of a CRLF (a CR ending `buf` may be one whose LF is still to come)."""
    rest = buf.replace(b"\r\n", b"")
    return b"\n" in rest or b"\r" in rest[:-1]




class _Head(NamedTuple):
    length: int  # of the body
    function_id: str | None  # set for a request the connection may answer itself
    headers: dict  # lower-case name -> value, for a direct one
    close: bool  # `Connection: close`


def _parse_head(buf: bytes, end: int) -> _Head | None:
    """The framing of the request whose header block is buf[:end], or None if it is not plain
    enough to frame here (the connection is then aiohttp's)."""
    text = buf[:end + 2].decode("utf-8", "surrogateescape")  # each line with its CRLF
    line_end = text.find("\r\n")
    request_line = _REQUEST_LINE.fullmatch(text, 0, line_end)
    if request_line is None or request_line[1] == "CONNECT" or not _FIELDS.fullmatch(text, line_end + 2):
        return None
    fields = _FIELD.findall(text, line_end + 2)
    if len(fields) > MAX_HEADERS:
        return None
    headers = {name.lower(): value for name, value in fields}
    repeated = len(headers) < len(fields)
    if repeated:
        framing = [name for name in (name.lower() for name, _ in fields) if name in _FRAMING]
        if len(framing) > len(set(framing)):  # a framing header given twice: which one holds?
            return None
    connection = headers.get("connection", "").lower()
    if "transfer-encoding" in headers or "upgrade" in headers or "upgrade" in connection:
        return None
    length = headers.get("content-length", "0")
    if not (length.isascii() and length.isdigit() and len(length) < 16):
        return None
    length = int(length)
    function_id = None
    method, target, version = request_line.groups()
    if (method == "POST" and version == "HTTP/1.1" and not repeated and length <= DIRECT_BODY_LIMIT
            and connection in ("", "keep-alive", "close") and _DIRECT_REFUSED.isdisjoint(headers)
            and headers.get("content-type", "").partition(";")[0].strip().lower() in _JSON_TYPES
            and not wants_multipart(headers.get("accept", ""))):
        match = _DIRECT_TARGET.fullmatch(target)
        function_id = match.group(1) if match else None
    return _Head(length, function_id, headers, connection == "close")


def _error_parts(exc: AppwriteError) -> tuple[int, object, bytes]:
    """(status, headers, body) of the envelope error_middleware answers `exc` with."""
    response = error_response(exc)
    return response.status, response.headers.items(), response.body


class Connection(RequestHandler):
    """aiohttp's connection protocol, answering direct executions itself (module docstring)."""

    def __init__(self, manager: web.Server, *, state: State, **kwargs):
        super().__init__(manager, **kwargs)
        self._state = state
        self._aiohttp_only = not DIRECT_ANSWERS  # every byte goes to aiohttp, for good
        self._pending = b""  # read, not yet framed or handed on
        self._forward_left = 0  # bytes of the request aiohttp is reading that are still to come
        self._aiohttp_fed = False  # whether aiohttp has been given a request on this connection
        self._direct: asyncio.Task | None = None  # the answer being made here
        self._reading_held = False
        self._addresses: tuple | None = None  # (local sockname, peer address)

    # -- errors aiohttp answers itself, before any middleware runs -------------------------------
    def handle_error(self, request, status: int = 500, exc=None, message=None) -> web.StreamResponse:
        plain = super().handle_error(request, status, exc, message)  # logs; refuses if a response began
        if status >= 500:
            error = AppwriteError("general_unknown", "Server Error", status)
        else:
            detail = getattr(exc, "message", None) or message or plain.reason
            error = AppwriteError("general_bad_request", f"Invalid request: {detail}", status)
        response = error_response(error)
        response.force_close()
        return response

    # -- framing ----------------------------------------------------------------------------------
    def data_received(self, data: bytes) -> None:
        # b"": aiohttp re-parsing what its own parser holds (after a pause for a full queue)
        if self._aiohttp_only or not data:
            super().data_received(data)
            return
        self._pending = self._pending + data if self._pending else data
        self._frame()

    def _frame(self) -> None:
        while self._pending and self._direct is None and not self._aiohttp_only:
            transport = self.transport
            if transport is None or transport.is_closing() or self._close or self._force_close:
                self._pending = b""
                return
            buf = self._pending
            if self._forward_left:  # the rest of a body aiohttp is reading
                chunk = buf[:self._forward_left]
                self._pending = buf[len(chunk):]
                self._forward_left -= len(chunk)
                super().data_received(chunk)
                continue
            end = buf.find(b"\r\n\r\n", 0, HEAD_LIMIT)
            if end < 0:
                if len(buf) >= HEAD_LIMIT or _bare_line_break(buf):
                    self._hand_over()
                return
            head = _parse_head(buf, end)
            if head is None:
                self._hand_over()
                return
            start = end + 4
            total = start + head.length
            if head.function_id is not None and self._aiohttp_idle() and self._host_served(head.headers):
                if len(buf) < total:
                    return  # the body is still arriving (at most DIRECT_BODY_LIMIT)
                self._pending = buf[total:]
                self._direct = self._loop.create_task(self._answer(head, buf[start:total], self._local_and_peer()[1]))
                break
            chunk = buf[:total]
            self._pending = buf[len(chunk):]
            self._forward_left = total - len(chunk)
            self._aiohttp_fed = True
            super().data_received(chunk)
        if (self._direct is not None and len(self._pending) > READ_AHEAD_LIMIT and not self._reading_held
                and self.transport is not None):
            self._reading_held = True
            self.transport.pause_reading()

    def _hand_over(self) -> None:
        self._aiohttp_only = True
        pending, self._pending = self._pending, b""
        super().data_received(pending)

    def _aiohttp_idle(self) -> bool:
        """Nothing of this connection is queued in or being answered by aiohttp: its loop waits
        for a request (or was never given one)."""
        if not self._aiohttp_fed:
            return True
        waiter = self._waiter
        return waiter is not None and not waiter.done() and not self._messages

    def _host_served(self, headers: dict) -> bool:
        """The Host is one origin_guard lets through and names no function domain (those run
        the function: api/function_domains.py); any other is aiohttp's to refuse or route."""
        hostname = host_name_of(headers.get("host", ""))
        if hostname is None or hostname.endswith("." + self._state.settings.functions_domain):
            return False
        return host_allowed(self._state, self._local_and_peer()[0], hostname)

    def _local_and_peer(self) -> tuple:
        if self._addresses is None:
            peer = self.transport.get_extra_info("peername")
            self._addresses = (self.transport.get_extra_info("sockname"),
                               str(peer[0]) if isinstance(peer, (list, tuple)) else "")
        return self._addresses

    # -- answering --------------------------------------------------------------------------------
    async def _answer(self, head: _Head, body: bytes, remote: str) -> None:
        state = self._state
        try:
            try:
                status, model = await create_execution_direct(state, head.headers, head.function_id, body, remote)
                headers = _JSON_HEADERS
                payload = shaped_body(model, head.headers.get("x-appwrite-response-format")) or json_body(model)
            except AppwriteError as exc:
                status, headers, payload = _error_parts(exc)
            except Exception:  # a bug, as error_middleware sees one: logged, a 500, the server keeps serving
                log.exception("unhandled error on POST /v1/functions/%s/executions", head.function_id)
                status, headers, payload = _error_parts(AppwriteError("general_unknown", "Server Error", 500))
            # As commit_middleware: an answer waits for the commit of what it reports, but a
            # synchronous execution's, whose commit follows in this loop step (api/common.py, COMMIT_FOLLOWS).
            if status != 201:
                await state.store.committed()
            self._write(status, headers, payload, head.close)
        finally:
            self._direct = None
            self._next_keepalive_close_time = self._loop.time() + self._keepalive_timeout
            if self._reading_held and self.transport is not None:
                self._reading_held = False
                self.transport.resume_reading()
            self._frame()  # what was pipelined behind it

    def _write(self, status: int, headers, body: bytes, close: bool) -> None:
        """The response as aiohttp would write it: its headers, then Content-Length, Date, Server."""
        transport = self.transport
        if transport is None or transport.is_closing():
            return  # the client went away: the execution ran and is recorded all the same
        lines = [f"HTTP/1.1 {status} {_REASONS.get(status, '')}"]
        lines += [f"{name}: {value}" for name, value in headers]
        lines += [f"Content-Length: {len(body)}", f"Date: {rfc822_formatted_time()}", f"Server: {SERVER_SOFTWARE}"]
        if close:
            lines.append("Connection: close")
        transport.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        if close:
            self._pending = b""
            self.close()
            transport.close()

    # -- lifetime ---------------------------------------------------------------------------------
    def _process_keepalive(self) -> None:
        # aiohttp closes a connection idle past keepalive_timeout; one answering here is not idle.
        if self._direct is not None:
            self._keepalive_handle = self._loop.call_at(self._loop.time() + self._keepalive_timeout,
                                                        self._process_keepalive)
            return
        super()._process_keepalive()

    async def shutdown(self, timeout: float | None = 15.0) -> None:
        """As aiohttp does for its own requests: let an answer in progress finish (up to `timeout`)."""
        direct = self._direct
        if direct is not None:
            await asyncio.wait({direct}, timeout=timeout)
            if not direct.done():
                direct.cancel()
        await super().shutdown(timeout)
