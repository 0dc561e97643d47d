"""emulator/adopted_process.py: a process started with subprocess.Popen before the event loop ran,
driven from the loop once it does (its pipes, its exit), on uvloop and on asyncio's own loop."""
from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

from emulator import event_loop
from emulator.adopted_process import AdoptedProcess

ECHO = "import sys\nline = sys.stdin.readline()\nsys.stdout.write(line.upper())\nsys.exit(int(line.split()[1]))\n"


@pytest.mark.parametrize("run", [asyncio.run, event_loop.run], ids=["asyncio", "default-loop"])
def test_pipes_and_exit_are_driven_from_the_loop(run):
    async def main():
        popen = subprocess.Popen([sys.executable, "-c", ECHO], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        proc = await AdoptedProcess.adopt(popen)
        assert proc.returncode is None and proc.pid == popen.pid
        proc.stdin.write(b"exit 3\n")
        await proc.stdin.drain()
        proc.stdin.close()
        out = await asyncio.wait_for(proc.stdout.read(), 30)
        code = await asyncio.wait_for(proc.wait(), 30)
        return out, code, proc.returncode

    assert run(main()) == (b"EXIT 3\n", 3, 3)


def test_a_killed_process_is_seen_to_exit():
    async def main():
        popen = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE)
        proc = await AdoptedProcess.adopt(popen)
        proc.kill()
        return await asyncio.wait_for(proc.wait(), 30)

    assert event_loop.run(main()) == -9
