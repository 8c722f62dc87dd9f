"""The ``buildg-dap`` command line: each subcommand lives in its own module."""

from __future__ import annotations

import argparse
import os

from buildg_dap.allocator import limit_arenas

# gRPC's core logs handshake failures itself; our errors already explain them.
os.environ.setdefault("GRPC_VERBOSITY", "NONE")
# Before gRPC and the worker threads start: each new thread may claim an arena.
limit_arenas()

from buildg_dap import (  # noqa: E402
    cli_attach,
    cli_build,
    cli_builder,
    cli_cache,
    cli_dap,
    cli_debug,
    cli_lsp,
)

# Each module adds its subparser and sets ``run(namespace) -> exit code``.
SUBCOMMANDS = (cli_build, cli_debug, cli_dap, cli_lsp, cli_attach, cli_builder, cli_cache)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="buildg-dap", description="Build and debug Dockerfiles on BuildKit."
    )
    subparsers = parser.add_subparsers(required=True, metavar="COMMAND")
    for module in SUBCOMMANDS:
        module.add_parser(subparsers)
    ns = parser.parse_args(argv)
    code: int = ns.run(ns)
    return code
