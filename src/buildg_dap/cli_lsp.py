"""``buildg-dap lsp``: the Dockerfile language server, on stdio."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from buildg_dap.cli_common import add_builder_flags, builder_options


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "lsp", help="serve the Language Server Protocol for Dockerfiles (stdio)"
    )
    add_builder_flags(parser)
    parser.add_argument("--log", type=Path, default=None, help="write a log of the traffic")
    parser.set_defaults(run=run)


def run(ns: argparse.Namespace) -> int:
    import anyio

    # The server is imported when the command runs, so that --help is quick.
    from buildg_dap.lsp.serve import serve_stdio

    log = open(ns.log, "a", encoding="utf-8") if ns.log else None  # noqa: SIM115
    logging.basicConfig(
        stream=log or sys.stderr,
        level=logging.DEBUG if log else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        code: int = anyio.run(serve_stdio, builder_options(ns))
    except KeyboardInterrupt:
        return 130
    finally:
        if log is not None:
            log.close()
    return code
