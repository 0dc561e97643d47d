"""The Node.js adapter against the shared contract (emulator/contract.py), plus Node specifics:
v2 wire, npm install builds, CommonJS/ESM entrypoint loading, isolated native logs, throughput."""
from __future__ import annotations

import concurrent.futures
import json
import socket
import textwrap
import time
from pathlib import Path

import pytest

from emulator.contract import V2_CHECKS, DirectDriver, ToolchainMissing, checks_for_api, run_check
from emulator.languages import language_for_runtime

RUNTIME = "node-20.0"


def start(api: str = "context", **kwargs) -> DirectDriver:
    driver = DirectDriver(RUNTIME, api=api, **kwargs)
    try:
        driver.start()
    except ToolchainMissing as exc:
        pytest.skip(str(exc))
    return driver


@pytest.fixture(scope="module")
def context_driver():
    driver = start("context")
    yield driver
    driver.stop()


@pytest.fixture(scope="module")
def legacy_driver():
    driver = start("legacy")
    yield driver
    driver.stop()


@pytest.fixture(scope="module")
def v2_driver():
    driver = start("legacy", wire="v2")
    yield driver
    driver.stop()


@pytest.mark.parametrize("check", checks_for_api("context"), ids=lambda c: c.name)
def test_context(context_driver, check):
    result = run_check(context_driver, check)
    assert result.passed, result.detail


@pytest.mark.parametrize("check", checks_for_api("legacy"), ids=lambda c: c.name)
def test_legacy(legacy_driver, check):
    result = run_check(legacy_driver, check)
    assert result.passed, result.detail


@pytest.mark.parametrize("check", V2_CHECKS, ids=lambda c: c.name)
def test_v2_wire(v2_driver, check):
    result = run_check(v2_driver, check)
    assert result.passed, result.detail


def write(root: Path, files: dict[str, str]) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(content))
    return root


def test_runtime_ids():
    for version in ("14.5", "16.0", "18.0", "19.0", "20.0", "21.0", "22", "23", "24", "25"):
        assert language_for_runtime(f"node-{version}").key == "node"
    assert language_for_runtime("node-12.0") is None
    language = language_for_runtime(RUNTIME)
    toolchain = language.toolchain()
    if toolchain.available:
        assert toolchain.version.startswith("v"), toolchain


def test_npm_install_build(tmp_path):
    """Without build commands a package.json triggers `npm install`; the function's own
    node_modules resolve from the entrypoint."""
    src = write(tmp_path / "src", {
        "package.json": json.dumps({"name": "fn", "version": "1.0.0", "dependencies": {"is-number": "7.0.0"}}),
        "src/main.js": """
            const isNumber = require('is-number');
            module.exports = async ({ req, res }) =>
              res.json({ five: isNumber(5), word: isNumber('word'), from: require.resolve('is-number') });
        """,
    })
    driver = start(source_dir=src, entrypoint="src/main.js", workdir=tmp_path / "work")
    try:
        assert "$ npm install" in driver.build_log, driver.build_log
        r = driver.request(headers={})
        assert r.status == 200, r.short()
        data = r.json()
        assert data["five"] is True and data["word"] is False, data
        assert data["from"].startswith(str(driver.code_dir / "node_modules")), data
    finally:
        driver.stop()


def test_no_package_json_no_install(tmp_path):
    language = language_for_runtime(RUNTIME)
    assert language.default_install(tmp_path) == ""
    (tmp_path / "package.json").write_text("{}")
    assert language.default_install(tmp_path) == "npm install"


@pytest.mark.parametrize("files,entrypoint", [
    ({"index.mjs": "export default async (context) => context.res.text('esm ' + context.req.method);"},
     "index.mjs"),
    ({"package.json": '{"type": "module"}',
      "index.js": "export default async function (context) { return context.res.text('esm ' + context.req.method); }"},
     "index.js"),
    ({"index.js": "module.exports.default = async (context) => context.res.text('esm ' + context.req.method);"},
     "index.js"),
    ({"index.js": "module.exports = { main: async (context) => context.res.text('esm ' + context.req.method) };"},
     "index.js"),
], ids=["mjs", "type-module", "cjs-default", "cjs-main"])
def test_module_formats(tmp_path, files, entrypoint):
    driver = start(source_dir=write(tmp_path / "src", files), entrypoint=entrypoint, workdir=tmp_path / "work")
    try:
        r = driver.request("PUT", headers={})
        assert r.status == 200 and r.text == "esm PUT", r.short()
    finally:
        driver.stop()


@pytest.mark.parametrize("files,entrypoint,message", [
    ({"index.js": "module.exports = async (context) => context.res.text('x');"}, "missing.js",
     "Failed to load entrypoint, file missing.js does not exist."),
    ({"index.js": "module.exports = async (context => {\n"}, "index.js", "Syntax error in index.js"),
    ({"index.js": "module.exports = { handler: 1 };"}, "index.js",
     "Function signature invalid. Did you forget to export a 'main' function?"),
    ({"index.js": "require('not-a-real-module-xyz');"}, "index.js", "Failed to load module: "),
], ids=["missing", "syntax", "no-export", "require-error"])
def test_entrypoint_guards(tmp_path, files, entrypoint, message):
    driver = start(source_dir=write(tmp_path / "src", files), entrypoint=entrypoint, workdir=tmp_path / "work")
    try:
        r = driver.request(headers={})
        assert r.status == 503 and r.body == b"", r.short()
        assert message in r.errors, r.short()
        assert r.log_files
    finally:
        driver.stop()


ISOLATION_FUNCTION = {
    "index.js": """
        const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

        module.exports = async (context) => {
          const token = context.req.headers['x-token'] || '';
          if (token === 'slow') {
            context.log('slow start');
            await sleep(2000);
            console.log('late native output');
            context.log('slow end');
            return context.res.text('late');
          }
          console.log('native', token);
          await sleep(20);
          console.error({ token });
          context.log('context', token);
          return context.res.text(token.toUpperCase());
        };
    """,
}


def test_isolated_native_logs_and_timeout(tmp_path):
    driver = start(source_dir=write(tmp_path / "src", ISOLATION_FUNCTION), entrypoint="index.js",
                   workdir=tmp_path / "work")
    try:
        tokens = [f"t{i}" for i in range(12)]
        with concurrent.futures.ThreadPoolExecutor(6) as pool:
            results = list(pool.map(lambda t: driver.request(headers={"x-token": t}), tokens))
        for token, r in zip(tokens, results):
            assert r.status == 200 and r.text == token.upper(), r.short()
            assert r.logs.count("Native logs detected.") == 1, r.short()
            assert f"native {token}\n" in r.logs and f"context {token}\n" in r.logs, r.short()
            assert f'{{"token":"{token}"}}\n' in r.logs, r.short()
            others = [t for t in tokens if t != token and (f"native {t}\n" in r.logs or f'"token":"{t}"' in r.logs
                                                           or f"context {t}\n" in r.logs)]
            assert not others, f"logs of {token} contain {others}: {r.logs!r}"

        r = driver.request(headers={"x-token": "slow"}, timeout=1)
        assert r.status == 500 and "Execution timed out." in r.errors, r.short()
        assert "slow start" in r.logs and "slow end" not in r.logs
        time.sleep(1.5)  # the call goes on; what it writes later must not land in any log file
        assert list(Path(driver.logs_dir).iterdir()) == []
        assert "late native output" not in driver.server_output()
    finally:
        driver.stop()


def test_development_mode_and_empty_secret(tmp_path):
    """Like the official secondary server: no secret, OPEN_RUNTIMES_ENV=development, empty headers."""
    driver = start(env={"OPEN_RUNTIMES_SECRET": "", "OPEN_RUNTIMES_ENV": "development", "OPEN_RUNTIMES_HEADERS": ""},
                   workdir=tmp_path / "work")
    try:
        r = driver.request(headers={"x-action": "logs"}, secret="wrongSecret")
        assert r.status == 200 and r.log_id == "dev", r.short()
        assert "Debug log" in r.logs and "Error log" in r.errors
        r = driver.request(headers={"x-action": "logs"}, secret=None, logging="disabled")
        assert r.status == 200 and r.headers.get("x-open-runtimes-log-id") == "" and not r.log_files
        r = driver.request(headers={"x-action": "logs"}, log_id="myLog")
        assert r.log_id == "myLog" and "Debug log" in r.logs
        r = driver.request(headers={"x-action": "enforcedHeaders", "x-custom": "mine"})
        assert r.json()["x-custom"] == "mine"
    finally:
        driver.stop()


def test_throughput(context_driver):
    """A warm trivial call must be cheap: keep-alive, no per-request process work."""
    request = (f"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nx-action: plaintextResponse\r\n"
               f"x-open-runtimes-secret: {context_driver.secret}\r\nx-open-runtimes-timeout: 15\r\n"
               f"x-open-runtimes-logging: disabled\r\ncontent-length: 0\r\n\r\n").encode()
    tail = "Hello World 👋".encode()
    with socket.create_connection(("127.0.0.1", context_driver.port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        count, started = 0, time.monotonic()
        while time.monotonic() - started < 1.5:
            sock.sendall(request)
            data = b""
            while not data.endswith(tail):
                chunk = sock.recv(65536)
                assert chunk, "connection closed"
                data += chunk
            assert data.startswith(b"HTTP/1.1 200")
            count += 1
        rate = count / (time.monotonic() - started)
    assert rate > 400, f"only {rate:.0f} requests/s on one keep-alive connection"
