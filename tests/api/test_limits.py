"""README limits no other test proves: the cap on synchronous executions (408, Appwrite's exact error)
and `--pool-size N` warm instances per deployment, never more."""
from __future__ import annotations

import concurrent.futures

import pytest
import requests

from emulator.languages import language_for_runtime
from runtimes.log_floods import JS_FLOODS, JVM_FLOODS, NATIVE_FLOODS, PHP_FLOODS
from support import JsonApi, require_toolchain, runtimes_of, wait_for

SYNC_CAP_MESSAGE = ("Synchronous function execution timed out. Use asynchronous execution instead, "
                    "or ensure the execution duration doesn't exceed 30 seconds.")

# x-sleep: seconds to sleep. x-barrier: a directory; the call creates <dir>/<x-token> and waits
# for <dir>/release (see tests/runtimes/contract_common.py call_through_barrier). Answers its pid.
MAIN = """
import os, time

def main(context):
    headers = context.req.headers
    if "x-sleep" in headers:
        time.sleep(float(headers["x-sleep"]))
    if "x-barrier" in headers:
        barrier = headers["x-barrier"]
        open(os.path.join(barrier, headers["x-token"]), "w").close()
        deadline = time.monotonic() + 60
        while not os.path.exists(os.path.join(barrier, "release")) and time.monotonic() < deadline:
            time.sleep(0.02)
    return context.res.text(str(os.getpid()))
"""


def headers_for(project: str) -> dict[str, str]:
    return {"x-appwrite-project": project, "x-appwrite-key": "k"}


def deploy(endpoint: str, project: str, function_id: str, timeout: int = 60) -> None:
    JsonApi(endpoint, project).deploy(function_id, {"main.py": MAIN}, wait=120, timeout=timeout)


def execute(endpoint: str, project: str, function_id: str, headers: dict | None = None, **body) -> requests.Response:
    return requests.post(endpoint + f"/functions/{function_id}/executions", headers=headers_for(project),
                         json={"headers": headers or {}, **body}, timeout=120)


def test_sync_execution_is_capped_with_appwrites_408(server_factory):
    """A synchronous execution longer than the cap (Appwrite: 30 s; here --sync-timeout 1 so the test
    needn't wait 30 s) answers 408 function_synchronous_timeout even though the function's own
    timeout is longer; the record is failed. Asynchronous executions are not capped."""
    srv = server_factory("--sync-timeout", "1")
    deploy(srv.endpoint, "limits", "sleepy", timeout=60)
    assert execute(srv.endpoint, "limits", "sleepy").status_code == 201  # warm: start-up is not what is capped

    capped = execute(srv.endpoint, "limits", "sleepy", {"x-sleep": "5"})
    assert capped.status_code == 408, capped.text
    assert capped.json() == {"message": SYNC_CAP_MESSAGE, "code": 408, "type": "function_synchronous_timeout",
                             "version": capped.json()["version"]}
    assert capped.json()["version"] == requests.get(srv.endpoint + "/health/version").json()["version"]
    listed = requests.get(srv.endpoint + "/functions/sleepy/executions", headers=headers_for("limits")).json()
    failed = [e for e in listed["executions"] if e["status"] == "failed"]
    assert len(failed) == 1 and "Synchronous function execution timed out" in failed[0]["errors"], listed

    queued = execute(srv.endpoint, "limits", "sleepy", {"x-sleep": "3"}, **{"async": True})
    assert queued.status_code == 202, queued.text
    url = srv.endpoint + f"/functions/sleepy/executions/{queued.json()['$id']}"
    done = wait_for(lambda: (lambda doc: doc if doc["status"] in ("completed", "failed") else None)(
        requests.get(url, headers=headers_for("limits")).json()), timeout=60, message="the async execution")
    assert done["status"] == "completed" and done["duration"] >= 3, done


def test_default_sync_cap_is_30_seconds():
    """What `serve` uses without --sync-timeout (the test above proves the option is the cap)."""
    from emulator.cli import serve
    from emulator.services.state import Settings
    [option] = [p for p in serve.params if p.name == "sync_timeout"]
    assert option.default == 30.0 and Settings(data_dir=None).sync_timeout == 30.0


def test_pool_size_bounds_the_instances_per_deployment(server_factory, tmp_path):
    """--pool-size 2: six executions held at once inside the function are served by exactly two
    instances (two runtime processes), never a third."""
    srv = server_factory("--pool-size", "2", data_dir=tmp_path / "pooled")
    deploy(srv.endpoint, "limits", "pooled")
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    tokens = [f"t{i}" for i in range(6)]
    with concurrent.futures.ThreadPoolExecutor(len(tokens)) as pool:
        calls = [pool.submit(execute, srv.endpoint, "limits", "pooled", {"x-barrier": str(barrier), "x-token": t})
                 for t in tokens]
        try:
            wait_for(lambda: all((barrier / t).exists() for t in tokens), timeout=60,
                     message="all six executions to be running at once")
            held = runtimes_of(tmp_path / "pooled")
        finally:
            (barrier / "release").touch()
        results = [c.result() for c in calls]
    for r in results:
        assert r.status_code == 201 and r.json()["status"] == "completed", r.text
    pids = {int(r.json()["responseBody"]) for r in results}
    assert len(pids) == 2, f"six concurrent executions were served by {sorted(pids)}: --pool-size 2 means two"
    assert pids <= set(held), (pids, held)
    # Later executions reuse the same two instances.
    again = {int(execute(srv.endpoint, "limits", "pooled").json()["responseBody"]) for _ in range(4)}
    assert again <= pids, (again, pids)


def peak_rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:"))


# runtime -> (entrypoint, source): "flood" logs 100 MB, "warm" does not (tests/runtimes/log_floods.py)
LOG_FLOODS = {"python-3.11": ("main.py", "def main(context):\n"
                                         "    if context.req.body_text == 'flood':\n"
                                         "        for _ in range(12_500):\n"
                                         "            context.log('x' * 8000)\n"
                                         "    return context.res.text('done')\n"),
              **JS_FLOODS, **JVM_FLOODS, **NATIVE_FLOODS, **PHP_FLOODS}


@pytest.mark.parametrize("runtime", sorted(LOG_FLOODS))
def test_a_log_flood_is_capped_in_the_runtime(server_factory, tmp_path, runtime):
    """A call that logs 100 MB leaves the executor what it reads (5 MiB and a truncation note) and no
    more: the adapter stops keeping output past that, so neither its memory nor the log file (on
    tmpfs: memory too) grows with the flood."""
    language = language_for_runtime(runtime)
    if not language.toolchain().available:
        require_toolchain(language.key, language.toolchain().hint)
    entrypoint, source = LOG_FLOODS[runtime]
    srv = server_factory(data_dir=tmp_path / "data")
    api = JsonApi(srv.endpoint, "flood")
    api.deploy("flood", {entrypoint: source}, entrypoint=entrypoint, runtime=runtime)
    api.ok("POST", "/functions/flood/executions", {"body": "warm"}, timeout=120)
    pids = runtimes_of(srv.data_dir)  # the runtime's process; PHP's: its server and the call's worker
    before = sum(peak_rss_kb(pid) for pid in pids)
    doc = api.ok("POST", "/functions/flood/executions", {"body": "flood"}, timeout=120)
    assert doc["status"] == "completed" and doc["responseBody"].startswith("done"), doc
    assert "truncated" in doc["logs"].lower() and len(doc["logs"]) <= 1_100_000, doc["logs"][-200:]
    grown_mb = (sum(peak_rss_kb(pid) for pid in pids) - before) / 1024
    assert grown_mb < 40, f"the runtime's peak memory grew by {grown_mb:.0f} MB for 100 MB of logs"
