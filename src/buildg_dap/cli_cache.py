"""``buildg-dap cache inspect``: what a registry or local build cache holds."""

from __future__ import annotations

import argparse
import sys


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cache = subparsers.add_parser("cache", help="look into build caches")
    actions = cache.add_subparsers(required=True)
    inspect = actions.add_parser(
        "inspect", help="layers and records of a cache (REF or type=local,src=DIR)"
    )
    inspect.add_argument("spec", help="REF, type=registry,ref=REF[,...] or type=local,src=DIR")
    inspect.add_argument("--json", action="store_true", help="machine-readable output")
    inspect.set_defaults(run=run_inspect)


def run_inspect(ns: argparse.Namespace) -> int:
    # Imported when the command runs, so that --help is quick.
    import anyio

    from buildg_dap.cache.inspect import inspect_command

    async def main() -> int:
        return await inspect_command(ns.spec, as_json=ns.json, out=sys.stdout)

    return anyio.run(main)
