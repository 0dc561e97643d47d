"""The .NET adapter against the shared contract (emulator/contract.py), plus .NET specifics: wrapping
of Appwrite 1.0-1.3 snippets, runtime ids and the install hint. Without a .NET SDK on the machine
the contract tests skip with the install hint."""
from __future__ import annotations

import pytest

from emulator.contract import V2_CHECKS, DirectDriver, ToolchainMissing, checks_for_api, run_check
from emulator.languages import language_for_runtime
from emulator.languages.dotnet import HINT, wrap_v2

RUNTIME = "dotnet-8.0"


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
    for version in ("3.1", "6.0", "7.0", "8.0", "10"):
        assert language_for_runtime(f"dotnet-{version}").key == "dotnet"
    assert language_for_runtime("dotnet-5.0") is None
    language = language_for_runtime(RUNTIME)
    assert language.default_entrypoint == "Index.cs" and language.compiled
    toolchain = language.toolchain()
    if not toolchain.available:
        assert toolchain.hint.endswith(HINT) and "dotnet-install.sh" in toolchain.hint, toolchain


def test_wrap_v2_puts_the_snippet_in_handler():
    source = ("using System.Collections.Generic;\n\npublic async Task<RuntimeResponse> Main(RuntimeRequest req, "
              "RuntimeResponse res)\n{\n    using var x = Get();\n    return res.Send(req.Payload);\n}\n")
    wrapped = wrap_v2(source, "Index.cs")
    head, body = wrapped.split("public class Handler", 1)
    assert "using System.Collections.Generic;" in head and "namespace DotNetRuntime" in head
    assert "using System.Collections.Generic;" not in body
    assert "    using var x = Get();" in body  # indented using statements stay in the method
    assert '#line 1 "Index.cs"' in body
