"""Connections gRPC cannot dial itself, made reachable through a private Unix socket.

A helper's standard input and output (``docker exec -i … buildctl dial-stdio``, ``kubectl
exec -i``, ``ssh``) or a Docker Engine socket after its HTTP upgrade are byte streams that
grpcio has no way to use: its C core dials only addresses it resolves itself and cannot
take a file descriptor or a Python stream. So each connection is relayed: the channel
dials a Unix socket in a private directory, and for every connection accepted there an
anyio task opens a new link (a helper process, an upgraded socket) and pumps bytes both
ways until either side ends. The relay owns the socket, the tasks and every helper
process, and releases them when it closes.

A helper that fails is recorded with its exit status and the end of its stderr before
gRPC sees the connection drop, so the error the user gets can say what went wrong.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from pathlib import Path

import anyio
from anyio.abc import ByteReceiveStream, ByteSendStream, ByteStream, Process, SocketStream

_CHUNK = 64 * 1024
_HELPER_EXIT_GRACE = 3.0  # for a helper to exit once its stdin is closed
_STDERR_KEPT = 4000
_SWEEP_AGE = 60.0  # seconds


class LinkFailed(Exception):
    """A link could not be opened; the message says why (shown to the user)."""


class Link:
    """One relayed connection's far end: bytes to send and receive, and its cleanup."""

    def __init__(self, receive: ByteReceiveStream, send: ByteSendStream) -> None:
        self.receive = receive
        self.send = send

    async def run(self) -> None:
        """Whatever the link does beside carrying bytes, while it is open."""

    async def finish(self) -> str:
        """Release the link; returns why it failed, or "" when it did not."""
        return ""


Dial = Callable[[], Awaitable[Link]]


class HelperLink(Link):
    """A helper process; its stdio carries the connection."""

    def __init__(self, process: Process, argv: list[str]) -> None:
        assert process.stdin is not None and process.stdout is not None
        super().__init__(process.stdout, process.stdin)
        self.process = process
        self.argv = argv
        self.stderr = bytearray()
        self.stderr_done = anyio.Event()

    async def run(self) -> None:
        """Keep the end of the helper's stderr (read all along, so it never blocks)."""
        try:
            assert self.process.stderr is not None
            async for chunk in self.process.stderr:
                self.stderr += chunk
                del self.stderr[:-_STDERR_KEPT]
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            pass
        finally:
            self.stderr_done.set()

    async def finish(self) -> str:
        process = self.process
        with anyio.CancelScope(shield=True):
            with suppress(anyio.ClosedResourceError, anyio.BrokenResourceError, OSError):
                await self.send.aclose()
            with anyio.move_on_after(_HELPER_EXIT_GRACE):
                await process.wait()
            if process.returncode is None:
                process.kill()
                await process.wait()
                return ""  # stopped by us: not a failure
            with anyio.move_on_after(_HELPER_EXIT_GRACE):
                await self.stderr_done.wait()
            await process.aclose()
        if process.returncode == 0:
            return ""
        text = self.stderr.decode(errors="replace").strip()
        name = Path(self.argv[0]).name
        detail = f": {text}" if text else " (it wrote nothing to stderr)"
        return f"{name} exited with status {process.returncode}{detail}"


def helper_dial(argv: list[str]) -> Dial:
    """Each link is a new ``argv`` process."""

    async def dial() -> Link:
        resolved = shutil.which(argv[0])
        if resolved is None:
            raise LinkFailed(f"{argv[0]} not found on PATH")
        process = await anyio.open_process(
            [resolved, *argv[1:]],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # a terminal's ^C goes to us, not to the helper
        )
        return HelperLink(process, argv)

    return dial


async def _pump(source: ByteReceiveStream, sink: ByteSendStream, close: bool) -> None:
    with suppress(anyio.EndOfStream, anyio.ClosedResourceError, anyio.BrokenResourceError,
                  OSError):  # fmt: skip
        async for chunk in source:
            await sink.send(chunk)
    if close:
        with suppress(anyio.ClosedResourceError, anyio.BrokenResourceError, OSError):
            if isinstance(sink, SocketStream):
                await sink.send_eof()
            else:
                await sink.aclose()


class Relay:
    """A Unix socket whose every connection is relayed to a new link from ``dial``."""

    def __init__(self, dial: Dial, socket: Path) -> None:
        self._dial = dial
        self.socket = socket
        self.failures: list[str] = []

    @property
    def target(self) -> str:
        return f"unix://{self.socket}"

    def failure(self) -> str:
        return self.failures[-1] if self.failures else ""

    async def _handle(self, client: ByteStream) -> None:
        # Never raises: an error here would cancel the owner's whole task group.
        async with client:
            try:
                link = await self._dial()
            except LinkFailed as exc:
                self.failures.append(str(exc))
                return
            except OSError as exc:
                self.failures.append(f"{exc.strerror or exc}")
                return
            async with anyio.create_task_group() as beside:
                beside.start_soon(link.run)
                try:
                    async with anyio.create_task_group() as tg:
                        tg.start_soon(_pump, client, link.send, True)
                        # The far end is done: record why before the client sees it close.
                        await _pump(link.receive, client, False)
                        tg.cancel_scope.cancel()
                finally:
                    why = await link.finish()
                    beside.cancel_scope.cancel()
                    if why:
                        self.failures.append(why)


def _sweep_stale() -> None:
    """Remove relay dirs of ours that nobody serves any more (their owner was killed
    before it could clean up)."""
    for directory in Path("/tmp").glob("bgd-relay-*"):
        try:
            info = directory.stat()
            # Not ours, or so new that its owner may be about to listen.
            if info.st_uid != os.getuid() or time.time() - info.st_mtime < _SWEEP_AGE:
                continue
            with socket.socket(socket.AF_UNIX) as probe:
                probe.connect(str(directory / "s"))
        except (ConnectionRefusedError, FileNotFoundError):
            shutil.rmtree(directory, ignore_errors=True)
        except OSError:
            continue


def _relay_dir() -> Path:
    _sweep_stale()
    # Short: a socket path must fit in 107 bytes.
    return Path(tempfile.mkdtemp(prefix="bgd-relay-", dir="/tmp"))


@asynccontextmanager
async def open_relay(dial: Dial) -> AsyncIterator[Relay]:
    """Serve the relay for the duration of the block."""
    # The sweep probes and removes other relays' directories: not on the event loop.
    directory = await anyio.to_thread.run_sync(_relay_dir)
    try:
        relay = Relay(dial, directory / "s")
        listener = await anyio.create_unix_listener(relay.socket)
        async with AsyncExitStack() as stack:
            await stack.enter_async_context(listener)
            tg = await stack.enter_async_context(anyio.create_task_group())
            tg.start_soon(listener.serve, relay._handle)
            try:
                yield relay
            finally:
                tg.cancel_scope.cancel()
    finally:
        shutil.rmtree(directory, ignore_errors=True)
