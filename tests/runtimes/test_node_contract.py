"""The Node.js adapter against the shared contract (emulator/contract/), plus Node specifics:
v2 wire, npm install builds, CommonJS/ESM entrypoint loading, isolated native logs, throughput."""
from __future__ import annotations

import json

import pytest

from .contract_common import (RuntimeContract, assert_isolated_logs, assert_timeout_drops_late_output,
                              call_concurrently, native_context_json_leaks, native_context_json_lines, slow_function,
                              upper_text)

RUNTIME = "node-20.0"
contract = RuntimeContract(RUNTIME)

context_driver, legacy_driver, v2_driver = contract.driver_fixtures()
test_context, test_legacy, test_v2_wire = contract.contract_tests()


def test_runtime_ids():
    language = contract.assert_runtime_ids(
        "node", ("14.5", "16.0", "18.0", "19.0", "20.0", "21.0", "22", "23", "24", "25"), "12.0")
    toolchain = language.toolchain()
    if toolchain.available:
        assert toolchain.version.startswith("v"), toolchain


def test_npm_install_build(tmp_path):
    """Without build commands a package.json triggers `npm install`; the function's own
    node_modules resolve from the entrypoint."""
    with contract.running(tmp_path, {
        "package.json": json.dumps({"name": "fn", "version": "1.0.0", "dependencies": {"is-number": "7.0.0"}}),
        "src/main.js": """
            const isNumber = require('is-number');
            module.exports = async ({ req, res }) =>
              res.json({ five: isNumber(5), word: isNumber('word'), from: require.resolve('is-number') });
        """,
    }, "src/main.js") as driver:
        assert "$ npm install" in driver.build_log, driver.build_log
        r = driver.request(headers={})
        assert r.status == 200, r.short()
        data = r.json()
        assert data["five"] is True and data["word"] is False, data
        assert data["from"].startswith(str(driver.code_dir / "node_modules")), data


HELLO_JS = "module.exports = async ({ res }) => res.text(require('fs').readdirSync('.').sort().join(' '));"


@pytest.mark.parametrize("commands", ["", "npm install", "npm install --no-audit --no-fund --offline"])
def test_npm_install_with_nothing_declared_is_skipped(tmp_path, commands):
    """A package.json that declares no dependencies and no install scripts (the starters', the CLI
    init's) gives npm nothing to do: the build says so instead of spending half a second on it."""
    with contract.running(tmp_path, {"package.json": json.dumps({"name": "fn", "dependencies": {}}),
                                     "index.js": HELLO_JS}, "index.js", commands=commands) as driver:
        assert "nothing for npm to install, skipped" in driver.build_log, driver.build_log
        r = driver.request(headers={})
        assert r.status == 200 and "package-lock.json" not in r.text.split(), r.short()


@pytest.mark.parametrize("package,commands", [
    ({"name": "fn", "scripts": {"postinstall": "node -e \"require('fs').writeFileSync('ran', '')\""}}, "npm install"),
    ({"name": "fn"}, "npm install && node -e \"require('fs').writeFileSync('ran', '')\""),
], ids=["install-script", "more-than-npm-install"])
def test_npm_install_that_does_something_runs(tmp_path, package, commands):
    with contract.running(tmp_path, {"package.json": json.dumps(package), "index.js": HELLO_JS}, "index.js",
                          commands=commands) as driver:
        assert "skipped" not in driver.build_log, driver.build_log
        r = driver.request(headers={})
        assert r.status == 200 and "ran" in r.text.split(), r.short()


def test_no_package_json_no_install(tmp_path):
    contract.assert_default_install(tmp_path, "package.json", "npm install")


@pytest.mark.parametrize("files,entrypoint", [
    ({"index.mjs": "export default async (context) => context.res.text('esm ' + context.req.method);"},
     "index.mjs"),
    ({"package.json": '{"type": "module"}',
      "index.js": "export default async function (context) { return context.res.text('esm ' + context.req.method); }"},
     "index.js"),
    ({"index.js": "module.exports.default = async (context) => context.res.text('esm ' + context.req.method);"},
     "index.js"),
    ({"index.js": "module.exports = { main: async (context) => context.res.text('esm ' + context.req.method) };"},
     "index.js"),
], ids=["mjs", "type-module", "cjs-default", "cjs-main"])
def test_module_formats(tmp_path, files, entrypoint):
    with contract.running(tmp_path, files, entrypoint) as driver:
        r = driver.request("PUT", headers={})
        assert r.status == 200 and r.text == "esm PUT", r.short()


test_entrypoint_guards = contract.entrypoint_guards_test([
    ({"index.js": "module.exports = async (context) => context.res.text('x');"}, "missing.js",
     "Failed to load entrypoint, file missing.js does not exist."),
    ({"index.js": "module.exports = async (context => {\n"}, "index.js", "Syntax error in index.js"),
    ({"index.js": "module.exports = { handler: 1 };"}, "index.js",
     "Function signature invalid. Did you forget to export a 'main' function?"),
    ({"index.js": "require('not-a-real-module-xyz');"}, "index.js", "Failed to load module: "),
], ids=["missing", "syntax", "no-export", "require-error"])


ISOLATION_FUNCTION = slow_function({
    "index.js": """
        const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

        module.exports = async (context) => {
          const token = context.req.headers['x-token'] || '';
          if (token === 'slow') {
            context.log('slow start');
            await sleep(SLOW_SECONDS * 1000);
            console.log('late native output');
            context.log('slow end');
            require('fs').writeFileSync(context.req.headers['x-marker'], '');  // the test's signal: the end
            return context.res.text('late');
          }
          console.log('native', token);
          await sleep(20);
          console.error({ token });
          context.log('context', token);
          return context.res.text(token.toUpperCase());
        };
    """,
})


def test_isolated_native_logs_and_timeout(tmp_path):
    with contract.running(tmp_path, ISOLATION_FUNCTION, "index.js") as driver:
        tokens = [f"t{i}" for i in range(12)]
        assert_isolated_logs(tokens, call_concurrently(driver, tokens, 6), response=upper_text,
                             lines=native_context_json_lines, leaks=native_context_json_leaks)
        assert_timeout_drops_late_output(driver, tmp_path / "slow.done", function_stopped=False,
                                         late_output_hidden=True)


test_development_mode_and_empty_secret = contract.development_mode_test(custom_log_id=True)
test_throughput = contract.throughput_test(
    "Warm trivial calls, one after another, share one keep-alive connection (speed: make bench).")
