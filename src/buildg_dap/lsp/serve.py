"""Runs the server over the process's stdin and stdout.

pygls reads messages through an object with ``readline``/``readexactly`` and writes
through one with ``write``; both are given here over our cancellable stdio streams.
Writes go through a queue that one task drains in order, since pygls fires writes
without waiting for them and two large messages must not interleave on the pipe.
"""

from __future__ import annotations

import logging
import math
import threading

import anyio
from anyio.abc import ByteSendStream
from anyio.streams.buffered import BufferedByteReceiveStream
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from pygls.io_ import run_async

from buildg_dap.command import BuilderOptions
from buildg_dap.lsp.frontend import FrontendHost
from buildg_dap.lsp.server import DockerfileServer
from buildg_dap.stdio import stdio_streams

log = logging.getLogger(__name__)
_MAX_HEADER_LINE = 8192


class _Reader:
    def __init__(self, stream: BufferedByteReceiveStream) -> None:
        self._stream = stream

    async def readline(self) -> bytes:
        try:
            return await self._stream.receive_until(b"\n", _MAX_HEADER_LINE) + b"\n"
        except (anyio.EndOfStream, anyio.IncompleteRead):
            return b""  # pygls ends its loop on an empty read

    async def readexactly(self, n: int) -> bytes:
        try:
            return await self._stream.receive_exactly(n)
        except (anyio.EndOfStream, anyio.IncompleteRead):
            return b""


class _QueueWriter:
    def __init__(self, queue: MemoryObjectSendStream[bytes]) -> None:
        self._queue = queue

    def write(self, data: bytes) -> None:
        self._queue.send_nowait(data)

    def close(self) -> None:
        self._queue.close()


async def _drain(queue: MemoryObjectReceiveStream[bytes], out: ByteSendStream) -> None:
    async with queue:
        async for data in queue:
            await out.send(data)


async def serve_stdio(builder: BuilderOptions) -> int:
    """Serve one client until it exits or closes stdin; returns the exit code LSP asks
    for (0 after ``shutdown``, 1 for an ``exit`` without one)."""
    code = 0
    async with stdio_streams() as (receive, send), anyio.create_task_group() as io:
        queue, pending = anyio.create_memory_object_stream[bytes](math.inf)
        io.start_soon(_drain, pending, send)
        with queue:
            async with anyio.create_task_group() as group:
                server = DockerfileServer(FrontendHost(builder, group), group)
                server.lsp.protocol.set_writer(_QueueWriter(queue))
                try:
                    await run_async(
                        stop_event=threading.Event(),
                        reader=_Reader(BufferedByteReceiveStream(receive)),
                        protocol=server.lsp.protocol,
                        logger=log,
                    )
                except SystemExit as exc:  # pygls ends the process on "exit"
                    code = exc.code if isinstance(exc.code, int) else 1
                group.cancel_scope.cancel()
    return code
