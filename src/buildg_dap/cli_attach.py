"""``buildg-dap attach SOCKET``: the command an editor runs in its terminal for an
interactive ``exec`` (DAP ``runInTerminal``). It connects the terminal to the
container's TTY through the adapter: keys and window sizes out, output back, and exits
with the process's exit code."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from typing import TYPE_CHECKING

# What the link needs is imported when it runs, so that --help is quick.
if TYPE_CHECKING:
    from anyio.abc import SocketStream

    from buildg_dap.repl.terminal import Input


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "attach", help="connect this terminal to an exec started from an editor"
    )
    parser.add_argument("socket", help="the socket the debug adapter named")
    parser.set_defaults(run=run)


async def _send_keys(stream: SocketStream, stdin: Input) -> None:
    from buildg_dap.dap.ttylink import INPUT, INPUT_END, frame

    async for chunk in stdin.chunks():
        await stream.send(frame(INPUT, chunk))
    await stream.send(frame(INPUT_END))


async def _send_sizes(stream: SocketStream) -> None:
    import anyio

    from buildg_dap.dap.ttylink import RESIZE, frame, resize_payload
    from buildg_dap.repl.terminal import window_size

    async def send_size() -> None:
        size = window_size()
        if size is not None:
            await stream.send(frame(RESIZE, resize_payload(size.rows, size.cols)))

    # Listening first: a resize right after the first size is not missed.
    with anyio.open_signal_receiver(signal.SIGWINCH) as signals:
        await send_size()
        async for _ in signals:
            await send_size()


async def attach(path: str) -> int:
    import anyio

    from buildg_dap.dap.ttylink import ERROR, EXIT, OUTPUT, FrameReader
    from buildg_dap.repl.terminal import Input

    stdin = Input(0)
    async with await anyio.connect_unix(path) as stream:
        code = 1
        async with anyio.create_task_group() as tg:
            tg.start_soon(_send_keys, stream, stdin)
            tg.start_soon(_send_sizes, stream)
            async for kind, payload in FrameReader(stream):
                if kind == OUTPUT:
                    # A buffered write goes out whole: os.write may write part of it
                    # (a window resize signal during a large write).
                    sys.stdout.buffer.write(payload)
                    sys.stdout.buffer.flush()
                elif kind == EXIT:
                    code = int.from_bytes(payload, "big", signed=True)
                    break
                elif kind == ERROR:
                    sys.stderr.write(f"\r\nerror: {payload.decode('utf-8', 'replace')}\r\n")
                    break
            tg.cancel_scope.cancel()
    return code


def run(ns: argparse.Namespace) -> int:
    import anyio

    from buildg_dap.repl.terminal import raw_mode

    if os.isatty(0):
        with raw_mode(0):
            return anyio.run(attach, ns.socket)
    return anyio.run(attach, ns.socket)
