"""The Python adapter against the shared contract (emulator/contract.py), plus Python specifics:
v2 wire, requirements.txt builds, entrypoint loading, sync handlers, throughput."""
from __future__ import annotations

import concurrent.futures
import socket
import textwrap
import time
from pathlib import Path

import pytest

from emulator.contract import (V2_CHECKS, DirectDriver, ToolchainMissing, checks_for_api, run_check)
from emulator.hostbuild import build_on_host
from emulator.languages import language_for_runtime

RUNTIME = "python-3.11"


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


def verify(driver, check):
    if check.level == "emulator":
        pytest.skip("emulator-level check: runs through the emulator's API (ApiDriver)")
    result = run_check(driver, check)
    assert result.passed, result.detail


@pytest.mark.parametrize("check", checks_for_api("context", level=None), ids=lambda c: c.name)
def test_context(context_driver, check):
    verify(context_driver, check)


@pytest.mark.parametrize("check", checks_for_api("legacy", level=None), ids=lambda c: c.name)
def test_legacy(legacy_driver, check):
    verify(legacy_driver, check)


@pytest.mark.parametrize("check", V2_CHECKS, ids=lambda c: c.name)
def test_v2_wire(v2_driver, check):
    verify(v2_driver, check)


def write(root: Path, files: dict[str, str]) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(content))
    return root


def test_runtime_ids():
    for version in ("3.8", "3.9", "3.10", "3.11", "3.12", "3.13", "3.14"):
        assert language_for_runtime(f"python-{version}").key == "python"
    for version in ("3.11", "3.12", "3.13"):
        assert language_for_runtime(f"python-ml-{version}").key == "python-ml"
    assert language_for_runtime("python-2.7") is None


def test_requirements_build(tmp_path):
    """Dependencies go into the deployment's own venv and import from there."""
    src = write(tmp_path / "src", {
        "requirements.txt": "six==1.16.0\n",
        "main.py": """
            import sys
            import six

            def main(context):
                return context.res.json({"six": six.__file__, "prefix": sys.prefix})
        """,
    })
    driver = start(source_dir=src, entrypoint="main.py", workdir=tmp_path / "work")
    try:
        assert "$ pip install -r requirements.txt" in driver.build_log
        r = driver.request(headers={})
        assert r.status == 200, r.short()
        venv = driver.code_dir / "runtime-env"
        assert r.json()["six"].startswith(str(venv)), r.json()
        assert r.json()["prefix"] == str(venv)
    finally:
        driver.stop()


def test_build_without_dependencies_is_fast(tmp_path):
    language = language_for_runtime(RUNTIME)
    if not language.toolchain().available:
        pytest.skip(language.toolchain().hint)
    write(tmp_path, {"main.py": "def main(context):\n    return context.res.text('ok')\n"})
    started = time.monotonic()
    build_on_host(language, tmp_path, "main.py", "", {}, lambda text: None)
    elapsed = time.monotonic() - started
    assert (tmp_path / "runtime-env" / "bin" / "python").exists()
    assert elapsed < 2.0, f"a build without dependencies took {elapsed:.2f}s"


@pytest.mark.parametrize("files,entrypoint,message", [
    ({"main.py": "def main(context):\n    return context.res.text('x')\n"}, "missing.py",
     "Failed to load entrypoint, file missing.py does not exist."),
    ({"main.py": "def main(context)\n    return 1\n"}, "main.py", "Syntax error in main.py"),
    ({"main.py": "def handler(context):\n    return 1\n"}, "main.py",
     "Function signature invalid. Did you forget to export a 'main' function?"),
    ({"main.py": "import not_a_real_module_xyz\n"}, "main.py", "Failed to load module: "),
], ids=["missing", "syntax", "no-main", "import-error"])
def test_entrypoint_guards(tmp_path, files, entrypoint, message):
    driver = start(source_dir=write(tmp_path / "src", files), entrypoint=entrypoint, workdir=tmp_path / "work")
    try:
        r = driver.request(headers={})
        assert r.status == 503 and r.body == b"", r.short()
        assert message in r.errors, r.short()
        assert r.log_files
    finally:
        driver.stop()


SYNC_FUNCTION = {
    "src/main.py": """
        import time
        import sibling
        from .helper import VALUE
        from lib.util import shout

        def main(context):
            token = context.req.headers.get("x-token", "")
            if token == "slow":
                context.log("slow start")
                time.sleep(2)
                print("late native output")
                context.log("slow end")
                return context.res.text("late")
            print("native", token)
            context.log("context", token)
            time.sleep(0.05)
            return context.res.text(shout(sibling.NAME + VALUE + token))
    """,
    "src/helper.py": "VALUE = '-relative-'\n",
    "src/sibling.py": "NAME = 'sibling'\n",
    "lib/__init__.py": "",
    "lib/util.py": "def shout(text):\n    return text.upper()\n",
}


def test_sync_handler_imports_and_isolated_logs(tmp_path):
    driver = start(source_dir=write(tmp_path / "src", SYNC_FUNCTION), entrypoint="src/main.py",
                   workdir=tmp_path / "work")
    try:
        tokens = [f"t{i}" for i in range(12)]
        with concurrent.futures.ThreadPoolExecutor(6) as pool:
            results = list(pool.map(lambda t: driver.request(headers={"x-token": t}), tokens))
        for token, r in zip(tokens, results):
            assert r.status == 200 and r.text == f"SIBLING-RELATIVE-{token.upper()}", r.short()
            assert r.logs.count("Native logs detected.") == 1, r.short()
            assert f"native {token}\n" in r.logs and f"context {token}\n" in r.logs, r.short()
            others = [t for t in tokens if t != token and f" {t}\n" in r.logs]
            assert not others, f"logs of {token} contain {others}: {r.logs!r}"

        r = driver.request(headers={"x-token": "slow"}, timeout=1)
        assert r.status == 500 and "Execution timed out." in r.errors, r.short()
        assert "slow start" in r.logs and "slow end" not in r.logs
        time.sleep(1.5)  # the call goes on; what it writes later must not land in any log file
        assert list(Path(driver.logs_dir).iterdir()) == []
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
    """A warm trivial call must be cheap: keep-alive, no per-request process or interpreter work."""
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
