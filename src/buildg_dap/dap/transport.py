"""The two transports a DAP client uses: the process's stdin/stdout, and TCP; each
gives a :class:`MessageReader` and :class:`MessageWriter` (``wire``) over its bytes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import anyio
from anyio.abc import (
    Listener,
    SocketAttribute,
    SocketListener,
    SocketStream,
)
from anyio.streams.stapled import MultiListener

from buildg_dap.dap.wire import (
    DEFAULT_MAX_BODY,
    Handler,
    MessageReader,
    MessageWriter,
    Trace,
    wrap_stream,
)
from buildg_dap.stdio import stdio_streams

__all__ = ["serve_tcp", "stdio_transport", "tcp_listener"]


@asynccontextmanager
async def stdio_transport(
    *, max_body: int = DEFAULT_MAX_BODY, trace: Trace | None = None
) -> AsyncIterator[tuple[MessageReader, MessageWriter]]:
    """Messages over the process's stdin and stdout (see :func:`buildg_dap.stdio.stdio_streams`)."""
    async with stdio_streams() as (receive, send):
        yield (
            MessageReader(receive, max_body=max_body, trace=trace),
            MessageWriter(send, trace=trace),
        )


# TCP ---------------------------------------------------------------------------------


@asynccontextmanager
async def tcp_listener(
    host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[tuple[MultiListener[SocketStream], int]]:
    """A listener on host:port and the port it is bound to (port 0: one the system
    picks). :func:`wrap_stream` turns each accepted connection into messages."""
    listener = await anyio.create_tcp_listener(local_host=host, local_port=port)
    async with listener:
        yield listener, listener.extra(SocketAttribute.local_port)


async def serve_tcp(
    host: str,
    port: int,
    handle: Handler,
    *,
    ready: Callable[[int], None] | None = None,
    once: bool = False,
    max_body: int = DEFAULT_MAX_BODY,
    trace: Trace | None = None,
) -> None:
    """Listens on host:port and runs ``handle`` with each connection's reader and
    writer, concurrently; the connection is closed when ``handle`` returns.

    ``ready`` gets the bound port once connections are accepted. With ``once``, the
    listener closes after the first connection and this returns when its ``handle``
    does. An exception from a ``handle`` ends the server.
    """

    async def run(stream: SocketStream) -> None:
        async with stream:
            await handle(*wrap_stream(stream, max_body=max_body, trace=trace))

    async with tcp_listener(host, port) as (listener, bound):
        if ready is not None:
            ready(bound)
        if not once:
            await listener.serve(run)
            return
        stream = await _accept_one(listener)
    await run(stream)


async def _accept_one(listener: MultiListener[SocketStream]) -> SocketStream:
    """The first connection on any of the listener's sockets (one per address family
    when host names several)."""
    accepted: list[SocketStream] = []
    async with anyio.create_task_group() as group:

        async def accept(sub: Listener[SocketStream]) -> None:
            assert isinstance(sub, SocketListener)
            stream = await sub.accept()
            if accepted:
                # Another socket won the race in the same loop iteration.
                await stream.aclose()
                return
            accepted.append(stream)
            group.cancel_scope.cancel()

        for sub in listener.listeners:
            group.start_soon(accept, sub)
    return accepted[0]
