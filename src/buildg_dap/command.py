"""A validated build or debug command, whichever front end it came from (command line
or a DAP launch): the build request, the builder to use and the session services."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Literal, TextIO

from pydantic import BaseModel, ConfigDict, Field

from buildg_dap.buildkit.build import BuildRequest
from buildg_dap.buildkit.connection import MIN_VERSION, Address, Connection, TLSConfig, connect
from buildg_dap.buildkit.control import CacheEntry
from buildg_dap.buildkit.embedded import EmbeddedBuilder, ensure_started, use
from buildg_dap.buildkit.options import (
    OptionError,
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


class BuilderOptions(BaseModel):
    """The builder a command talks to: an address (None = embedded) and TLS settings."""

    model_config = ConfigDict(frozen=True)

    address: Address | None
    tls: TLSConfig | None = None

    async def connect(self, *, debugging: bool = True) -> Connection:
        """Connect, starting the embedded builder first when no address is given. A plain
        build accepts an older BuildKit than debugging does (Docker Engine's, say)."""
        require = MIN_VERSION if debugging else None
        if self.address is not None:
            return await connect(self.address, self.tls, require=require)
        builder = EmbeddedBuilder.locate()
        # Held while connected, so `builder stop` knows the daemon is in use.
        hold = await use(builder)
        try:
            conn = await connect(await ensure_started(builder), self.tls, require=require)
        except BaseException:
            hold.close()
            raise
        conn.hold(hold.close)
        return conn


def _local_caches(entries: list[CacheEntry], key: str, base: Path) -> list[CacheEntry]:
    """Local cache directories made absolute (relative ones are taken from ``base``):
    BuildKit names the content store it asks our session for after the directory as
    given, so it must not depend on the cwd. Export directories are created up front, as
    buildctl does."""
    done = []
    for entry in entries:
        if entry.type == "local":
            path = (base / entry.attrs[key]).resolve()
            if key == "dest":
                try:
                    path.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise OptionError(f"--cache-to: cannot create {path}: {exc.strerror}") from None
            entry = entry.model_copy(update={"attrs": {**entry.attrs, key: str(path)}})
        done.append(entry)
    return done


class BuildCommand(BaseModel):
    """A validated ``build`` or ``debug`` command."""

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
    def create(
        cls,
        *,
        context: Path,
        dockerfile: Path | None,
        builder: BuilderOptions,
        target: str = "",
        build_args: dict[str, str] | None = None,
        platforms: list[str] | None = None,
        no_cache: bool = False,
        network: Literal["", "none", "host"] = "",
        cache_from: list[str] | None = None,
        cache_to: list[str] | None = None,
        outputs: list[str] | None = None,
        secrets: list[str] | None = None,
        ssh: list[str] | None = None,
        progress: Literal["plain", "quiet"] = "plain",
        base: Path = Path(),
    ) -> BuildCommand:
        """Validate every part; errors (OptionError and the session services' spec
        errors) name the flag and the value. Relative paths in the specs (secret files,
        ssh sockets, local caches) are taken from ``base``."""
        given, context = context, context.resolve()
        if not context.is_dir():
            raise OptionError(f"build context {given} is not a directory")
        dockerfile_path = (dockerfile or context / "Dockerfile").resolve()
        if not dockerfile_path.is_file():
            raise OptionError(f"Dockerfile {dockerfile or dockerfile_path} not found")
        parsed_outputs = [parse_output(value) for value in outputs or []]
        if any(o.dest == "-" for o in parsed_outputs) and sys.stdout.isatty():
            raise OptionError("refusing to write a tar to the terminal: redirect stdout")
        request = BuildRequest(
            context=context,
            dockerfile=dockerfile_path,
            target=target,
            build_args=build_args or {},
            platforms=parse_platforms(platforms or []),
            no_cache=no_cache,
            network=network,
            cache_imports=_local_caches(parse_caches(cache_from or [], export=False), "src", base),
            cache_exports=_local_caches(parse_caches(cache_to or [], export=True), "dest", base),
            outputs=parsed_outputs,
        )
        secret_specs = [SecretSpec.parse(text, base) for text in secrets or []]
        check_sources(secret_specs)
        return cls(
            request=request,
            builder=builder,
            progress=progress,
            secrets=secret_specs,
            ssh=[SSHSpec.parse(text, base) for text in ssh or []],
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


__all__ = ["BuildCommand", "BuilderOptions"]
