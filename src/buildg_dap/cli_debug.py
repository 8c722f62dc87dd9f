"""``buildg-dap debug``: the terminal debug session."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import anyio

from buildg_dap.buildkit.build import BuildRequest
from buildg_dap.buildkit.connection import Address, BuilderError, TLSConfig, connect
from buildg_dap.buildkit.control import CacheEntry
from buildg_dap.buildkit.session.auth import auth
from buildg_dap.buildkit.session.secrets import SecretSpec, SecretSpecError, check_sources, secrets
from buildg_dap.buildkit.session.ssh import SSHSpec, SSHSpecError, ssh
from buildg_dap.cache.errors import CacheError
from buildg_dap.cache.importer import resolve_imports
from buildg_dap.dockerauth.config import ConfigError
from buildg_dap.dockerauth.store import CredentialStore
from buildg_dap.repl.session import run_debug


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("debug", help="debug a Dockerfile build interactively")
    parser.add_argument("context", type=Path)
    parser.add_argument("-f", "--file", type=Path, default=None)
    parser.add_argument("--target", default="")
    parser.add_argument("--build-arg", action="append", default=[])
    parser.add_argument("--image", default="")
    parser.add_argument("--cache-from", action="append", default=[])
    parser.add_argument("--platform", action="append", default=[])
    parser.add_argument("--secret", action="append", default=[])
    parser.add_argument("--ssh", action="append", default=[])
    parser.add_argument("--addr", default=None)
    parser.add_argument("--tlscacert", type=Path, default=None)
    parser.add_argument("--tlscert", type=Path, default=None)
    parser.add_argument("--tlskey", type=Path, default=None)
    parser.set_defaults(run=run)


def _cache_entry(text: str) -> CacheEntry:
    if "=" not in text:
        return CacheEntry(type="registry", attrs={"ref": text})
    attrs = dict(part.split("=", 1) for part in text.split(","))
    return CacheEntry(type=attrs.pop("type", "registry"), attrs=attrs)


def run(ns: argparse.Namespace) -> int:
    context = ns.context.resolve()
    dockerfile = (ns.file or context / "Dockerfile").resolve()
    request = BuildRequest(
        context=context,
        dockerfile=dockerfile,
        target=ns.target,
        build_args=dict(a.split("=", 1) for a in ns.build_arg),
        platforms=[p for item in ns.platform for p in item.split(",")],
        cache_imports=[_cache_entry(c) for c in ns.cache_from],
    )

    try:
        secret_specs = [SecretSpec.parse(s) for s in ns.secret]
        check_sources(secret_specs)
        ssh_specs = [SSHSpec.parse(s) for s in ns.ssh]
        store = CredentialStore()
    except (SecretSpecError, SSHSpecError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    attachables = [auth(store), secrets(secret_specs), ssh(ssh_specs)]

    async def main() -> int:
        try:
            tls = None
            if ns.tlscacert or ns.tlscert or ns.tlskey:
                tls = TLSConfig(ca=ns.tlscacert, cert=ns.tlscert, key=ns.tlskey)
            conn = await connect(Address.parse(ns.addr), tls)
        except BuilderError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        async with conn:
            try:
                resolved = await resolve_imports(request.cache_imports, store)
            except CacheError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 1
            for cache in resolved:
                print(cache.one_line(), file=sys.stderr)
            # Pinned digests: a tag moved during the session changes nothing.
            pinned = request.model_copy(update={"cache_imports": [c.entry for c in resolved]})
            names = [c.requested.attrs.get("ref", c.requested.type) for c in resolved]
            return await run_debug(conn, pinned, attachables, image=ns.image, cache_names=names)

    return anyio.run(main)
