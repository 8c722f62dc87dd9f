"""``buildg-dap dap``: the Debug Adapter Protocol server, on stdio or a TCP port."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

# The adapter is imported when the command runs, so that --help is quick.
if TYPE_CHECKING:
    from buildg_dap.dap.wire import MessageReader, MessageWriter


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("dap", help="serve the Debug Adapter Protocol")
    parser.add_argument(
        "--listen", default=None, metavar="[HOST:]PORT",
        help="serve one client over TCP (host 127.0.0.1 unless given) instead of stdio",
    )  # fmt: skip
    parser.add_argument("--log", type=Path, default=None, help="write a trace of the traffic")
    parser.set_defaults(run=run)


def _listen_address(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not port.isdigit() or int(port) > 65535:
        raise ValueError(f"--listen {text!r}: give PORT or HOST:PORT")
    return (host.strip("[]") if sep and host else "127.0.0.1"), int(port)


class _Trace:
    def __init__(self, out: TextIO) -> None:
        self._out = out

    def __call__(self, direction: str, message: dict[str, object]) -> None:
        self._out.write(f"{direction} {json.dumps(message, ensure_ascii=False)}\n")
        self._out.flush()


async def _serve(address: tuple[str, int] | None, log: TextIO | None) -> None:
    from buildg_dap.dap.adapter import Adapter
    from buildg_dap.dap.transport import serve_tcp, stdio_transport

    trace = _Trace(log) if log is not None else None
    cwd = Path.cwd()

    async def handle(reader: MessageReader, writer: MessageWriter) -> None:
        await Adapter(reader, writer, cwd=cwd).run()

    if address is None:
        async with stdio_transport(trace=trace) as (reader, writer):
            await handle(reader, writer)
        return
    host, port = address

    def ready(bound: int) -> None:
        print(f"listening on {host}:{bound}", file=sys.stderr, flush=True)

    await serve_tcp(host, port, handle, ready=ready, once=True, trace=trace)


def run(ns: argparse.Namespace) -> int:
    address = None
    if ns.listen is not None:
        try:
            address = _listen_address(ns.listen)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    log = open(ns.log, "a", encoding="utf-8") if ns.log else None  # noqa: SIM115
    logging.basicConfig(
        stream=log or sys.stderr, level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )  # fmt: skip
    import anyio

    try:
        anyio.run(_serve, address, log)
    except KeyboardInterrupt:
        return 130
    finally:
        if log is not None:
            log.close()
    return 0
