"""The Python adapter against the shared contract (emulator/contract/), plus Python specifics:
v2 wire, requirements.txt builds, entrypoint loading, sync handlers, throughput."""
from __future__ import annotations

from emulator.languages import language_for_runtime

from .contract_common import (RuntimeContract, assert_isolated_logs, assert_timeout_drops_late_output,
                              call_concurrently, line_end_leaks, native_context_lines, slow_function, write)

RUNTIME = "python-3.11"
contract = RuntimeContract(RUNTIME)

context_driver, legacy_driver, v2_driver = contract.driver_fixtures()
test_context, test_legacy, test_v2_wire = contract.contract_tests(emulator_level=True)


def test_runtime_ids():
    contract.assert_runtime_ids("python", ("3.8", "3.9", "3.10", "3.11", "3.12", "3.13", "3.14"), "2.7")
    for version in ("3.11", "3.12", "3.13"):
        assert language_for_runtime(f"python-ml-{version}").key == "python-ml"


def test_requirements_build(tmp_path):
    """Dependencies go into the deployment's own venv and import from there."""
    with contract.running(tmp_path, {
        "requirements.txt": "six==1.16.0\n",
        "main.py": """
            import sys
            import six

            def main(context):
                return context.res.json({"six": six.__file__, "prefix": sys.prefix})
        """,
    }, "main.py") as driver:
        assert "$ pip install -r requirements.txt" in driver.build_log
        r = driver.request(headers={})
        assert r.status == 200, r.short()
        venv = driver.code_dir / "runtime-env"
        assert r.json()["six"].startswith(str(venv)), r.json()
        assert r.json()["prefix"] == str(venv)


def test_build_without_dependencies_is_fast(tmp_path):
    contract.require_toolchain()
    write(tmp_path, {"main.py": "def main(context):\n    return context.res.text('ok')\n"})
    assert contract.host_build(tmp_path, "main.py") == [], "no install command runs without a dependency file"
    venv = tmp_path / "runtime-env"
    assert (venv / "bin" / "python").exists()
    # What makes it fast (the time itself is make bench's business): no ensurepip, no pip in the venv.
    site = next((venv / "lib").glob("python3*/site-packages"))
    assert not list(site.glob("pip*")) and not list(site.glob("setuptools*")), sorted(p.name for p in site.iterdir())


def test_empty_requirements_install_nothing(tmp_path):
    """A requirements.txt with nothing to install (as starters leave it) runs no pip, like none at all;
    one naming a requirement still does (test_requirements_build)."""
    contract.require_toolchain()
    write(tmp_path, {"main.py": "def main(context):\n    return context.res.text('ok')\n",
                     "requirements.txt": "\n# no dependencies yet\n   \n"})
    assert contract.host_build(tmp_path, "main.py") == [], "an empty requirements.txt runs no install command"


test_entrypoint_guards = contract.entrypoint_guards_test([
    ({"main.py": "def main(context):\n    return context.res.text('x')\n"}, "missing.py",
     "Failed to load entrypoint, file missing.py does not exist."),
    ({"main.py": "def main(context)\n    return 1\n"}, "main.py", "Syntax error in main.py"),
    ({"main.py": "def handler(context):\n    return 1\n"}, "main.py",
     "Function signature invalid. Did you forget to export a 'main' function?"),
    ({"main.py": "import not_a_real_module_xyz\n"}, "main.py", "Failed to load module: "),
], ids=["missing", "syntax", "no-main", "import-error"])


SYNC_FUNCTION = slow_function({
    "src/main.py": """
        import time
        import sibling
        from .helper import VALUE
        from lib.util import shout

        def main(context):
            token = context.req.headers.get("x-token", "")
            if token == "slow":
                context.log("slow start")
                time.sleep(SLOW_SECONDS)
                print("late native output")
                context.log("slow end")
                open(context.req.headers["x-marker"], "w").close()  # the test's signal: the function ended
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
})


def test_sync_handler_imports_and_isolated_logs(tmp_path):
    with contract.running(tmp_path, SYNC_FUNCTION, "src/main.py") as driver:
        tokens = [f"t{i}" for i in range(12)]
        assert_isolated_logs(tokens, call_concurrently(driver, tokens, 6),
                             response=lambda r, t: r.text == f"SIBLING-RELATIVE-{t.upper()}",
                             lines=native_context_lines, leaks=line_end_leaks)
        assert_timeout_drops_late_output(driver, tmp_path / "slow.done", function_stopped=False)


test_development_mode_and_empty_secret = contract.development_mode_test(custom_log_id=True)
test_throughput = contract.throughput_test(
    "Warm trivial calls, one after another, share one keep-alive connection (speed: make bench).")
