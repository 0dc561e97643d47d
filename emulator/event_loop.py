"""The event loop the server runs on: uvloop where it is installed, asyncio's own otherwise.

uvloop (libuv underneath) does the socket and timer work of every request in C; measured on the
warm execution path it takes about a tenth off the server's CPU per execution (see README,
Performance). Everything in the emulator is plain asyncio, so either loop runs it.
"""
from __future__ import annotations

import asyncio
from typing import Any, Coroutine

try:
    import uvloop
except ImportError:  # an optional speed-up (not built for every platform)
    uvloop = None


def loop_factory():
    return uvloop.new_event_loop() if uvloop is not None else asyncio.new_event_loop()


def run(main: Coroutine[Any, Any, Any]) -> Any:
    """`asyncio.run(main)` on the fastest loop available."""
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        return runner.run(main)
