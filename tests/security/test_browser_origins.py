"""Which browsers and host names may talk to the server (app.origin_guard) and CORS for them.

A page a browser shows may send "simple" cross-origin requests (text/plain, form, multipart)
without a preflight, and a DNS-rebinding page reaches 127.0.0.1 under its own name. The server
is open here (no --api-key), the case where nothing else stands in the way. Each refusal is
checked by its effect: the function is not created, no deployment exists, the code did not run.
"""
from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest

from security_helpers import call, deploy_marker, marks

P = "web"
FOREIGN = ["http://evil.example", "null", "https://evil.example:8443", "http://127.0.0.1.evil.example",
           "file://", "chrome-extension://abcdef"]
LOOPBACK = ["http://localhost:3000", "https://127.0.0.1", "http://[::1]:5173", "http://app.localhost:8000"]
SDK_HEADERS = ["content-type", "x-appwrite-project", "x-appwrite-response-format", "x-sdk-name",
               "x-sdk-platform", "x-sdk-language", "x-sdk-version", "x-fallback-cookies", "content-range",
               "x-appwrite-key", "x-appwrite-jwt"]


@pytest.fixture(scope="module")
def marker(server, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("marker")
    mark_file = tmp / "marks.txt"
    deploy_marker(server.endpoint, P, None, "marker", mark_file, tmp)
    return mark_file


def port_of(server) -> int:
    return urlsplit(server.endpoint).port


def function_ids(server, project=P) -> set[str]:
    return {f["$id"] for f in call(server.endpoint, "GET", "/functions", project).json()["functions"]}


def test_simple_cross_origin_requests_change_nothing(server, marker):
    create = json.dumps({"functionId": "evil", "name": "evil", "runtime": "python-3.11"})
    for origin in FOREIGN:
        bodies = [
            {"data": create, "headers": {"Content-Type": "text/plain"}},
            {"data": {"functionId": "evil", "name": "evil", "runtime": "python-3.11"}},  # form-urlencoded
            {"files": {"functionId": (None, "evil"), "name": (None, "evil"), "runtime": (None, "python-3.11")}},
        ]
        for body in bodies:
            headers = {"Origin": origin, **body.pop("headers", {})}
            r = call(server.endpoint, "POST", "/functions", P, headers=headers, **body)
            assert r.status_code == 403, (origin, r.text)
            assert r.json()["type"] == "general_unknown_origin" and r.json()["code"] == 403
            assert "Access-Control-Allow-Origin" not in r.headers
        # An execution and a multipart deployment of the deployed function: refused, nothing runs.
        r = call(server.endpoint, "POST", "/functions/marker/executions", P,
                 headers={"Origin": origin, "Content-Type": "text/plain"}, data=json.dumps({"body": "evil"}))
        assert r.status_code == 403
        r = call(server.endpoint, "POST", "/functions/marker/deployments", P, headers={"Origin": origin},
                 files={"code": ("code.tar.gz", b"not-even-an-archive", "application/gzip")},
                 data={"entrypoint": "main.py", "activate": "true"})
        assert r.status_code == 403
        # Reads are refused too: list answers carry code, variables and execution output.
        r = call(server.endpoint, "GET", "/functions/marker/variables", P, headers={"Origin": origin})
        assert r.status_code == 403 and "MARK_FILE" not in r.text
    assert "evil" not in function_ids(server)
    assert marks(marker) == []
    assert call(server.endpoint, "GET", "/functions/marker/executions", P).json()["total"] == 0
    assert call(server.endpoint, "GET", "/functions/marker/deployments", P).json()["total"] == 1


def test_foreign_host_is_refused_dns_rebinding(server, marker):
    port = port_of(server)
    for host in [f"evil.example:{port}", "evil.example", f"localhost.evil.example:{port}", f"10.1.2.3:{port}",
                 "bad host:1", f"127.0.0.1:{port}x"]:
        r = call(server.endpoint, "POST", "/functions/marker/executions", P, headers={"Host": host},
                 json={"body": "rebound"})
        assert r.status_code in (400, 403), (host, r.text)
        assert r.json()["type"] in ("general_access_forbidden", "general_bad_request")
        r = call(server.endpoint, "GET", "/functions", P, headers={"Host": host})
        assert r.status_code in (400, 403) and "marker" not in r.text
    r = call(server.endpoint, "POST", "/functions", P, headers={"Host": f"evil.example:{port}"},
             json={"functionId": "rebound", "name": "rebound", "runtime": "python-3.11"})
    assert r.status_code == 403 and r.json()["type"] == "general_access_forbidden"
    assert "rebound" not in function_ids(server)
    assert marks(marker) == []
    # Loopback names, with or without a port, are this server.
    for host in [f"localhost:{port}", "localhost", f"127.0.0.1:{port}", f"[::1]:{port}", f"api.localhost:{port}",
                 f"LOCALHOST:{port}"]:
        r = call(server.endpoint, "GET", "/functions", P, headers={"Host": host})
        assert r.status_code == 200, (host, r.text)


def test_loopback_origins_work_with_cors_headers(server, marker):
    before = len(marks(marker))
    for origin in LOOPBACK:
        r = call(server.endpoint, "POST", "/functions/marker/executions", P, headers={"Origin": origin},
                 json={"body": origin})
        assert r.status_code == 201, r.text
        assert r.headers["Access-Control-Allow-Origin"] == origin
        assert r.headers["Access-Control-Allow-Credentials"] == "true"
        assert "X-Fallback-Cookies" in r.headers["Access-Control-Expose-Headers"]
        assert "Origin" in r.headers["Vary"]
    assert marks(marker)[before:] == LOOPBACK
    # The server's own origin (any port, http or https) is allowed too.
    port = port_of(server)
    for origin in [f"http://127.0.0.1:{port}", "https://127.0.0.1:1"]:
        assert call(server.endpoint, "GET", "/functions", P, headers={"Origin": origin}).status_code == 200
    # Without Origin (SDKs, the CLI, curl) nothing changes and no CORS header is added.
    r = call(server.endpoint, "GET", "/functions", P)
    assert r.status_code == 200 and "Access-Control-Allow-Origin" not in r.headers


def test_preflight_answers_exactly(server):
    origin = "http://localhost:5173"
    for path in ["/functions", "/functions/marker/executions", "/account/sessions/email", "/no/such/route"]:
        r = call(server.endpoint, "OPTIONS", path, headers={
            "Origin": origin, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": ",".join(SDK_HEADERS + ["x-appwrite-brand-new"])})
        assert r.status_code == 204 and r.content == b""
        assert r.headers["Access-Control-Allow-Origin"] == origin
        assert r.headers["Access-Control-Allow-Credentials"] == "true"
        methods = {m.strip() for m in r.headers["Access-Control-Allow-Methods"].split(",")}
        assert {"GET", "POST", "PUT", "PATCH", "DELETE"} <= methods
        allowed = {h.strip().lower() for h in r.headers["Access-Control-Allow-Headers"].split(",")}
        assert set(SDK_HEADERS) | {"x-appwrite-brand-new"} <= allowed
        assert {"x-appwrite-session", "x-fallback-cookies"} <= {
            h.strip().lower() for h in r.headers["Access-Control-Expose-Headers"].split(",")}
        assert int(r.headers["Access-Control-Max-Age"]) > 0
    # Only x-appwrite-*/x-sdk-* headers beyond the list are echoed.
    r = call(server.endpoint, "OPTIONS", "/functions", headers={
        "Origin": origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "x-evil"})
    assert "x-evil" not in r.headers["Access-Control-Allow-Headers"].lower()
    # A foreign origin's preflight fails: no CORS header, so the browser never sends the request.
    for foreign in FOREIGN:
        r = call(server.endpoint, "OPTIONS", "/functions", headers={
            "Origin": foreign, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-appwrite-project"})
        assert r.status_code == 403 and "Access-Control-Allow-Origin" not in r.headers
        assert r.json()["type"] == "general_unknown_origin"


def test_cors_headers_on_error_responses(server):
    origin = "http://127.0.0.1:4000"
    for method, path, body, status in [("GET", "/functions/missing", None, 404), ("GET", "/nowhere", None, 404),
                                       ("POST", "/functions", {"functionId": "x"}, 400)]:
        r = call(server.endpoint, method, path, P, headers={"Origin": origin}, json=body)
        assert r.status_code == status
        assert r.headers["Access-Control-Allow-Origin"] == origin
        assert r.headers["Access-Control-Allow-Credentials"] == "true"


def test_cross_site_request_without_origin(server):
    # A page's <img>/<script> load (no Origin, Sec-Fetch-Site cross-site) is refused...
    r = call(server.endpoint, "GET", "/functions", P, headers={"Sec-Fetch-Site": "cross-site",
                                                             "Sec-Fetch-Mode": "no-cors"})
    assert r.status_code == 403 and r.json()["type"] == "general_unknown_origin"
    # ...a top-level navigation (following a link, typing the URL) is not.
    r = call(server.endpoint, "GET", "/health/version", headers={"Sec-Fetch-Site": "cross-site",
                                                                "Sec-Fetch-Mode": "navigate"})
    assert r.status_code == 200
    r = call(server.endpoint, "GET", "/health/version", headers={"Sec-Fetch-Site": "same-origin"})
    assert r.status_code == 200


def test_cors_origin_option_and_environment(server_factory, tmp_path, monkeypatch):
    # The environment variable (comma-separated) applies when no --cors-origin is given.
    monkeypatch.setenv("APPWRITE_EMULATOR_CORS_ORIGINS", "http://env-a.test, https://env-b.test:8443")
    from_env = server_factory(data_dir=tmp_path / "env-data")
    from_options = server_factory("--cors-origin", "http://myapp.test:3000", "--cors-origin", "https://other.test",
                                  data_dir=tmp_path / "option-data")
    allowed = {from_env: ["http://env-a.test", "https://env-b.test:8443"],
               from_options: ["http://myapp.test:3000", "https://other.test"]}
    refused = ["http://myapp.test:3001", "http://myapp.test", "https://myapp.test:3000", "http://env-a.test:80",
               "http://evil.example", "null"]
    for srv, origins in allowed.items():
        for origin in origins:
            r = call(srv.endpoint, "POST", "/functions", "opt", headers={"Origin": origin},
                     json={"functionId": urlsplit(origin).hostname.replace(".", "-"), "name": "n",
                           "runtime": "python-3.11"})
            assert r.status_code == 201, (origin, r.text)
            assert r.headers["Access-Control-Allow-Origin"] == origin
        for origin in refused + [o for other in allowed.values() if other is not origins for o in other]:
            r = call(srv.endpoint, "POST", "/functions", "opt", headers={"Origin": origin},
                     json={"functionId": "nope", "name": "n", "runtime": "python-3.11"})
            assert r.status_code == 403, origin
        ids = {f["$id"] for f in call(srv.endpoint, "GET", "/functions", "opt").json()["functions"]}
        assert ids == {urlsplit(o).hostname.replace(".", "-") for o in origins}
    # A host name the user allowed as an origin is also accepted as Host (e.g. behind a proxy).
    for host, status in [("myapp.test:3000", 200), ("other.test", 200), ("evil.example", 403)]:
        assert call(from_options.endpoint, "GET", "/functions", "opt", headers={"Host": host}).status_code == status
