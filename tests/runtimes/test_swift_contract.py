"""The Swift adapter against the shared contract (emulator/contract.py), plus Swift specifics: which
handler the build picks, runtime ids and the install hint. Without a Swift toolchain on the
machine the contract tests skip with the install hint."""
from __future__ import annotations

import pytest

from emulator.contract import V2_CHECKS, DirectDriver, ToolchainMissing, checks_for_api, run_check
from emulator.languages import language_for_runtime
from emulator.languages.swift import HINT, dispatch_source

RUNTIME = "swift-5.10"


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
    for version in ("5.5", "5.8", "5.9", "5.10", "6.2"):
        assert language_for_runtime(f"swift-{version}").key == "swift"
    assert language_for_runtime("swift-4.2") is None
    language = language_for_runtime(RUNTIME)
    assert language.default_entrypoint == "Sources/index.swift" and language.compiled
    toolchain = language.toolchain()
    if not toolchain.available:
        assert toolchain.hint.endswith(HINT) and "swiftly" in toolchain.hint, toolchain


@pytest.mark.parametrize("sources,expected", [
    (["func main(context: RuntimeContext) async throws -> RuntimeOutput {\n  return context.res.empty()\n}\n"],
     ".context("),
    (["func main(req: RequestValue, res: RequestResponse) throws -> RequestResponse { res.send(\"x\") }\n"],
     ".legacy("),
    (["// func main(context: RuntimeContext)\nfunc handler(context: RuntimeContext) {}\n"], ".invalid("),
])
def test_dispatch(sources, expected):
    assert dispatch_source(sources).startswith("let userFunction: UserFunction = " + expected)


def test_dispatch_missing_entrypoint():
    source = dispatch_source([], missing_entry="Sources/nope.swift")
    assert "Failed to load entrypoint, file Sources/nope.swift does not exist." in source
