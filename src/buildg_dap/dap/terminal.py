"""Interactive ``exec`` in the editor's terminal: the adapter asks the client to run our
``attach`` command there (the ``runInTerminal`` reverse request), that command connects
back over a private Unix socket, and the socket carries the container's TTY."""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import suppress
from pathlib import Path

import anyio
import anyio.to_thread
from anyio.abc import ObjectSendStream, SocketStream

from buildg_dap.asyncutil import single_errors
from buildg_dap.dap.channel import Channel
from buildg_dap.dap.ttylink import (
    ERROR,
    EXIT,
    INPUT,
    INPUT_END,
    OUTPUT,
    RESIZE,
    FrameReader,
    frame,
    parse_resize,
)
from buildg_dap.debugger.engine import Engine
from buildg_dap.debugger.errors import EngineError
from buildg_dap.debugger.execution import DEFAULT_SHELL, ExecRequest, run_exec
from buildg_dap.debugger.process import Control, ExecFailed, ProcessIO, Resize

# How long the terminal has to connect back after the client ran the command.
CONNECT_WAIT = 30.0
Spawn = Callable[..., None]


class TerminalLauncher:
    def __init__(self, channel: Channel, engine: Callable[[], Engine], spawn: Spawn) -> None:
        self._channel = channel
        self._engine = engine
        self._spawn = spawn

    async def open(self, request: ExecRequest) -> str:
        """Start the shell in the client's terminal; returns what the console shows.
        The shell runs on in the background until it exits."""
        request.args = request.args or list(DEFAULT_SHELL)
        folder = Path(
            await anyio.to_thread.run_sync(lambda: tempfile.mkdtemp(prefix="buildg-dap-tty-"))
        )
        try:
            socket_path = folder / "tty.sock"
            listener = await anyio.create_unix_listener(socket_path)
        except BaseException:
            await _remove(folder)
            raise
        try:
            await self._channel.request(
                "runInTerminal",
                {
                    "kind": "integrated",
                    "title": f"exec {' '.join(request.args)}",
                    "cwd": str(Path.cwd()),
                    "args": [sys.executable, "-m", "buildg_dap", "attach", str(socket_path)],
                },
            )
            with anyio.fail_after(CONNECT_WAIT):
                stream = await listener.accept()
        except TimeoutError:
            raise EngineError("the editor's terminal did not connect back in time") from None
        finally:
            await listener.aclose()
            await _remove(folder)
        self._spawn(self._serve, stream, request)
        return f"interactive {' '.join(request.args)} opened in the terminal"

    async def _serve(self, stream: SocketStream, request: ExecRequest) -> None:
        async with stream:
            send, receive = anyio.create_memory_object_stream[Control](16)
            chunks_send, chunks = anyio.create_memory_object_stream[bytes](64)
            try:
                with single_errors():
                    async with anyio.create_task_group() as tg:
                        tg.start_soon(_pump_keys, FrameReader(stream), chunks_send, send)

                        async def write(data: bytes) -> None:
                            await stream.send(frame(OUTPUT, data))

                        io = ProcessIO(
                            stdout=write, stderr=write, stdin=_iterate(chunks), tty=True,
                            control=receive,
                        )  # fmt: skip
                        code = await run_exec(self._engine(), request, io)
                        await stream.send(frame(EXIT, code.to_bytes(4, "big", signed=True)))
                        tg.cancel_scope.cancel()
            except (ExecFailed, EngineError) as error:
                with suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
                    await stream.send(frame(ERROR, str(error).encode()))
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                pass  # the terminal was closed: the exec was cancelled with it


async def _remove(folder: Path) -> None:
    # Shielded: the folder goes also when the exec was cancelled while opening.
    with anyio.CancelScope(shield=True):
        await anyio.to_thread.run_sync(lambda: shutil.rmtree(folder, ignore_errors=True))


async def _iterate(chunks: anyio.abc.ObjectReceiveStream[bytes]) -> AsyncIterator[bytes]:
    async with chunks:
        async for chunk in chunks:
            yield chunk


async def _pump_keys(
    reader: FrameReader, chunks: ObjectSendStream[bytes], control: ObjectSendStream[Control]
) -> None:
    async with chunks, control:
        async for kind, payload in reader:
            if kind == INPUT:
                await chunks.send(payload)
            elif kind == RESIZE:
                await control.send(Resize(*parse_resize(payload)))
            elif kind == INPUT_END:
                return
