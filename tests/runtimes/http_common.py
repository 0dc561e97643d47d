"""The rules every adapter's own HTTP layer is held to (test_python_http.py, test_jvm_http.py: the
adapters that parse requests themselves and run each call on its connection's thread), as scenarios
on a started DirectDriver whose function answers JSON {"body": <request body text>, ...} and, for
`x-action: sleep`, sleeps `x-seconds` past any timeout, then creates the file `x-marker` names."""
from __future__ import annotations

import json
import os
import socket

from support import closed_by_server, read_response, wait_for


def connect(driver) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", driver.port), timeout=30)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def request(driver, *, method: str = "POST", version: str = "HTTP/1.1", extra: str = "", body: bytes = b"",
            timeout: int = 15) -> bytes:
    return (f"{method} /path?q=1 {version}\r\nhost: 127.0.0.1\r\nx-open-runtimes-secret: {driver.secret}\r\n"
            f"x-open-runtimes-timeout: {timeout}\r\nx-open-runtimes-logging: disabled\r\n{extra}"
            f"content-length: {len(body)}\r\n\r\n").encode("latin-1") + body


def log_files(driver) -> list[str]:
    return sorted(os.listdir(driver.logs_dir))


def assert_malformed_requests_refused(driver, extra_cases=()) -> None:
    """Malformed or over-limit requests (and `extra_cases`: (bytes, status)) get their 4xx with the
    connection closed, write nothing, and the adapter keeps serving."""
    # Each ends where the adapter stops reading: bytes left unread when it closes would make the
    # kernel reset the connection, and the client could lose the answer.
    cases = [
        *extra_cases,
        (b"NONSENSE\r\n", 400),
        (b"POST / HTTP/2.0\r\n", 400),
        (b"POST /" + b"a" * (65537 - 6), 414),
        (b"POST / HTTP/1.1\r\n" + b"x-long: " + b"v" * (65537 - 8), 431),
        (b"POST / HTTP/1.1\r\n" + b"".join(b"x-h%d: v\r\n" % i for i in range(1001)), 431),
        (b"POST / HTTP/1.1\r\nno colon here\r\n", 400),
    ]
    for raw, status in cases:
        with connect(driver) as sock:
            sock.sendall(raw)
            got, headers, _, _ = read_response(sock)
            assert (got, headers.get("connection")) == (status, "close"), raw[:60]
            assert closed_by_server(sock)
    assert log_files(driver) == [], "a refused request writes nothing"
    with connect(driver) as sock:
        sock.sendall(request(driver, body=b"fine"))
        status, _, body, _ = read_response(sock)
        assert status == 200 and json.loads(body)["body"] == "fine"


def assert_headers_as_the_function_sees_them(driver, sock, extra: str = "") -> dict:
    """Header names lower-cased, folded lines joined, the executor's own headers hidden and the
    enforced ones on top; what the function saw of the request (with `extra` header lines)."""
    sock.sendall(request(driver, method="PATCH", extra="X-Mixed-Case: One\r\nx-folded: first\r\n  second\r\n"
                                                      f"x-open-runtimes-custom: hidden\r\n{extra}"))
    status, _, body, _ = read_response(sock)
    seen = json.loads(body)
    assert status == 200 and seen["method"] == "PATCH"
    assert seen["headers"]["x-mixed-case"] == "One" and seen["headers"]["x-folded"] == "first second"
    # The executor's own headers are not the function's; the enforced set (which the contract
    # driver makes include x-open-runtimes-custom: 248) goes on top.
    assert "x-open-runtimes-secret" not in seen["headers"] and "x-open-runtimes-timeout" not in seen["headers"]
    assert seen["headers"]["x-open-runtimes-custom"] == "248", seen["headers"]
    return seen


def assert_keep_alive_rules_and_expect_continue(driver) -> None:
    with connect(driver) as sock:  # HTTP/1.1: several calls on one connection, pipelined too
        sock.sendall(request(driver, body=b"a") + request(driver, body=b"b"))
        _, headers, first, rest = read_response(sock)
        _, _, second, _ = read_response(sock, rest)
        assert [json.loads(b)["body"] for b in (first, second)] == ["a", "b"]
        assert "connection" not in headers
    for version, extra in (("HTTP/1.0", ""), ("HTTP/1.1", "connection: close\r\n")):
        with connect(driver) as sock:
            sock.sendall(request(driver, version=version, extra=extra))
            status, headers, _, _ = read_response(sock)
            assert (status, headers.get("connection")) == (200, "close")
            assert closed_by_server(sock)
    with connect(driver) as sock:  # the body is sent only after the interim answer, as curl does
        sock.sendall(request(driver, extra="expect: 100-continue\r\n", body=b"later")[:-5])
        interim = b""
        while not interim.endswith(b"\r\n\r\n"):
            interim += sock.recv(1)
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"later")
        status, _, body, _ = read_response(sock)
        assert status == 200 and json.loads(body)["body"] == "later"


def assert_timed_out_call_closes_its_connection_and_runs_on(driver, marker) -> None:
    with connect(driver) as sock:
        sock.sendall(request(driver, timeout=1, extra=f"x-action: sleep\r\nx-seconds: 4\r\nx-marker: {marker}\r\n"))
        status, headers, body, _ = read_response(sock)
        assert not marker.exists(), "the timeout answers before the call ends"
        assert (status, body, headers.get("connection")) == (500, b"", "close")
        assert closed_by_server(sock)
    with connect(driver) as sock:  # a new connection is served while the late call still runs
        sock.sendall(request(driver, body=b"next"))
        status, _, body, _ = read_response(sock)
        assert status == 200 and json.loads(body)["body"] == "next"
        assert not marker.exists()
    wait_for(marker.exists, timeout=60, message="the timed-out call kept running to its end")


def assert_no_thread_per_call(driver, threads) -> None:
    """Calls on one connection start no threads; each connection has one, which ends with it.
    `threads()`: how many the adapter has (all, or those serving connections)."""
    with connect(driver) as sock:
        sock.sendall(request(driver))
        read_response(sock)
        # A thread of an earlier connection (the readiness probe's) may still be ending: counts may
        # fall between two looks, never rise
        busy = threads()
        for _ in range(200):
            sock.sendall(request(driver))
            assert read_response(sock)[0] == 200
        assert threads() <= busy, "calls on one connection start no threads"
    before = threads()
    socks = [connect(driver) for _ in range(8)]
    for sock in socks:
        sock.sendall(request(driver))
    for sock in socks:
        assert read_response(sock)[0] == 200
    # 8 connections, less at most one ending thread (the first connection's) counted in `before`
    assert threads() >= before + 7, "each connection has a thread of its own"
    for sock in socks:
        sock.close()
    wait_for(lambda: threads() < busy, timeout=60, message="connection threads end with their connections")
