"""The Dart adapter against the shared contract (emulator/contract/), plus Dart specifics: which
handler the build picks, runtime ids and the install hint. Without a Dart SDK on the machine the
contract tests skip with the install hint."""
from __future__ import annotations

import pytest

from emulator.languages.dart import HINT, handler_kind

from .contract_common import RuntimeContract

RUNTIME = "dart-3.5"
contract = RuntimeContract(RUNTIME)

context_driver, legacy_driver, v2_driver = contract.driver_fixtures()
test_context, test_legacy, test_v2_wire = contract.contract_tests()


def test_runtime_ids_and_hint():
    versions = ("2.15", "2.16", "2.17", "2.18", "2.19", "3.0", "3.1", "3.3", "3.5", "3.8", "3.9", "3.10", "3.11")
    language = contract.assert_runtime_ids("dart", versions, "2.14")
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
