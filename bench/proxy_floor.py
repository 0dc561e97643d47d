"""The floor under the API overhead: a bare aiohttp handler that forwards to a runtime instance.

`python bench/proxy_floor.py PORT SECRET LOGS_DIR [PROCESSES|raw]` serves POST /execute on a free 127.0.0.1
port (printed as `listening on <port>`): it reads the JSON body, sends the request to the instance on
PORT with the emulator's own RuntimeClient and answers a small JSON document. No validation, no
records, no models: what any aiohttp server in front of the runtime pays for the extra hop. bench/run.py
measures it beside the direct call and the real API, so the overhead splits into this floor and
the emulator's own work. With PROCESSES > 1 that many processes (forked, one process group) accept
on the same listening socket: what several server processes would give at best. With `raw` there is
no aiohttp at all: an asyncio protocol that parses just enough HTTP/1.1 (Content-Length bodies,
keep-alive) to do the same, the best a leaner HTTP layer than aiohttp's could do.
"""
from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
from pathlib import Path

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from emulator import event_loop  # noqa: E402  (the loop the emulator serves on)
from emulator.executors.base import ExecutionRequest, Instance, RuntimeSpec  # noqa: E402
from emulator.executors.runtime_client import RuntimeClient  # noqa: E402


def forwarder(port: int, secret: str, logs_dir: Path):
    """`forward(params) -> JSON bytes`: the request sent to the instance on `port` with the emulator's
    RuntimeClient, answered with a small document. All either floor does besides HTTP."""
    client = RuntimeClient()
    spec = RuntimeSpec("floor", "python-3.11", "v5", "", Path("."), Path("."), {})
    instance = Instance(spec=spec, port=port, secret=secret, logs_dir=logs_dir)

    async def forward(params: dict) -> bytes:
        result = await client.execute(instance, ExecutionRequest(
            "POST", "/", {"content-type": "text/plain"}, params.get("body", "").encode(), 15))
        return json.dumps({"status": "completed", "responseStatusCode": result.status_code,
                           "responseBody": result.body.decode("utf-8", "replace")}).encode()
    return forward


async def main(port: int, secret: str, logs_dir: Path, listening: socket.socket) -> None:
    forward = forwarder(port, secret, logs_dir)

    async def execute(request: web.Request) -> web.Response:
        return web.Response(body=await forward(await request.json()), content_type="application/json")

    app = web.Application()
    app.router.add_post("/execute", execute)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.SockSite(runner, listening).start()
    await asyncio.Event().wait()


class RawForwarder(asyncio.Protocol):
    """One connection of the `raw` floor: requests parsed by hand, answered in order of completion."""

    def __init__(self, forward):
        self.forward, self.buffer, self.transport = forward, b"", None

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            length = 0
            for line in self.buffer[:end].split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if len(self.buffer) < end + 4 + length:
                return
            body, self.buffer = self.buffer[end + 4:end + 4 + length], self.buffer[end + 4 + length:]
            asyncio.ensure_future(self.answer(body))

    async def answer(self, body: bytes) -> None:
        out = await self.forward(json.loads(body))
        self.transport.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n"
                             % len(out) + out)


async def main_raw(port: int, secret: str, logs_dir: Path, listening: socket.socket) -> None:
    forward = forwarder(port, secret, logs_dir)
    await asyncio.get_running_loop().create_server(lambda: RawForwarder(forward), sock=listening)
    await asyncio.Event().wait()


if __name__ == "__main__":
    raw = len(sys.argv) > 4 and sys.argv[4] == "raw"
    processes = int(sys.argv[4]) if len(sys.argv) > 4 and not raw else 1
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    listening.listen(1024)
    print(f"listening on {listening.getsockname()[1]}", flush=True)
    for _ in range(processes - 1):
        if os.fork() == 0:  # a child serves too; the parent forks the rest
            break
    event_loop.run((main_raw if raw else main)(int(sys.argv[1]), sys.argv[2], Path(sys.argv[3]), listening))
