"""The Dart adapter against the shared contract (emulator/contract.py), plus Dart specifics: which
handler the build picks, runtime ids and the install hint. Without a Dart SDK on the machine the
contract tests skip with the install hint."""
from __future__ import annotations

import pytest

from emulator.contract import V2_CHECKS, DirectDriver, ToolchainMissing, checks_for_api, run_check
from emulator.languages import language_for_runtime
from emulator.languages.dart import HINT, handler_kind

RUNTIME = "dart-3.5"


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


def test_runtime_ids_and_hint():
    for version in ("2.15", "2.16", "2.17", "2.18", "2.19", "3.0", "3.1", "3.3", "3.5", "3.8", "3.9", "3.10", "3.11"):
        assert language_for_runtime(f"dart-{version}").key == "dart"
    assert language_for_runtime("dart-2.14") is None
    language = language_for_runtime(RUNTIME)
    assert language.default_entrypoint == "lib/main.dart" and language.compiled
    toolchain = language.toolchain()
    if not toolchain.available:
        assert toolchain.hint.endswith(HINT) and "apt-get install -y dart" in toolchain.hint, toolchain


@pytest.mark.parametrize("source,kind", [
    ("Future<dynamic> main(final context) async {\n  return context.res.empty();\n}\n", "context"),
    ("import 'dart:async';\n\nFuture<void> start(final req, final res) async {\n  res.json({'a': 1});\n}\n", "legacy"),
    ("void start(Request req, Response res) {}\n", "legacy"),
    ("Future<dynamic> handler(final context) async => null;\n// main(context)\n", None),
])
def test_handler_kind(source, kind):
    assert handler_kind(source) == kind
