"""Processes started before the event loop ran, driven from it once it does.

`dev` starts a few processes while the server's modules are still importing (executors/early.py,
the node parser in dev/syntax.py): there is no event loop yet, so they are plain subprocess.Popen
ones. Once the loop runs, their owners adopt them here and use them like the processes they start
with asyncio.create_subprocess_exec.
"""
from __future__ import annotations

import asyncio
import os


class AdoptedProcess:
    """A subprocess.Popen as the part of asyncio.subprocess.Process the emulator uses: its pipes
    on the loop, its exit noticed through a pidfd (polled where there is none)."""

    def __init__(self, popen):
        self.popen = popen
        self.pid = popen.pid
        self.stdin: asyncio.StreamWriter | None = None
        self.stdout: asyncio.StreamReader | None = None
        self._exited: asyncio.Future | None = None

    @classmethod
    async def adopt(cls, popen) -> "AdoptedProcess":
        self = cls(popen)
        loop = asyncio.get_running_loop()
        if popen.stdout is not None:
            self.stdout = asyncio.StreamReader()
            await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(self.stdout), popen.stdout)
        if popen.stdin is not None:
            transport, protocol = await loop.connect_write_pipe(asyncio.streams.FlowControlMixin, popen.stdin)
            self.stdin = asyncio.StreamWriter(transport, protocol, None, loop)
        self._exited = loop.create_future()
        try:
            pidfd = os.pidfd_open(popen.pid)
        except (AttributeError, OSError):
            self._poll(loop)
        else:
            loop.add_reader(pidfd, self._on_pidfd, loop, pidfd)
        return self

    def kill(self) -> None:
        self.popen.kill()

    @property
    def returncode(self) -> int | None:
        return self.popen.returncode

    async def wait(self) -> int:
        await asyncio.shield(self._exited)
        return self.popen.returncode

    def _on_pidfd(self, loop, pidfd: int) -> None:
        loop.remove_reader(pidfd)
        os.close(pidfd)
        self._reaped()

    def _poll(self, loop) -> None:
        if self.popen.poll() is None:
            loop.call_later(0.05, self._poll, loop)
        else:
            self._reaped()

    def _reaped(self) -> None:
        self.popen.wait()  # it has exited: reaps it now (or finds it reaped)
        if not self._exited.done():
            self._exited.set_result(None)
