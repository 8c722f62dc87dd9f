"""What every builder-facing subcommand shares: the builder flags and how to connect."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

# Parsers are built for every command, even for --help: what a command needs to run is
# imported when it runs.
if TYPE_CHECKING:
    from buildg_dap.command import BuildCommand, BuilderOptions

__all__ = ["build_command", "builder_options", "fail"]


def add_builder_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("builder")
    group.add_argument(
        "--addr",
        default=None,
        help="buildkitd address (unix:///path or tcp://host:port); default: $BUILDKIT_HOST, "
        "else the embedded builder",
    )
    group.add_argument("--tlscacert", type=Path, default=None, help="CA certificate for TLS")
    group.add_argument("--tlscert", type=Path, default=None, help="client certificate for TLS")
    group.add_argument("--tlskey", type=Path, default=None, help="client key for TLS")
    group.add_argument("--tlsservername", default=None, help="server name to verify for TLS")


def builder_options(ns: argparse.Namespace) -> BuilderOptions:
    from buildg_dap.buildkit.connection import TLSConfig, address_from_env
    from buildg_dap.command import BuilderOptions

    tls = None
    if ns.tlscacert or ns.tlscert or ns.tlskey or ns.tlsservername:
        tls = TLSConfig(
            ca=ns.tlscacert, cert=ns.tlscert, key=ns.tlskey, server_name=ns.tlsservername
        )
    return BuilderOptions(address=address_from_env(ns.addr), tls=tls)


def add_build_flags(parser: argparse.ArgumentParser, *, debug: bool = False) -> None:
    """The flags ``build`` and ``debug`` share (``debug`` produces no outputs)."""
    parser.add_argument("context", type=Path, help="build context directory")
    parser.add_argument("-f", "--file", type=Path, default=None, help="the Dockerfile")
    parser.add_argument("--target", default="", help="stage to build")
    parser.add_argument("--build-arg", action="append", default=[], metavar="KEY[=VALUE]")
    parser.add_argument("--platform", action="append", default=[], help="e.g. linux/amd64")
    parser.add_argument("--cache-from", action="append", default=[], metavar="SPEC")
    parser.add_argument("--secret", action="append", default=[], metavar="id=ID[,src=FILE|env=VAR]")
    parser.add_argument("--ssh", action="append", default=[], metavar="ID[=SOCKET]")
    if not debug:
        parser.add_argument("--no-cache", action="store_true", help="do not use cached steps")
        parser.add_argument("--network", choices=("none", "host"), default="",
                            help="network for RUN steps (default: the builder's)")  # fmt: skip
        parser.add_argument("--cache-to", action="append", default=[], metavar="SPEC")
        parser.add_argument(
            "-o", "--output", action="append", default=[], metavar="SPEC",
            help="type=local,dest=DIR | type=oci|tar,dest=FILE | type=image,name=REF,push=true",
        )  # fmt: skip
        parser.add_argument("--progress", choices=("plain", "quiet"), default="plain")
    add_builder_flags(parser)


class CommandLineError(Exception):
    """A flag's value that cannot be used; the message names the flag and the value."""


def build_command(ns: argparse.Namespace) -> BuildCommand:
    """The ``build`` or ``debug`` command line, validated; raises CommandLineError."""
    from buildg_dap.buildkit.connection import BuilderError
    from buildg_dap.buildkit.options import OptionError, parse_build_args
    from buildg_dap.buildkit.session.secrets import SecretSpecError
    from buildg_dap.buildkit.session.ssh import SSHSpecError
    from buildg_dap.command import BuildCommand
    from buildg_dap.dockerauth.config import ConfigError

    try:
        return BuildCommand.create(
            context=ns.context,
            dockerfile=ns.file,
            builder=builder_options(ns),
            target=ns.target,
            build_args=parse_build_args(ns.build_arg),
            platforms=ns.platform,
            no_cache=getattr(ns, "no_cache", False),
            network=getattr(ns, "network", ""),
            cache_from=ns.cache_from,
            cache_to=getattr(ns, "cache_to", []),
            outputs=getattr(ns, "output", []),
            secrets=ns.secret,
            ssh=ns.ssh,
            progress=getattr(ns, "progress", "plain"),
        )
    except (OptionError, SecretSpecError, SSHSpecError, BuilderError, ConfigError) as exc:
        raise CommandLineError(str(exc)) from None


def fail(message: object) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 1
