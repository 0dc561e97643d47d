"""State lives in SQLite under the data dir: a restart, even after a crash, loses nothing."""
from __future__ import annotations

import signal
import time

from appwrite.client import Client
from appwrite.input_file import InputFile
from appwrite.services.functions import Functions

from support import make_archive, runtimes_of, wait_for
from test_python_sdk import wait_build


def functions(endpoint: str) -> Functions:
    return Functions(Client().set_endpoint(endpoint).set_project("restart").set_key("k"))


def test_functions_and_executions_survive_restart(server_factory, tmp_path):
    data = tmp_path / "state"
    first = server_factory(data_dir=data)
    fx = functions(first.endpoint)
    fx.create("keep", "Keep", "python-3.11", entrypoint="main.py")
    archive = make_archive({"main.py": "def main(context):\n    return context.res.text('still here')\n"},
                           tmp_path / "code.tar.gz")
    dep = wait_build(fx, "keep", fx.create_deployment("keep", InputFile.from_path(str(archive)), activate=True).id)
    executed = fx.create_execution("keep")
    assert executed.responsebody == "still here"
    first.stop()
    assert not runtimes_of(data), "a clean shutdown stops every runtime it started"

    second = server_factory(data_dir=data)
    fx = functions(second.endpoint)
    assert fx.get("keep").deploymentid == dep.id
    assert fx.get_execution("keep", executed.id).status.value == "completed"
    assert fx.create_execution("keep").responsebody == "still here"
    assert fx.list_executions("keep").total == 2

    # A crash (SIGKILL) mid-way through an async execution leaves consistent state.
    # The function outlives the test by far, so the kill surely lands while it is processing.
    slow = make_archive({"main.py": "import time\ndef main(context):\n    time.sleep(120)\n    return context.res.text('slow')\n"},
                        tmp_path / "slow.tar.gz")
    fx.create("slow", "Slow", "python-3.11", entrypoint="main.py", timeout=300)
    wait_build(fx, "slow", fx.create_deployment("slow", InputFile.from_path(str(slow)), activate=True).id)
    running = fx.create_execution("slow", xasync=True)
    wait_for(lambda: fx.get_execution("slow", running.id).status.value == "processing", timeout=60,
             message="the async execution to be processing")
    second.stop(signal.SIGKILL)
    assert runtimes_of(data), "the killed emulator left its runtime processes behind"

    third = server_factory(data_dir=data)
    assert not runtimes_of(data), "a new emulator on the same data dir must stop the orphans"
    fx = functions(third.endpoint)
    interrupted = fx.get_execution("slow", running.id)
    assert interrupted.status.value == "failed" and "interrupted" in interrupted.errors
    assert fx.create_execution("keep").responsebody == "still here"


def test_scheduled_execution_survives_restart(server_factory, tmp_path):
    data = tmp_path / "state"
    first = server_factory("--min-schedule-delay", "1", data_dir=data)
    fx = functions(first.endpoint)
    fx.create("later", "Later", "python-3.11", entrypoint="main.py")
    archive = make_archive({"main.py": "def main(context):\n    context.log('ran at', context.req.headers['x-appwrite-trigger'])\n    return context.res.text('done')\n"},
                           tmp_path / "code.tar.gz")
    wait_build(fx, "later", fx.create_deployment("later", InputFile.from_path(str(archive)), activate=True).id)
    when = time.strftime("%Y-%m-%dT%H:%M:%S.000+00:00", time.gmtime(time.time() + 4))
    scheduled = fx.create_execution("later", xasync=True, scheduled_at=when)
    assert scheduled.status.value == "scheduled" and scheduled.scheduledat == when
    assert scheduled.trigger.value == "schedule"
    first.stop()
    second = server_factory("--min-schedule-delay", "1", data_dir=data)
    fx = functions(second.endpoint)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        current = fx.get_execution("later", scheduled.id)
        if current.status.value in ("completed", "failed"):
            break
        time.sleep(0.2)
    assert current.status.value == "completed" and current.logs == "ran at schedule\n"
