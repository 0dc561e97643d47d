"""The contract suite through the emulator's REST API, for every language (both function APIs).

Each runtime's canonical test function is deployed and built by the emulator like a user's
function, then every check becomes an execution. Languages whose toolchain is missing here
skip with the exact install hint (under CI=true only dart and dotnet may; see support.py).
"""
from __future__ import annotations

import pytest

from emulator.contract import ApiDriver, run_suite
from emulator.languages import LANGUAGES
from support import require_toolchain

RUNTIMES = [f"{lang.key}-{lang.versions[-1]}" for lang in sorted(LANGUAGES.values(), key=lambda l: l.key)
            if lang.key != "python-ml"]


@pytest.mark.parametrize("api", ["context", "legacy"])
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_contract_through_api(server, runtime, api):
    language = LANGUAGES[runtime.rpartition("-")[0]]
    toolchain = language.toolchain()
    if not toolchain.available:
        require_toolchain(language.key, toolchain.hint)
    if not (language.adapter_dir / "tests" / api).is_dir():
        pytest.skip(f"runtimes/{language.key}/tests/{api} does not exist yet")
    driver = ApiDriver(server.endpoint, runtime, api).start()
    try:
        results = run_suite(driver)
    finally:
        driver.stop()
    failures = [f"{r.name}: {r.detail}" for r in results if not r.passed and not r.skipped]
    assert not failures, "\n".join(failures)
    assert sum(r.passed for r in results) >= (20 if api == "context" else 5)
