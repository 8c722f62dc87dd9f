"""``exec`` in the terminal: the engine prepares and runs the process; this wires it to
the terminal (raw mode for a TTY, window sizes, Ctrl-C) and to standard input."""

from __future__ import annotations

from typing import BinaryIO

import anyio

from buildg_dap.asyncutil import single_errors
from buildg_dap.debugger.engine import Engine
from buildg_dap.debugger.execution import ExecRequest
from buildg_dap.debugger.execution import run_exec as run_in_step
from buildg_dap.debugger.process import Control, ProcessIO
from buildg_dap.repl.terminal import Input, forward_signals, raw_mode, window_size


async def run_exec(
    engine: Engine, request: ExecRequest, stdin: Input, out: BinaryIO, *, tty: bool,
    interactive: bool,
) -> int:  # fmt: skip
    async def write(data: bytes) -> None:
        out.write(data)
        out.flush()

    send, receive = anyio.create_memory_object_stream[Control](max_buffer_size=16)
    io = ProcessIO(
        stdout=write,
        stderr=write,
        stdin=stdin.chunks() if interactive else None,
        tty=tty,
        control=receive,
    )
    # An exec that cannot start raises through the task group; the shell reports it.
    with single_errors():
        async with send, receive, anyio.create_task_group() as tg:
            tg.start_soon(forward_signals, send, tty)
            if tty:
                size = window_size()
                if size is not None:
                    await send.send(size)
            if tty and stdin.is_terminal:
                with raw_mode(stdin.fd):
                    code = await run_in_step(engine, request, io)
            else:
                code = await run_in_step(engine, request, io)
            tg.cancel_scope.cancel()
    return code
