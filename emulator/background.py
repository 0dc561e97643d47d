"""Running the emulator in a background thread of the current process (contract-test, tools)."""
from __future__ import annotations

import asyncio
import threading

from .server import bound_port, start_server
from .services.state import Settings


class BackgroundServer:
    def __init__(self, settings: Settings, host: str = "127.0.0.1", port: int = 0):
        self.settings = settings
        self.host, self.port = host, port
        self.endpoint = ""
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="emulator-server", daemon=True)

    def start(self) -> "BackgroundServer":
        self._thread.start()
        self._ready.wait(60)
        if self._error:
            raise self._error
        return self

    def stop(self) -> None:
        if self._loop and self._stop:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported to start()
            self._error = exc
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        runner = await start_server(self.settings, self.host, self.port)
        self.port = bound_port(runner)
        self.endpoint = self.settings.endpoint
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await runner.cleanup()
