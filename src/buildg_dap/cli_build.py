"""``buildg-dap build``: a whole Dockerfile build, outputs and cache export included."""

from __future__ import annotations

import argparse
import sys
from contextlib import suppress
from typing import TYPE_CHECKING

from buildg_dap.cli_common import CommandLineError, add_build_flags, build_command, fail

# What the build needs is imported when it runs, so that --help is quick.
if TYPE_CHECKING:
    from buildg_dap.buildkit.connection import Connection
    from buildg_dap.buildkit.errors import SolveError
    from buildg_dap.buildkit.progress import Progress
    from buildg_dap.command import BuildCommand
    from buildg_dap.debugger.origins import Origins


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("build", help="build a Dockerfile")
    add_build_flags(parser)
    parser.set_defaults(run=run)


def print_failure(error: SolveError) -> None:
    from buildg_dap.buildkit.snippet import format_source

    print(f"error: {error}", file=sys.stderr)
    for source in error.sources:
        snippet = format_source(source)
        if snippet:
            print(snippet, end="", file=sys.stderr)


async def build(command: BuildCommand) -> int:
    from buildg_dap.buildkit.build import running_build
    from buildg_dap.buildkit.connection import BuilderError
    from buildg_dap.buildkit.errors import SolveError
    from buildg_dap.buildkit.progress import PlainPrinter, Progress
    from buildg_dap.cache.errors import CacheError
    from buildg_dap.debugger.program import Program
    from buildg_dap.debugger.steprecord import write_record

    try:
        conn = await command.builder.connect(debugging=False)
    except BuilderError as exc:
        return fail(exc)
    async with conn:
        progress = Progress()
        if command.progress == "plain":
            PlainPrinter(progress, sys.stderr)
        failure: SolveError | None = None
        try:
            names = await command.pin_caches(sys.stderr)
        except CacheError as exc:
            return fail(exc)
        origins = await _origins(conn, progress, names)
        programs: list[Program] = []
        try:
            attachables = command.attachables()
            async with running_build(conn, command.request, attachables, progress) as running:
                try:
                    result = await running.solve_frontend()
                except SolveError as exc:
                    await running.fail(exc)  # buildkitd records the real error
                    raise
                programs = Program.each_platform(result)
                await running.finish(result)
        except SolveError as exc:
            failure = exc
        write_record(command.request.dockerfile, [(p, origins) for p in programs], _warn)
    if failure is not None:
        print_failure(failure)
        return 1
    return 0


async def _origins(conn: Connection, progress: Progress, cache_names: list[str]) -> Origins:
    """Where the build's steps come from, told as the debugger tells it."""
    from buildg_dap.buildkit.control import has_local_results
    from buildg_dap.buildkit.errors import SolveError
    from buildg_dap.debugger.origins import Origins

    origins = Origins(progress, cache_names)
    if cache_names:
        # Asked before the build, which adds results of its own. A builder that does
        # not answer leaves it possible, so a CACHED step is not claimed for an import.
        with suppress(SolveError):
            origins.local_results_possible = await has_local_results(conn)
    return origins


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def run(ns: argparse.Namespace) -> int:
    import anyio

    try:
        command = build_command(ns)
    except CommandLineError as exc:
        return fail(exc)
    return anyio.run(build, command)
