"""The Deno adapter against the shared contract (emulator/contract.py), plus Deno specifics:
v2 wire, `deno cache` builds into a DENO_DIR inside the build dir, entrypoint loading, isolated
native logs, throughput. Skipped with the install hint when deno is not installed."""
from __future__ import annotations

import concurrent.futures
import socket
import textwrap
import time
from pathlib import Path

import pytest

from emulator.contract import V2_CHECKS, DirectDriver, ToolchainMissing, checks_for_api, run_check
from emulator.hostbuild import build_on_host
from emulator.languages import language_for_runtime
from emulator.languages.base import BuildError

RUNTIME = "deno-2.0"


def start(api: str = "context", **kwargs) -> DirectDriver:
    driver = DirectDriver(RUNTIME, api=api, **kwargs)
    try:
        driver.start()
    except ToolchainMissing as exc:
        pytest.skip(str(exc))
    return driver


def require_deno():
    toolchain = language_for_runtime(RUNTIME).toolchain()
    if not toolchain.available:
        pytest.skip(toolchain.hint)


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
    for version in ("1.21", "1.24", "1.35", "1.40", "1.46", "2.0", "2.5", "2.6"):
        assert language_for_runtime(f"deno-{version}").key == "deno"
    assert language_for_runtime("deno-0.9") is None
    language = language_for_runtime(RUNTIME)
    assert language.default_entrypoint == "mod.ts"
    toolchain = language.toolchain()
    if toolchain.available:
        assert toolchain.version.startswith("deno "), toolchain
    else:
        assert "npm install -g deno" in toolchain.hint


def test_npm_dependency_cached_at_build(tmp_path):
    """`deno cache` fetches imports at build time into DENO_DIR inside the build dir; the server
    reuses that cache."""
    src = write(tmp_path / "src", {
        "src/main.ts": """
            import isNumber from "npm:is-number@7.0.0";

            export default (context: any) => context.res.json({ five: isNumber(5), word: isNumber("word") });
        """,
    })
    driver = start(source_dir=src, entrypoint="src/main.ts", workdir=tmp_path / "work")
    try:
        assert "$ deno cache src/main.ts" in driver.build_log, driver.build_log
        assert any((driver.code_dir / ".deno" / "npm").rglob("package.json")), "npm package not cached in build dir"
        r = driver.request(headers={})
        assert r.status == 200 and r.json() == {"five": True, "word": False}, r.short()
    finally:
        driver.stop()


def test_build_fails_on_syntax_error(tmp_path):
    require_deno()
    write(tmp_path, {"mod.ts": "export default async (context => {\n"})
    chunks: list[str] = []
    with pytest.raises(BuildError):
        build_on_host(language_for_runtime(RUNTIME), tmp_path, "mod.ts", "", {}, chunks.append)
    assert "mod.ts" in "".join(chunks)


@pytest.mark.parametrize("source", [
    "export default async function (context: any) { return context.res.text('ok ' + context.req.method); }",
    "export async function main(context: any) { return context.res.text('ok ' + context.req.method); }",
    "const handler = (context: any) => context.res.text('ok ' + context.req.method);\nexport default handler;",
], ids=["default-function", "named-main", "default-arrow"])
def test_module_formats(tmp_path, source):
    driver = start(source_dir=write(tmp_path / "src", {"mod.ts": source}), entrypoint="mod.ts",
                   workdir=tmp_path / "work")
    try:
        r = driver.request("PUT", headers={})
        assert r.status == 200 and r.text == "ok PUT", r.short()
    finally:
        driver.stop()


VALID = "export default (context: any) => context.res.text('x');\n"


@pytest.mark.parametrize("files,entrypoint,replace,message", [
    ({"mod.ts": VALID}, "missing.ts", None, "Failed to load entrypoint, file missing.ts does not exist."),
    # deno cache refuses a syntax error at build time; break the file after the build instead
    ({"mod.ts": VALID}, "mod.ts", "export default async (context => {\n", "Syntax error in mod.ts"),
    ({"mod.ts": "export const handler = 1;\n"}, "mod.ts", None,
     "Function signature invalid. Did you forget to export a 'main' function?"),
    ({"mod.ts": "throw new Error('boom at load');\n"}, "mod.ts", None, "Failed to load module: "),
], ids=["missing", "syntax", "no-export", "load-error"])
def test_entrypoint_guards(tmp_path, files, entrypoint, replace, message):
    driver = start(source_dir=write(tmp_path / "src", files), entrypoint=entrypoint, workdir=tmp_path / "work")
    try:
        if replace is not None:
            (driver.code_dir / entrypoint).write_text(replace)  # the entrypoint loads on the first call
        r = driver.request(headers={})
        assert r.status == 503 and r.body == b"", r.short()
        assert message in r.errors, r.short()
        assert r.log_files
    finally:
        driver.stop()


ISOLATION_FUNCTION = {
    "mod.ts": """
        const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

        export default async (context: any) => {
          const token = context.req.headers["x-token"] || "";
          if (token === "slow") {
            context.log("slow start");
            await sleep(2000);
            console.log("late native output");
            context.log("slow end");
            return context.res.text("late");
          }
          console.log("native", token);
          await sleep(20);
          console.error({ token });
          context.log("context", token);
          return context.res.text(token.toUpperCase());
        };
    """,
}


def test_isolated_native_logs_and_timeout(tmp_path):
    driver = start(source_dir=write(tmp_path / "src", ISOLATION_FUNCTION), entrypoint="mod.ts",
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
