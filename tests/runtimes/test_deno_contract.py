"""The Deno adapter against the shared contract (emulator/contract/), plus Deno specifics:
v2 wire, `deno cache` builds into a DENO_DIR inside the build dir, entrypoint loading, isolated
native logs, throughput. Skipped with the install hint when deno is not installed."""
from __future__ import annotations

import pytest

from emulator.hostbuild import build_on_host
from emulator.languages.base import BuildError

from .contract_common import (RuntimeContract, assert_entrypoint_guard, assert_isolated_logs,
                              assert_timeout_drops_late_output, call_concurrently, native_context_json_leaks,
                              native_context_json_lines, slow_function, upper_text, write)

RUNTIME = "deno-2.0"
contract = RuntimeContract(RUNTIME)

context_driver, legacy_driver, v2_driver = contract.driver_fixtures()
test_context, test_legacy, test_v2_wire = contract.contract_tests()


def test_runtime_ids():
    language = contract.assert_runtime_ids("deno", ("1.21", "1.24", "1.35", "1.40", "1.46", "2.0", "2.5", "2.6"), "0.9")
    assert language.default_entrypoint == "mod.ts"
    toolchain = language.toolchain()
    if toolchain.available:
        assert toolchain.version.startswith("deno "), toolchain
    else:
        assert "npm install -g deno" in toolchain.hint


def test_npm_dependency_cached_at_build(tmp_path):
    """`deno cache` fetches imports at build time into DENO_DIR inside the build dir; the server
    reuses that cache."""
    with contract.running(tmp_path, {
        "src/main.ts": """
            import isNumber from "npm:is-number@7.0.0";

            export default (context: any) => context.res.json({ five: isNumber(5), word: isNumber("word") });
        """,
    }, "src/main.ts") as driver:
        assert "$ deno cache src/main.ts" in driver.build_log, driver.build_log
        assert any((driver.code_dir / ".deno" / "npm").rglob("package.json")), "npm package not cached in build dir"
        r = driver.request(headers={})
        assert r.status == 200 and r.json() == {"five": True, "word": False}, r.short()


def test_build_fails_on_syntax_error(tmp_path):
    contract.require_toolchain()
    write(tmp_path, {"mod.ts": "export default async (context => {\n"})
    chunks: list[str] = []
    with pytest.raises(BuildError):
        build_on_host(contract.language, tmp_path, "mod.ts", "", {}, chunks.append)
    assert "mod.ts" in "".join(chunks)


@pytest.mark.parametrize("source", [
    "export default async function (context: any) { return context.res.text('ok ' + context.req.method); }",
    "export async function main(context: any) { return context.res.text('ok ' + context.req.method); }",
    "const handler = (context: any) => context.res.text('ok ' + context.req.method);\nexport default handler;",
], ids=["default-function", "named-main", "default-arrow"])
def test_module_formats(tmp_path, source):
    with contract.running(tmp_path, {"mod.ts": source}, "mod.ts") as driver:
        r = driver.request("PUT", headers={})
        assert r.status == 200 and r.text == "ok PUT", r.short()


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
    with contract.running(tmp_path, files, entrypoint) as driver:
        if replace is not None:
            (driver.code_dir / entrypoint).write_text(replace)  # the entrypoint loads on the first call
        assert_entrypoint_guard(driver.request(headers={}), message)


ISOLATION_FUNCTION = slow_function({
    "mod.ts": """
        const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

        export default async (context: any) => {
          const token = context.req.headers["x-token"] || "";
          if (token === "slow") {
            context.log("slow start");
            await sleep(SLOW_SECONDS * 1000);
            console.log("late native output");
            context.log("slow end");
            Deno.writeTextFileSync(context.req.headers["x-marker"], "");  // the test's signal: the end
            return context.res.text("late");
          }
          console.log("native", token);
          await sleep(20);
          console.error({ token });
          context.log("context", token);
          return context.res.text(token.toUpperCase());
        };
    """,
})


def test_isolated_native_logs_and_timeout(tmp_path):
    with contract.running(tmp_path, ISOLATION_FUNCTION, "mod.ts") as driver:
        tokens = [f"t{i}" for i in range(12)]
        assert_isolated_logs(tokens, call_concurrently(driver, tokens, 6), response=upper_text,
                             lines=native_context_json_lines, leaks=native_context_json_leaks)
        assert_timeout_drops_late_output(driver, tmp_path / "slow.done", function_stopped=False,
                                         late_output_hidden=True)


test_development_mode_and_empty_secret = contract.development_mode_test(custom_log_id=True)
test_throughput = contract.throughput_test(
    "Warm trivial calls, one after another, share one keep-alive connection (speed: make bench).")
