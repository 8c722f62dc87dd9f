"""``buildg-dap debug``: the terminal debug session."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from buildg_dap.cli_common import CommandLineError, add_build_flags, build_command, fail

# What the session needs is imported when it runs, so that --help is quick.
if TYPE_CHECKING:
    from buildg_dap.buildkit.connection import Connection
    from buildg_dap.command import BuildCommand


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("debug", help="debug a Dockerfile build interactively")
    add_build_flags(parser, debug=True)
    parser.add_argument(
        "--image", default="", help="debugger image for exec --image (e.g. to look into scratch)"
    )
    parser.set_defaults(run=run)


async def debug(command: BuildCommand, image: str) -> int:
    from buildg_dap.buildkit.connection import BuilderError
    from buildg_dap.cache.errors import CacheError
    from buildg_dap.repl.session import run_debug

    try:
        conn = await command.builder.connect()
    except BuilderError as exc:
        return fail(exc)
    async with conn:
        await _warn_unrunnable(conn, command.request.platforms)
        try:
            names = await command.pin_caches(sys.stderr)
        except CacheError as exc:
            return fail(exc)
        return await run_debug(
            conn, command.request, command.attachables(), image=image, cache_names=names
        )


async def _warn_unrunnable(conn: Connection, platforms: list[str]) -> None:
    """Say so up front when the builder cannot run the platform's programs."""
    from buildg_dap.buildkit.control import worker_platforms
    from buildg_dap.buildkit.errors import SolveError
    from buildg_dap.debugger.platforms import can_run, support_message

    if not platforms:
        return
    try:
        supported = await worker_platforms(conn)
    except SolveError:
        return  # the builder did not say
    if not can_run(platforms[0], supported):
        print(f"warning: {support_message(platforms[0], supported)}", file=sys.stderr)


def run(ns: argparse.Namespace) -> int:
    import anyio

    try:
        command = build_command(ns)
    except CommandLineError as exc:
        return fail(exc)
    platforms = command.request.platforms
    if len(platforms) > 1:
        # One program per platform, and a terminal follows one program.
        return fail(
            f"debug follows one platform at a time (got {', '.join(platforms)}): pass one "
            "--platform, or debug them all at once from an editor over DAP "
            "(buildg-dap dap), where each platform is a thread"
        )
    return anyio.run(debug, command, ns.image)
