"""The ``buildg-dap`` command line."""

from __future__ import annotations

import argparse
import os

# gRPC's core logs handshake failures itself; our errors already explain them.
os.environ.setdefault("GRPC_VERBOSITY", "NONE")

from buildg_dap import cli_cache, cli_debug


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="buildg-dap")
    subparsers = parser.add_subparsers(required=True)
    cli_debug.add_parser(subparsers)
    cli_cache.add_parser(subparsers)
    ns = parser.parse_args(argv)
    code: int = ns.run(ns)
    return code
