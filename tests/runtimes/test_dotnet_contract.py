"""The .NET adapter against the shared contract (emulator/contract/), plus .NET specifics: wrapping
of Appwrite 1.0-1.3 snippets, runtime ids and the install hint. Without a .NET SDK on the machine
the contract tests skip with the install hint."""
from __future__ import annotations

from emulator.languages.dotnet import HINT, wrap_v2

from .contract_common import RuntimeContract

RUNTIME = "dotnet-8.0"
contract = RuntimeContract(RUNTIME)

context_driver, legacy_driver, v2_driver = contract.driver_fixtures()
test_context, test_legacy, test_v2_wire = contract.contract_tests()


def test_runtime_ids_and_hint():
    language = contract.assert_runtime_ids("dotnet", ("3.1", "6.0", "7.0", "8.0", "10"), "5.0")
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
