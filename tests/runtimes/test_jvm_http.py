"""The JVM adapters' own HTTP layer (runtimes/java/core HttpServer, shared by Java and Kotlin: it
parses requests itself and runs each call on its connection's thread, a watchdog thread answering
soft timeouts), held to the rules of the Python adapter's (test_python_http.py): malformed requests
get a 4xx and change nothing, keep-alive, pipelining and Expect rules, header parsing, chunked and
oversized bodies, a timed-out call's connection closing, and no thread per call. The open-runtimes
contract itself is test_java_contract.py / test_kotlin_contract.py."""
from __future__ import annotations

import json
import os

from .contract_common import RuntimeContract
from .http_common import (assert_headers_as_the_function_sees_them, assert_keep_alive_rules_and_expect_continue,
                          assert_malformed_requests_refused, assert_no_thread_per_call,
                          assert_timed_out_call_closes_its_connection_and_runs_on, closed_by_server, connect,
                          read_response, request)

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
        assert_malformed_requests_refused(driver, [
            (b"POST / HTTP/1.1\r\ncontent-length: nine\r\n\r\n", 400),
            (b"POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n", 400),
        ])


def test_headers_and_target_as_the_function_sees_them(tmp_path):
    with contract.running(tmp_path, FUNCTION, ENTRYPOINT) as driver, connect(driver) as sock:
        seen = assert_headers_as_the_function_sees_them(driver, sock, extra="x-twice: a\r\nX-Twice: b\r\n")
        assert seen["headers"]["x-twice"] == "a, b" and seen["path"] == "/path"
        # absolute-form target: the function sees its path
        sock.sendall(request(driver).replace(b"POST /path?q=1 ", b"POST http://example.test/other?q=1 ", 1))
        status, _, body, _ = read_response(sock)
        assert status == 200 and json.loads(body)["path"] == "/other"
        # HEAD: the headers of the answer (its length too) and no body, so the next answer follows at once
        sock.sendall(request(driver, method="HEAD"))
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(65536)
        head, _, rest = head.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 ") and b"\r\ncontent-length: " in head and rest == b"", head
        sock.sendall(request(driver, body=b"after head"))
        status, _, body, _ = read_response(sock, rest)
        assert status == 200 and json.loads(body)["body"] == "after head"


def test_keep_alive_rules_and_expect_continue(tmp_path):
    with contract.running(tmp_path, FUNCTION, ENTRYPOINT) as driver:
        assert_keep_alive_rules_and_expect_continue(driver)
        with connect(driver) as sock:  # HTTP/1.0 asking to keep the connection keeps it
            for body in (b"one", b"two"):
                sock.sendall(request(driver, version="HTTP/1.0", extra="connection: keep-alive\r\n", body=body))
                status, headers, got, _ = read_response(sock)
                assert (status, headers.get("connection"), json.loads(got)["body"]) == (200, "keep-alive",
                                                                                         body.decode())


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
    with contract.running(tmp_path, FUNCTION, ENTRYPOINT) as driver:
        assert_timed_out_call_closes_its_connection_and_runs_on(driver, tmp_path / "slow.done")


def test_no_thread_per_call(tmp_path):
    with contract.running(tmp_path, FUNCTION, ENTRYPOINT) as driver:
        # JIT compiler threads come and go: only the threads serving connections are counted
        assert_no_thread_per_call(driver, lambda: connection_threads(driver.proc.pid))
