"""Warm instances nobody calls are stopped after `--idle-timeout` seconds (issue: memory grew with
every function ever run), and the next call starts one again. Checked by the runtime processes
themselves, not by what the API says."""
from __future__ import annotations

from support import JsonApi, runtimes_of, wait_for

CODE = {"main.py": "import os\n\ndef main(context):\n    return context.res.text(str(os.getpid()))\n"}


def run(api: JsonApi, function_id: str) -> int:
    doc = api.ok("POST", f"/functions/{function_id}/executions", {})
    assert doc["status"] == "completed", doc
    return int(doc["responseBody"])


def test_idle_instances_are_stopped_and_restarted_on_demand(server_factory, tmp_path):
    reaping = server_factory("--idle-timeout", "1", data_dir=tmp_path / "reaping")
    keeping = server_factory("--idle-timeout", "0", data_dir=tmp_path / "keeping")
    apis = {srv: JsonApi(srv.endpoint, "idle") for srv in (reaping, keeping)}
    for api in apis.values():
        api.deploy("fn", CODE)
    first = {srv: run(api, "fn") for srv, api in apis.items()}
    for srv, pid in first.items():
        assert pid in runtimes_of(srv.data_dir)

    # The runtime of the reaping server goes by itself; the other one's stays (0 = never).
    wait_for(lambda: not runtimes_of(reaping.data_dir), timeout=60, message="idle runtime stopped")
    assert first[keeping] in runtimes_of(keeping.data_dir)

    # The next call starts a fresh runtime, and gets its answer as usual.
    second = run(apis[reaping], "fn")
    assert second != first[reaping] and second in runtimes_of(reaping.data_dir)
    assert run(apis[keeping], "fn") == first[keeping]


def test_a_busy_instance_is_not_stopped(server_factory, tmp_path):
    srv = server_factory("--idle-timeout", "1")
    api = JsonApi(srv.endpoint, "busy")
    # Longer than the idle timeout and than a reaper interval: reaping must skip a busy instance.
    api.deploy("slow", {"main.py": "import os, time\n\ndef main(context):\n    time.sleep(3)\n"
                                   "    return context.res.text(str(os.getpid()))\n"}, timeout=30)
    run(api, "slow")  # completed: the instance was not stopped under it
    logs = srv.logs()
    assert "Traceback" not in logs, logs[-2000:]
