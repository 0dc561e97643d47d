"""The JVM adapters' own HTTP layer (runtimes/java/core HttpServer, shared by Java and Kotlin: it
parses requests itself and runs each call on its connection's thread, a watchdog thread answering
soft timeouts), held to the rules of the Python adapter's (test_python_http.py): malformed requests
get a 4xx and change nothing, keep-alive, pipelining and Expect rules, header parsing, chunked and
oversized bodies, a timed-out call's connection closing, and no thread per call. The open-runtimes
contract itself is test_java_contract.py / test_kotlin_contract.py."""
from __future__ import annotations

import json
import os

from support import wait_for

from .contract_common import RuntimeContract
from .test_python_http import closed_by_server, connect, log_files, read_response, request

contract = RuntimeContract("java-17.0")
ENTRYPOINT = "src/Main.java"

FUNCTION = {
    ENTRYPOINT: """
        package io.openruntimes.java.src;

        import io.openruntimes.java.RuntimeContext;
        import io.openruntimes.java.RuntimeOutput;
        import java.nio.file.Files;
        import java.nio.file.Paths;
        import java.util.HashMap;
        import java.util.Map;

        public class Main {
            public RuntimeOutput main(RuntimeContext context) throws Exception {
                Map<String, String> headers = context.getReq().getHeaders();
                if ("sleep".equals(headers.get("x-action"))) {
                    context.log("sleep start");
                    long end = System.nanoTime() + (long) (Double.parseDouble(headers.get("x-seconds")) * 1e9);
                    while (System.nanoTime() < end) {
                        try {
                            Thread.sleep(Math.max(1, (end - System.nanoTime()) / 1_000_000));
                        } catch (InterruptedException e) {
                            // the timeout's interrupt: this call runs on to its end
                        }
                    }
                    Files.write(Paths.get(headers.get("x-marker")), new byte[0]); // the test's signal
                }
                Map<String, Object> seen = new HashMap<>();
                seen.put("headers", headers);
                seen.put("method", context.getReq().getMethod());
                seen.put("body", context.getReq().getBodyText());
                seen.put("path", context.getReq().getPath());
                return context.getRes().json(seen);
            }
        }
    """,
}


def connection_threads(pid: int) -> int:
    """Threads serving connections (the JVM names its OS threads after the Java ones)."""
    count = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/comm") as fh:
                name = fh.read()
            count += name.startswith("http-") and not name.startswith("http-accept")
        except OSError:
            pass  # ended meanwhile
    return count


def test_malformed_requests_get_4xx_and_the_adapter_keeps_serving(tmp_path):
    with contract.running(tmp_path, FUNCTION, ENTRYPOINT) as driver:
        cases = [
            (b"NONSENSE\r\n", 400),
            (b"POST / HTTP/2.0\r\n", 400),
            (b"POST /" + b"a" * (65537 - 6), 414),
            (b"POST / HTTP/1.1\r\n" + b"x-long: " + b"v" * (65537 - 8), 431),
            (b"POST / HTTP/1.1\r\n" + b"".join(b"x-h%d: v\r\n" % i for i in range(1001)), 431),
            (b"POST / HTTP/1.1\r\nno colon here\r\n", 400),
            (b"POST / HTTP/1.1\r\ncontent-length: nine\r\n\r\n", 400),
            (b"POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n", 400),
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


def test_headers_and_target_as_the_function_sees_them(tmp_path):
    with contract.running(tmp_path, FUNCTION, ENTRYPOINT) as driver, connect(driver) as sock:
        sock.sendall(request(driver, method="PATCH", extra="X-Mixed-Case: One\r\nx-folded: first\r\n  second\r\n"
                                                          "x-twice: a\r\nX-Twice: b\r\n"
                                                          "x-open-runtimes-custom: hidden\r\n"))
        status, _, body, _ = read_response(sock)
        seen = json.loads(body)
        assert status == 200 and seen["method"] == "PATCH" and seen["path"] == "/path"
        assert seen["headers"]["x-mixed-case"] == "One" and seen["headers"]["x-folded"] == "first second"
        assert seen["headers"]["x-twice"] == "a, b"
        assert "x-open-runtimes-secret" not in seen["headers"] and "x-open-runtimes-timeout" not in seen["headers"]
        assert seen["headers"]["x-open-runtimes-custom"] == "248", seen["headers"]
        # absolute-form target: the function sees its path
        sock.sendall(request(driver).replace(b"POST /path?q=1 ", b"POST http://example.test/other?q=1 ", 1))
        status, _, body, _ = read_response(sock)
        assert status == 200 and json.loads(body)["path"] == "/other"


def test_keep_alive_rules_and_expect_continue(tmp_path):
    with contract.running(tmp_path, FUNCTION, ENTRYPOINT) as driver:
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
        with connect(driver) as sock:  # HTTP/1.0 asking to keep the connection keeps it
            for body in (b"one", b"two"):
                sock.sendall(request(driver, version="HTTP/1.0", extra="connection: keep-alive\r\n", body=body))
                status, headers, got, _ = read_response(sock)
                assert (status, headers.get("connection"), json.loads(got)["body"]) == (200, "keep-alive",
                                                                                         body.decode())
        with connect(driver) as sock:  # the body is sent only after the interim answer, as curl does
            sock.sendall(request(driver, extra="expect: 100-continue\r\n", body=b"later")[:-5])
            interim = b""
            while not interim.endswith(b"\r\n\r\n"):
                interim += sock.recv(1)
            assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
            sock.sendall(b"later")
            status, _, body, _ = read_response(sock)
            assert status == 200 and json.loads(body)["body"] == "later"


def test_chunked_and_oversized_bodies(tmp_path):
    with contract.running(tmp_path, FUNCTION, ENTRYPOINT) as driver:
        with connect(driver) as sock:
            head = request(driver).replace(b"content-length: 0\r\n", b"transfer-encoding: chunked\r\n")
            sock.sendall(head + b"3\r\nabc\r\n4;ext=1\r\ndefg\r\n0\r\nx-trailer: t\r\n\r\n")
            status, _, body, _ = read_response(sock)
            assert status == 200 and json.loads(body)["body"] == "abcdefg"
            sock.sendall(request(driver, body=b"same connection"))  # the chunked body was read to its end
            status, _, body, _ = read_response(sock)
            assert status == 200 and json.loads(body)["body"] == "same connection"
        with connect(driver) as sock:  # over 20 MB: read to its end, refused, connection closed
            sock.sendall(request(driver, body=b"x" * (20 * 1024 * 1024 + 1)))
            status, headers, _, _ = read_response(sock)
            assert (status, headers.get("connection")) == (413, "close")
            assert closed_by_server(sock)


def test_timed_out_call_closes_its_connection_and_runs_on(tmp_path):
    marker = tmp_path / "slow.done"
    with contract.running(tmp_path, FUNCTION, ENTRYPOINT) as driver:
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


def test_no_thread_per_call(tmp_path):
    with contract.running(tmp_path, FUNCTION, ENTRYPOINT) as driver:
        pid = driver.proc.pid
        with connect(driver) as sock:
            sock.sendall(request(driver))
            read_response(sock)
            busy = connection_threads(pid)
            for _ in range(200):
                sock.sendall(request(driver))
                assert read_response(sock)[0] == 200
            assert connection_threads(pid) == busy == 1, "calls on one connection start no threads"
        wait_for(lambda: connection_threads(pid) == 0, timeout=60, message="the connection's thread to end with it")
        socks = [connect(driver) for _ in range(8)]
        for sock in socks:
            sock.sendall(request(driver))
        for sock in socks:
            assert read_response(sock)[0] == 200
        assert connection_threads(pid) == 8, "each connection has a thread of its own"
        for sock in socks:
            sock.close()
        wait_for(lambda: connection_threads(pid) == 0, timeout=60,
                 message="connection threads end with their connections")
