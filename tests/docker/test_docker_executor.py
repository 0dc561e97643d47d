"""DockerExecutor against a real Docker engine and openruntimes-layout images built from our adapters.

Called directly (not through the REST API): builds, executions, timeouts, crashes, cleanup after a
killed emulator, concurrency, and the shared runtime contract (emulator/contract/) for python
and node running in containers.
"""
from __future__ import annotations

import asyncio
import io
import os
import signal
import subprocess
import sys
import tarfile
import textwrap
import time
from pathlib import Path

import pytest

from emulator.contract import V2_CHECKS, checks_for_api, run_check
from emulator.executors.base import BuildJob, ExecutionRequest, ExecutorError, RuntimeSpec
from emulator.executors.docker import LABEL, LABEL_SESSION, DockerExecutor
from emulator.languages import LANGUAGES
from emulator.languages.base import BuildError
from emulator.executors.runtime_client import RuntimeTimeout

sys.path.insert(0, str(Path(__file__).resolve().parent))
from docker_driver import DockerDriver  # noqa: E402
from docker_images import TEST_IMAGES, TEST_PREFIX, has_adapter  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
FUNCTION_ENV = {"CUSTOM_ENV_VAR": "customValue", "APPWRITE_FUNCTION_ID": "fn1"}
LANGS = ["python", "node", "php", "ruby"]

pytestmark = pytest.mark.timeout(300)


def need(setup: dict, lang: str, contract: str = "v5") -> str:
    key = lang if contract == "v5" else f"{lang}-{contract}"
    if key not in setup["images"]:
        # ensure_test_images leaves an image out only when its adapter is missing; a failed build fails.
        assert not has_adapter(lang), f"runtimes/{lang}/ has an adapter but no test image {key} was built"
        pytest.skip(f"no test image {key}: runtimes/{lang}/ has no adapter yet")
    return TEST_IMAGES[key].runtime


def entry_file(lang: str, api: str) -> str:
    """The entry file of runtimes/<lang>/tests/<api>, as the language declares it for the contract suite."""
    return LANGUAGES[lang].test_entrypoints[api]


def archive(path: Path, source_dir: Path | None = None, files: dict[str, str] | None = None) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        if source_dir is not None:
            for item in sorted(source_dir.iterdir()):
                tar.add(item, item.name)
        for name, content in (files or {}).items():
            data = textwrap.dedent(content).encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return path


async def build(executor: DockerExecutor, tmp_path: Path, key: str, lang: str, runtime: str, *,
                api: str = "context", commands: str = "", files: dict[str, str] | None = None,
                entrypoint: str | None = None, env: dict[str, str] | None = None,
                cpus: float = 1, memory: int = 512, version: str = "v5") -> tuple[RuntimeSpec, str]:
    ddir = tmp_path / key
    ddir.mkdir(parents=True, exist_ok=True)
    source_dir = None if files else ROOT / "runtimes" / lang / "tests" / api
    entrypoint = entrypoint or entry_file(lang, api)
    env = {**FUNCTION_ENV, **(env or {})}
    job = BuildJob(deployment_key=key, runtime=runtime, version=version,
                   source_archive=archive(ddir / "source.tar.gz", source_dir, files), build_dir=ddir / "build",
                   output_archive=ddir / "output.tar.gz", entrypoint=entrypoint, commands=commands, env=env,
                   timeout=300, cpus=1, memory=1024)
    chunks: list[str] = []
    await executor.build(job, chunks.append)
    spec = RuntimeSpec(deployment_key=key, runtime=runtime, version=version, entrypoint=entrypoint,
                       build_dir=job.build_dir, output_archive=job.output_archive, env=env, cpus=cpus, memory=memory)
    return spec, "".join(chunks)


def req(action: str, timeout: float = 15, body: bytes = b"", **headers) -> ExecutionRequest:
    return ExecutionRequest("POST", "/", {"x-action": action, **headers}, body, timeout)


def session_containers(client, executor: DockerExecutor) -> list:
    return client.containers.list(all=True, filters={"label": f"{LABEL_SESSION}={executor.session}"})


@pytest.fixture
async def executor(docker_setup, tmp_path):
    ex = DockerExecutor(tmp_path / "run", image_prefix=TEST_PREFIX, startup_timeout=60)
    yield ex
    await ex.close()


# -- builds -------------------------------------------------------------------------------------

@pytest.mark.parametrize("lang", LANGS)
async def test_build_and_execute(executor, docker_setup, tmp_path, lang):
    runtime = need(docker_setup, lang)
    spec, log = await build(executor, tmp_path, f"d-{lang}", lang, runtime,
                            commands='echo "installing deps"; echo built > built.txt')
    assert "installing deps" in log and "Build finished." in log, log
    with tarfile.open(spec.output_archive) as tar:
        names = {n.removeprefix("./") for n in tar.getnames()}
        marker = tar.extractfile("./.open-runtimes").read().decode()
    assert {"built.txt", entry_file(lang, "context"), ".open-runtimes"} <= names, names
    assert f"OPEN_RUNTIMES_ENTRYPOINT={entry_file(lang, 'context')}" in marker
    assert not (spec.build_dir / "code").exists(), "build scratch must be cleaned"

    r = await executor.execute(spec, req("plaintextResponse"))
    assert r.status_code == 200 and r.body == "Hello World 👋".encode(), r
    assert dict(r.headers)["content-type"] == "text/plain; charset=utf-8"
    r = await executor.execute(spec, req("envVars"))
    assert r.status_code == 200, r
    assert r.body.replace(b" ", b"") == b'{"var":"customValue","emptyVar":null}', r.body
    r = await executor.execute(spec, req("logs"))
    assert "Debug log" in r.logs and "Native log" in r.logs and "Error log" in r.errors, r


@pytest.mark.parametrize("lang", LANGS)
async def test_v2_build_and_execute(executor, docker_setup, docker_client, tmp_path, lang):
    """v2 images: /usr/code build, image CMD start.sh, JSON wire with x-internal-challenge."""
    runtime = need(docker_setup, lang, "v2")
    spec, _ = await build(executor, tmp_path, f"v2-{lang}", lang, runtime, api="legacy", version="v2")
    with tarfile.open(spec.output_archive) as tar:
        assert f"./{entry_file(lang, 'legacy')}" in tar.getnames()
    r = await executor.execute(spec, req("payload", body=b"hello v2"))
    assert r.status_code == 200 and r.body == b"hello v2", r
    r = await executor.execute(spec, req("variables"))
    assert r.status_code == 200 and b'"APPWRITE_FUNCTION_ID":"fn1"' in r.body.replace(b" ", b""), r
    r = await executor.execute(spec, req("log"))
    assert r.body == b"ok" and "legacy log" in r.logs, r
    [inst] = executor.pool.instances()
    env = dict(e.split("=", 1) for e in docker_client.containers.get(inst.handle.id).attrs["Config"]["Env"])
    assert env["INTERNAL_RUNTIME_KEY"] == inst.secret and env["INTERNAL_RUNTIME_ENTRYPOINT"] == spec.entrypoint


async def test_build_failure_keeps_output(executor, docker_setup, docker_client, tmp_path):
    runtime = need(docker_setup, "python")
    chunks: list[str] = []
    with pytest.raises(BuildError, match="exited with code 3"):
        ddir = tmp_path / "bad"
        ddir.mkdir()
        job = BuildJob("bad", runtime, "v5", archive(ddir / "s.tar.gz", files={"main.py": "x = 1\n"}),
                       ddir / "build", ddir / "out.tar.gz", "main.py", "echo step-one-ran; exit 3", {})
        await executor.build(job, chunks.append)
    log = "".join(chunks)
    assert "step-one-ran" in log and "Build command exited with code 3." in log, log
    assert not (ddir / "out.tar.gz").exists()
    assert session_containers(docker_client, executor) == [], "the build container must be removed"


async def test_build_timeout(executor, docker_setup, docker_client, tmp_path):
    runtime = need(docker_setup, "python")
    job = BuildJob("slow", runtime, "v5", archive(tmp_path / "s.tar.gz", files={"main.py": "x = 1\n"}),
                   tmp_path / "build", tmp_path / "out.tar.gz", "main.py", "echo sleeping; sleep 600", {}, timeout=3)
    with pytest.raises(BuildError, match="timed out after 3 seconds"):  # not after the 600 s sleep
        await executor.build(job, lambda text: None)
    assert session_containers(docker_client, executor) == []


async def test_python_dependencies_ship_in_the_venv(executor, docker_setup, tmp_path):
    """requirements.txt installs into the build's runtime-env, which the runtime container activates."""
    runtime = need(docker_setup, "python")
    files = {
        "requirements.txt": "./localpkg\n",
        "localpkg/setup.py": "from setuptools import setup\nsetup(name='localpkg', version='1.0', py_modules=['localmod'])\n",
        "localpkg/localmod.py": "VALUE = 'from-the-venv'\n",
        "main.py": """
            import sys
            import localmod

            def main(context):
                return context.res.json({"value": localmod.VALUE, "file": localmod.__file__, "prefix": sys.prefix})
        """,
    }
    # Offline: no index, and the venv's own setuptools instead of an isolated build env.
    spec, log = await build(executor, tmp_path, "deps", "python", runtime, files=files, entrypoint="main.py",
                            commands="pip install --no-index --no-build-isolation -r requirements.txt")
    assert "Successfully installed localpkg" in log, log
    r = await executor.execute(spec, req("any"))
    assert r.status_code == 200, (r, r.errors)
    data = __import__("json").loads(r.body)
    assert data["value"] == "from-the-venv"
    assert "/runtime-env/" in data["file"] and data["prefix"].endswith("runtime-env"), data


async def test_missing_image_pull_error_names_the_image(docker_setup, tmp_path):
    need(docker_setup, "python")
    image = f"{TEST_PREFIX}/does-not-exist:v5-0"
    ex = DockerExecutor(tmp_path / "run", image_overrides={"python-3.11": image})
    try:
        chunks: list[str] = []
        job = BuildJob("nope", "python-3.11", "v5", archive(tmp_path / "s.tar.gz", files={"main.py": "x=1\n"}),
                       tmp_path / "build", tmp_path / "out.tar.gz", "main.py", "", {})
        with pytest.raises(BuildError) as info:
            await ex.build(job, chunks.append)
        assert image in str(info.value) and "could not be pulled" in str(info.value)
        assert f"Image {image} is not available locally; pulling it." in "".join(chunks)
        spec = RuntimeSpec("nope", "python-3.11", "v5", "main.py", tmp_path / "build", tmp_path / "out.tar.gz", {})
        with pytest.raises(ExecutorError, match="could not be pulled"):
            await ex.execute(spec, req("x"))
    finally:
        await ex.close()


def test_image_names():
    ex = DockerExecutor(Path("/nonexistent"), image_overrides={"v5:node-22": "mine/node:22"})
    assert ex.image_for("node-22") == "mine/node:22"
    assert ex.image_for("python-3.11") == "openruntimes/python:v5-3.11"
    assert ex.image_for("cpp-17") == "openruntimes/cpp:v5-17"
    assert ex.image_for("python-ml-3.11") == "openruntimes/python-ml:v5-3.11"
    assert ex.image_for("node-16.0", "v2") == "openruntimes/node:v2-16.0"
    assert DockerExecutor(Path("/x"), image_prefix="reg.local/or/").image_for("php-8.3") == "reg.local/or/php:v5-8.3"


async def test_no_daemon_is_a_clear_error(tmp_path):
    import docker
    ex = DockerExecutor(tmp_path / "run", docker_client=docker.DockerClient(base_url=f"unix://{tmp_path}/none.sock", version="1.41"))
    try:
        job = BuildJob("x", "python-3.11", "v5", archive(tmp_path / "s.tar.gz", files={"main.py": "x=1\n"}),
                       tmp_path / "build", tmp_path / "out.tar.gz", "main.py", "", {})
        with pytest.raises(BuildError, match="Docker is not available"):
            await ex.build(job, lambda text: None)
        spec = RuntimeSpec("x", "python-3.11", "v5", "main.py", tmp_path / "build", tmp_path / "out.tar.gz", {})
        with pytest.raises(ExecutorError, match="--executor local"):
            await ex.execute(spec, req("x"))
    finally:
        await ex.close()


# -- runtime containers -------------------------------------------------------------------------

async def test_container_settings(executor, docker_setup, docker_client, tmp_path):
    runtime = need(docker_setup, "python")
    spec, _ = await build(executor, tmp_path, "settings", "python", runtime, cpus=0.5, memory=256)
    assert (await executor.execute(spec, req("plaintextResponse"))).status_code == 200
    [inst] = executor.pool.instances()
    c = docker_client.containers.get(inst.handle.id)
    host = c.attrs["HostConfig"]
    assert host["PortBindings"] == {"3000/tcp": [{"HostIp": "127.0.0.1", "HostPort": ""}]}
    assert c.attrs["NetworkSettings"]["Ports"]["3000/tcp"][0] == {"HostIp": "127.0.0.1", "HostPort": str(inst.port)}
    assert host["NanoCpus"] == 500_000_000 and host["Memory"] == 256 * 1024 * 1024
    assert c.labels[LABEL] == executor.instance_id and c.labels["appwrite-emulator.pid"] == str(os.getpid())
    env = dict(item.split("=", 1) for item in c.attrs["Config"]["Env"])
    assert env["OPEN_RUNTIMES_SECRET"] == inst.secret and len(inst.secret) == 32
    assert env["OPEN_RUNTIMES_ENTRYPOINT"] == "tests.py" and env["OPEN_RUNTIMES_ENV"] == "production"
    assert env["OPEN_RUNTIMES_HEADERS"] == "{}" and env["CI"] == "true"
    assert env["OPEN_RUNTIMES_CPUS"] == "0.5" and env["OPEN_RUNTIMES_MEMORY"] == "256"
    assert env["APPWRITE_FUNCTION_ID"] == "fn1" and env["CUSTOM_ENV_VAR"] == "customValue"
    mounts = {m["Destination"]: m["Source"] for m in c.attrs["Mounts"]}
    assert mounts["/mnt/logs"] == str(inst.logs_dir)
    assert c.attrs["Config"]["Cmd"][-1].endswith('helpers/start.sh "bash helpers/server.sh"')


async def test_runtime_timeout_keeps_the_container(executor, docker_setup, tmp_path):
    """`hang` is cut by the adapter's own soft timeout: a normal failed execution, same container."""
    runtime = need(docker_setup, "python")
    spec, _ = await build(executor, tmp_path, "hang", "python", runtime)
    await executor.execute(spec, req("plaintextResponse"))
    [before] = executor.pool.instances()
    # "Execution timed out." comes from the adapter (the executor's own cut would raise RuntimeTimeout)
    r = await executor.execute(spec, req("hang", timeout=1))
    assert r.status_code == 500 and "Execution timed out." in r.errors, r
    assert (await executor.execute(spec, req("plaintextResponse"))).status_code == 200
    assert executor.pool.instances() == [before]


async def test_hung_container_is_replaced(executor, docker_setup, docker_client, tmp_path):
    """A container that does not answer at all (here: frozen with `docker pause`) is killed after
    the function timeout + grace, and the next execution gets a fresh one."""
    runtime = need(docker_setup, "python")
    spec, _ = await build(executor, tmp_path, "frozen", "python", runtime)
    await executor.execute(spec, req("plaintextResponse"))
    [inst] = executor.pool.instances()
    docker_client.containers.get(inst.handle.id).pause()
    with pytest.raises(RuntimeTimeout):  # the executor's own cut: the paused container never answers
        await executor.execute(spec, req("plaintextResponse", timeout=1))
    assert inst.handle.id not in [c.id for c in session_containers(docker_client, executor)]
    r = await executor.execute(spec, req("plaintextResponse"))
    assert r.status_code == 200
    [fresh] = executor.pool.instances()
    assert fresh.handle.id != inst.handle.id


@pytest.mark.parametrize("lang", LANGS)
async def test_crash_is_reported_and_replaced(executor, docker_setup, docker_client, tmp_path, lang):
    runtime = need(docker_setup, lang)
    spec, _ = await build(executor, tmp_path, f"crash-{lang}", lang, runtime)
    await executor.execute(spec, req("plaintextResponse"))
    [inst] = executor.pool.instances()
    with pytest.raises(ExecutorError) as info:
        await executor.execute(spec, req("exit"))
    message = str(info.value)
    assert "exited with code 1 during the execution" in message, message
    assert "HTTP server successfully started!" in message, "the container's last output must be reported"
    assert executor.pool.instances() == []
    assert inst.handle.id not in [c.id for c in session_containers(docker_client, executor)]
    r = await executor.execute(spec, req("plaintextResponse"))
    assert r.status_code == 200
    assert executor.pool.instances()[0].handle.id != inst.handle.id


async def test_container_killed_between_executions(executor, docker_setup, docker_client, tmp_path):
    runtime = need(docker_setup, "node")
    spec, _ = await build(executor, tmp_path, "killed", "node", runtime)
    await executor.execute(spec, req("plaintextResponse"))
    [inst] = executor.pool.instances()
    docker_client.containers.get(inst.handle.id).kill()
    assert await asyncio.to_thread(inst.handle.exited.wait, 10), "the die event must mark the instance dead"
    r = await executor.execute(spec, req("plaintextResponse"))
    assert r.status_code == 200
    assert executor.pool.instances()[0].handle.id != inst.handle.id


async def test_startup_failure_reports_output(executor, docker_setup, tmp_path):
    runtime = need(docker_setup, "python")
    spec, _ = await build(executor, tmp_path, "nostart", "python", runtime,
                          env={"OPEN_RUNTIMES_SERVER_COMMAND": "echo boom-at-start; exit 7"})
    with pytest.raises(ExecutorError) as info:  # at the exit, not at the 60 s start-up timeout
        await executor.execute(spec, req("plaintextResponse"))
    assert "exited with code 7 before it started listening" in str(info.value), info.value
    assert "boom-at-start" in str(info.value)


# Each waits in its container until the test creates /tmp/release there; /tmp/started says it is waiting.
BARRIER_FUNCTIONS = {
    "python": ("main.py", """
        import os, time

        def main(context):
            if context.req.headers.get("x-action") == "barrier":
                open("/tmp/started", "w").close()
                deadline = time.monotonic() + 60
                while not os.path.exists("/tmp/release") and time.monotonic() < deadline:
                    time.sleep(0.02)
            return context.res.text("released" if os.path.exists("/tmp/release") else "ready")
    """),
    "node": ("index.js", """
        const fs = require('fs');
        const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

        module.exports = async (context) => {
          if (context.req.headers['x-action'] === 'barrier') {
            fs.writeFileSync('/tmp/started', '');
            const deadline = Date.now() + 60000;
            while (!fs.existsSync('/tmp/release') && Date.now() < deadline) await sleep(20);
          }
          return context.res.text(fs.existsSync('/tmp/release') ? 'released' : 'ready');
        };
    """),
}


async def test_two_deployments_execute_at_once(executor, docker_setup, docker_client, tmp_path):
    py, node = need(docker_setup, "python"), need(docker_setup, "node")
    (a, _), (b, _) = await asyncio.gather(
        build(executor, tmp_path, "para-a", "python", py, entrypoint=BARRIER_FUNCTIONS["python"][0],
              files=dict([BARRIER_FUNCTIONS["python"]])),
        build(executor, tmp_path, "para-b", "node", node, entrypoint=BARRIER_FUNCTIONS["node"][0],
              files=dict([BARRIER_FUNCTIONS["node"]])))
    await asyncio.gather(executor.execute(a, req("plaintextResponse")), executor.execute(b, req("plaintextResponse")))
    containers = [docker_client.containers.get(i.handle.id) for i in executor.pool.instances()]
    assert len(containers) == 2
    calls = [asyncio.ensure_future(executor.execute(spec, req("barrier", timeout=60))) for spec in (a, b)]
    try:
        # Both executions are inside their functions at the same time: they run concurrently.
        deadline = time.monotonic() + 60
        while not all(c.exec_run(["test", "-e", "/tmp/started"]).exit_code == 0 for c in containers):
            assert time.monotonic() < deadline and not any(call.done() for call in calls), \
                [call.result() for call in calls if call.done()]
            await asyncio.sleep(0.05)
    finally:
        for c in containers:
            c.exec_run(["touch", "/tmp/release"])
    ra, rb = await asyncio.gather(*calls)
    for r in (ra, rb):
        assert r.status_code == 200 and r.body == b"released", r
    assert len({i.handle.id for i in executor.pool.instances()}) == 2
    assert len(session_containers(docker_client, executor)) == 2
    await executor.stop_deployment("para-a")
    assert [i.spec.deployment_key for i in executor.pool.instances()] == ["para-b"]
    assert len(session_containers(docker_client, executor)) == 1


async def test_close_removes_everything(docker_setup, docker_client, tmp_path):
    runtime = need(docker_setup, "python")
    ex = DockerExecutor(tmp_path / "run", image_prefix=TEST_PREFIX)
    spec, _ = await build(ex, tmp_path, "closing", "python", runtime)
    await ex.execute(spec, req("plaintextResponse"))
    assert len(session_containers(docker_client, ex)) == 1
    await ex.close()
    assert session_containers(docker_client, ex) == []
    assert not any((tmp_path / "run").iterdir()), "instance dirs must be removed"


KILLED_EMULATOR = """
import asyncio, sys
from pathlib import Path
sys.path.insert(0, {root!r})
from emulator.executors.base import ExecutionRequest, RuntimeSpec
from emulator.executors.docker import DockerExecutor

async def main():
    ex = DockerExecutor(Path({run!r}), image_prefix={prefix!r})
    spec = RuntimeSpec("orphan", {runtime!r}, "v5", "tests.py", Path({build!r}), Path({output!r}), {{}})
    r = await ex.execute(spec, ExecutionRequest("POST", "/", {{"x-action": "plaintextResponse"}}, b"", 15))
    print("READY", r.status_code, ex.pool.instances()[0].handle.id, flush=True)
    await asyncio.sleep(3600)

asyncio.run(main())
"""


async def test_cleanup_after_killed_emulator(executor, docker_setup, docker_client, tmp_path):
    """An emulator killed with SIGKILL leaves its containers; the next start removes them."""
    runtime = need(docker_setup, "python")
    spec, _ = await build(executor, tmp_path, "orphan", "python", runtime)
    script = KILLED_EMULATOR.format(root=str(ROOT), run=str(tmp_path / "killed-run"), prefix=TEST_PREFIX,
                                    runtime=runtime, build=str(spec.build_dir), output=str(spec.output_archive))
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        line = await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), 90)
        assert line.startswith(b"READY 200"), line + proc.stdout.read1(4096) if proc.poll() is not None else line
        cid = line.split()[-1].decode()
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
        proc.stdout.close()
    assert docker_client.containers.get(cid).status == "running", "SIGKILL leaves the container behind"

    # A later emulator with another state dir still removes it: its owner process is gone.
    later = DockerExecutor(tmp_path / "other-run", image_prefix=TEST_PREFIX)
    try:
        await later.prepare()
        assert cid not in [c.id for c in docker_client.containers.list(all=True, filters={"label": LABEL})]
    finally:
        await later.close()


async def test_restart_with_same_state_dir_cleans_previous_run(docker_setup, docker_client, tmp_path):
    """Same state dir = same instance id: leftovers of the previous run go, even if its pid lives."""
    runtime = need(docker_setup, "python")
    first = DockerExecutor(tmp_path / "run", image_prefix=TEST_PREFIX)
    spec, _ = await build(first, tmp_path, "again", "python", runtime)
    await first.execute(spec, req("plaintextResponse"))
    [old] = session_containers(docker_client, first)
    second = DockerExecutor(tmp_path / "run", image_prefix=TEST_PREFIX)
    try:
        assert second.instance_id == first.instance_id
        await second.prepare()
        assert old.id not in [c.id for c in docker_client.containers.list(all=True, filters={"label": LABEL})]
        assert (await second.execute(spec, req("plaintextResponse"))).status_code == 200
    finally:
        await second.close()
        await first.close()


# -- the shared runtime contract, in containers --------------------------------------------------

CONTRACT_CASES = [(lang, api, chk) for lang in LANGS for api in ("context", "legacy") for chk in checks_for_api(api)]


@pytest.fixture(scope="module")
def contract_drivers(docker_setup, tmp_path_factory):
    drivers: dict[tuple[str, str, str], DockerDriver] = {}

    def get(lang: str, api: str, wire: str = "v5") -> DockerDriver:
        if (lang, api, wire) not in drivers:
            runtime = need(docker_setup, lang, wire)
            driver = DockerDriver(runtime, api, image_prefix=TEST_PREFIX, wire=wire,
                                  workdir=tmp_path_factory.mktemp(f"contract-{lang}-{api}-{wire}"))
            drivers[(lang, api, wire)] = driver
            driver.start()
        return drivers[(lang, api, wire)]

    yield get
    for driver in drivers.values():
        driver.stop()


@pytest.mark.parametrize("lang,api,check", CONTRACT_CASES, ids=[f"{l}-{a}-{c.name}" for l, a, c in CONTRACT_CASES])
def test_contract(contract_drivers, lang, api, check):
    result = run_check(contract_drivers(lang, api), check)
    if result.skipped:
        pytest.skip(result.detail)
    assert result.passed, result.detail


@pytest.mark.parametrize("lang,check", [(lang, chk) for lang in LANGS for chk in V2_CHECKS],
                         ids=[f"{lang}-{chk.name}" for lang in LANGS for chk in V2_CHECKS])
def test_contract_v2_wire(contract_drivers, lang, check):
    result = run_check(contract_drivers(lang, "legacy", "v2"), check)
    if result.skipped:
        pytest.skip(result.detail)
    assert result.passed, result.detail
