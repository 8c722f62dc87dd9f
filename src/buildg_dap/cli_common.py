"""What every builder-facing subcommand shares: the builder flags and how to connect."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Literal, TextIO

from pydantic import BaseModel, ConfigDict, Field

from buildg_dap.buildkit.build import BuildRequest
from buildg_dap.buildkit.connection import (
    Address,
    Connection,
    TLSConfig,
    address_from_env,
    connect,
)
from buildg_dap.buildkit.control import CacheEntry
from buildg_dap.buildkit.embedded import EmbeddedBuilder, ensure_started
from buildg_dap.buildkit.options import (
    OptionError,
    parse_build_args,
    parse_caches,
    parse_output,
    parse_platforms,
)
from buildg_dap.buildkit.session.auth import auth
from buildg_dap.buildkit.session.rpcserver import Attachable
from buildg_dap.buildkit.session.secrets import SecretSpec, check_sources, secrets
from buildg_dap.buildkit.session.ssh import SSHSpec, ssh
from buildg_dap.cache.importer import resolve_imports
from buildg_dap.dockerauth.store import CredentialStore


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


class BuilderOptions(BaseModel):
    """The builder a command talks to: an address (None = embedded) and TLS settings."""

    model_config = ConfigDict(frozen=True)

    address: Address | None
    tls: TLSConfig | None = None

    @classmethod
    def from_namespace(cls, ns: argparse.Namespace) -> BuilderOptions:
        tls = None
        if ns.tlscacert or ns.tlscert or ns.tlskey or ns.tlsservername:
            tls = TLSConfig(
                ca=ns.tlscacert, cert=ns.tlscert, key=ns.tlskey, server_name=ns.tlsservername
            )
        return cls(address=address_from_env(ns.addr), tls=tls)

    async def connect(self) -> Connection:
        """Connect, starting the embedded builder first when no address is given."""
        address = self.address or await ensure_started(EmbeddedBuilder.locate())
        return await connect(address, self.tls)


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
        parser.add_argument("--cache-to", action="append", default=[], metavar="SPEC")
        parser.add_argument(
            "-o", "--output", action="append", default=[], metavar="SPEC",
            help="type=local,dest=DIR | type=oci|tar,dest=FILE | type=image,name=REF,push=true",
        )  # fmt: skip
        parser.add_argument("--progress", choices=("plain", "quiet"), default="plain")
    add_builder_flags(parser)


def _local_caches(entries: list[CacheEntry], key: str) -> list[CacheEntry]:
    """Local cache directories made absolute: BuildKit names the content store it asks
    our session for after the directory as given, so it must not depend on the cwd.
    Export directories are created up front, as buildctl does."""
    done = []
    for entry in entries:
        if entry.type == "local":
            path = Path(entry.attrs[key]).resolve()
            if key == "dest":
                try:
                    path.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise OptionError(f"--cache-to: cannot create {path}: {exc.strerror}") from None
            entry = entry.model_copy(update={"attrs": {**entry.attrs, key: str(path)}})
        done.append(entry)
    return done


class BuildCommand(BaseModel):
    """A validated ``build`` or ``debug`` command line."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    request: BuildRequest
    builder: BuilderOptions
    progress: Literal["plain", "quiet"] = "plain"
    secrets: list[SecretSpec] = []
    ssh: list[SSHSpec] = []
    store: CredentialStore = Field(default_factory=CredentialStore)

    def attachables(self) -> list[Attachable]:
        services = [auth(self.store)]
        if self.secrets:
            services.append(secrets(self.secrets))
        if self.ssh:
            services.append(ssh(self.ssh))
        return services

    @classmethod
    def from_namespace(cls, ns: argparse.Namespace) -> BuildCommand:
        context = ns.context.resolve()
        if not context.is_dir():
            raise OptionError(f"build context {ns.context} is not a directory")
        dockerfile = (ns.file or context / "Dockerfile").resolve()
        if not dockerfile.is_file():
            raise OptionError(f"Dockerfile {ns.file or dockerfile} not found")
        outputs = [parse_output(value) for value in getattr(ns, "output", [])]
        if any(o.dest == "-" for o in outputs) and sys.stdout.isatty():
            raise OptionError("refusing to write a tar to the terminal: redirect stdout")
        request = BuildRequest(
            context=context,
            dockerfile=dockerfile,
            target=ns.target,
            build_args=parse_build_args(ns.build_arg),
            platforms=parse_platforms(ns.platform),
            no_cache=getattr(ns, "no_cache", False),
            cache_imports=_local_caches(parse_caches(ns.cache_from, export=False), "src"),
            cache_exports=_local_caches(
                parse_caches(getattr(ns, "cache_to", []), export=True), "dest"
            ),
            outputs=outputs,
        )
        secret_specs = [SecretSpec.parse(text) for text in ns.secret]
        check_sources(secret_specs)
        return cls(
            request=request,
            builder=BuilderOptions.from_namespace(ns),
            progress=getattr(ns, "progress", "plain"),
            secrets=secret_specs,
            ssh=[SSHSpec.parse(text) for text in ns.ssh],
        )

    async def pin_caches(self, log: TextIO) -> list[str]:
        """Resolve every ``--cache-from`` to a digest once, before the build: a tag moved
        later changes nothing. Prints a summary per cache; returns their names."""
        resolved = await resolve_imports(self.request.cache_imports, self.store)
        for cache in resolved:
            print(cache.one_line(), file=log)
        self.request = self.request.model_copy(
            update={"cache_imports": [cache.entry for cache in resolved]}
        )
        # A registry cache is named by its ref, a local one by its directory.
        return [
            c.requested.attrs.get("ref") or c.requested.attrs.get("src") or c.requested.type
            for c in resolved
        ]


def fail(message: object) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 1
