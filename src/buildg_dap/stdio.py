"""The process's stdin and stdout as byte streams for a protocol server (DAP, LSP).

anyio.wait_readable/wait_writable (anyio >= 4.7) wait on a file descriptor in the
event loop, so a read of stdin can be cancelled, unlike a blocking os.read in a worker
thread. The descriptors stay blocking (O_NONBLOCK would be shared with every other
process on the same pipe or terminal): a read after readiness returns at once, and a
write of at most PIPE_BUF bytes after readiness fits the pipe. Regular files and
/dev/null cannot be waited on (epoll refuses them, PermissionError); their reads and
writes never wait for a peer, so they run in a worker thread.
"""

from __future__ import annotations

import os
import select
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import anyio.to_thread
from anyio.abc import ByteReceiveStream, ByteSendStream

READ_CHUNK = 64 * 1024  # per read; anyio.abc.ByteReceiveStream's default


class _FdReceiveStream(ByteReceiveStream):
    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._pollable = True
        self._closed = False

    async def receive(self, max_bytes: int = READ_CHUNK) -> bytes:
        if self._closed:
            raise anyio.ClosedResourceError
        while True:
            if self._pollable:
                try:
                    await anyio.wait_readable(self._fd)
                except PermissionError:
                    self._pollable = False
                    continue
                try:
                    data = os.read(self._fd, max_bytes)
                except BlockingIOError:
                    # Someone else set O_NONBLOCK and the data was taken first.
                    continue
            else:
                data = await anyio.to_thread.run_sync(os.read, self._fd, max_bytes)
            if not data:
                raise anyio.EndOfStream
            return data

    async def aclose(self) -> None:
        self._closed = True


class _FdSendStream(ByteSendStream):
    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._pollable = True
        self._closed = False

    async def send(self, item: bytes) -> None:
        if self._closed:
            raise anyio.ClosedResourceError
        view = memoryview(item)
        try:
            while view:
                if self._pollable:
                    try:
                        await anyio.wait_writable(self._fd)
                    except PermissionError:
                        self._pollable = False
                        continue
                    try:
                        written = os.write(self._fd, view[: select.PIPE_BUF])
                    except BlockingIOError:
                        continue
                else:
                    written = await anyio.to_thread.run_sync(os.write, self._fd, view)
                view = view[written:]
        except BrokenPipeError as error:
            raise anyio.BrokenResourceError("the reader of stdout is gone") from error

    async def aclose(self) -> None:
        self._closed = True


@asynccontextmanager
async def stdio_streams() -> AsyncIterator[tuple[ByteReceiveStream, ByteSendStream]]:
    """The process's stdin and stdout.

    While the context is open, descriptors 0 and 1 are moved to private descriptors and
    replaced by /dev/null and stderr, so a stray print or a child process's output or
    input cannot corrupt the message stream; they are put back on exit.
    """
    in_fd = os.dup(0)
    out_fd = os.dup(1)
    null = os.open(os.devnull, os.O_RDONLY)
    try:
        os.dup2(null, 0)
        os.dup2(2, 1)
    finally:
        os.close(null)
    # Whatever Python had buffered for stdout is not a message: now it goes to stderr.
    if sys.stdout is not None:
        sys.stdout.flush()
    receive, send = _FdReceiveStream(in_fd), _FdSendStream(out_fd)
    try:
        yield receive, send
    finally:
        await receive.aclose()
        await send.aclose()
        if sys.stdout is not None:
            sys.stdout.flush()  # still to stderr: fd 1 is put back just below
        os.dup2(in_fd, 0)
        os.dup2(out_fd, 1)
        os.close(in_fd)
        os.close(out_fd)
