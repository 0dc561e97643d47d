"""The Swift adapter against the shared contract (emulator/contract/), plus Swift specifics: which
handler the build picks, runtime ids and the install hint. Without a Swift toolchain on the
machine the contract tests skip with the install hint."""
from __future__ import annotations

import pytest

from emulator.languages.swift import HINT, dispatch_source

from .contract_common import RuntimeContract

RUNTIME = "swift-5.10"
contract = RuntimeContract(RUNTIME)

context_driver, legacy_driver, v2_driver = contract.driver_fixtures()
test_context, test_legacy, test_v2_wire = contract.contract_tests()


def test_runtime_ids_and_hint():
    language = contract.assert_runtime_ids("swift", ("5.5", "5.8", "5.9", "5.10", "6.2"), "4.2")
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
