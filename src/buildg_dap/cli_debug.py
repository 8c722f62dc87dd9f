"""``buildg-dap debug``: the terminal debug session."""

from __future__ import annotations

import argparse
import sys

import anyio

from buildg_dap.buildkit.connection import BuilderError
from buildg_dap.buildkit.options import OptionError
from buildg_dap.buildkit.session.secrets import SecretSpecError
from buildg_dap.buildkit.session.ssh import SSHSpecError
from buildg_dap.cache.errors import CacheError
from buildg_dap.cli_common import BuildCommand, add_build_flags, build_command, fail
from buildg_dap.dockerauth.config import ConfigError
from buildg_dap.repl.session import run_debug


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("debug", help="debug a Dockerfile build interactively")
    add_build_flags(parser, debug=True)
    parser.add_argument(
        "--image", default="", help="debugger image for exec --image (e.g. to look into scratch)"
    )
    parser.set_defaults(run=run)


async def debug(command: BuildCommand, image: str) -> int:
    try:
        conn = await command.builder.connect()
    except BuilderError as exc:
        return fail(exc)
    async with conn:
        try:
            names = await command.pin_caches(sys.stderr)
        except CacheError as exc:
            return fail(exc)
        return await run_debug(
            conn, command.request, command.attachables(), image=image, cache_names=names
        )


def run(ns: argparse.Namespace) -> int:
    try:
        command = build_command(ns)
    except (OptionError, SecretSpecError, SSHSpecError, BuilderError, ConfigError) as exc:
        return fail(exc)
    return anyio.run(debug, command, ns.image)
