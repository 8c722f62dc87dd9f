"""From a ``--cache-from`` value to the cache's top manifest, pinned to its digest.

Registry caches are read over the distribution API, local ones from their OCI layout.
Either way the result names the exact manifest digest, so the entry handed to BuildKit
can be rewritten to that digest and cannot drift while a session runs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from buildg_dap.buildkit.control import CacheEntry
from buildg_dap.buildkit.options import GO_FALSE, GO_TRUE, MalformedFields, csv_fields, key_values
from buildg_dap.cache.contents import JSON_LIMIT, ContentReader
from buildg_dap.cache.errors import InvalidCacheSpec
from buildg_dap.cache.local import LocalLayout
from buildg_dap.cache.reference import Reference
from buildg_dap.cache.registry import RegistryClient
from buildg_dap.dockerauth.store import CredentialStore
from buildg_dap.oci import INDEX_TYPES, MANIFEST_TYPES, Descriptor

INSECURE_ATTR: Final = "registry.insecure"


def parse_cache_spec(spec: str) -> CacheEntry:
    """``REF`` or ``type=registry,ref=REF,...`` / ``type=local,src=DIR,...`` (CSV)."""
    if "=" not in spec:
        return CacheEntry(type="registry", attrs={"ref": spec})
    try:
        attrs = key_values(csv_fields(spec))
    except MalformedFields as exc:
        raise InvalidCacheSpec(f"invalid cache spec {spec!r}: {exc}") from None
    kind = attrs.pop("type", "")
    if not kind:
        raise InvalidCacheSpec(f"invalid cache spec {spec!r}: type is required")
    return CacheEntry(type=kind, attrs=attrs)


def parse_bool(entry: CacheEntry, key: str) -> bool:
    value = entry.attrs.get(key)
    if value is None or value in GO_FALSE:
        return False
    if value in GO_TRUE:
        return True
    raise InvalidCacheSpec(f"failed to parse {key}: invalid boolean {value!r}")


@dataclass(frozen=True)
class OpenedCache:
    """A cache whose top manifest has been read; ``reader`` fetches what it references."""

    name: str
    pinned: CacheEntry
    digest: str
    manifest: bytes
    reader: ContentReader


class _RegistryReader:
    """Manifests come from /manifests/, everything else from /blobs/."""

    def __init__(self, client: RegistryClient, ref: Reference) -> None:
        self._client = client
        self._ref = ref

    async def read(self, descriptor: Descriptor, *, limit: int) -> bytes:
        if descriptor.media_type in INDEX_TYPES or descriptor.media_type in MANIFEST_TYPES:
            fetched = await self._client.get_manifest(self._ref.pinned(descriptor.digest))
            return fetched.body
        return await self._client.get_blob(
            self._ref, descriptor.digest, descriptor.size, limit=limit
        )


@asynccontextmanager
async def open_cache(entry: CacheEntry, store: CredentialStore) -> AsyncIterator[OpenedCache]:
    """Reads the top manifest of a registry or local cache; the reader lives as long."""
    if entry.type == "registry":
        text = entry.attrs.get("ref", "")
        if not text:
            raise InvalidCacheSpec("registry cache importer requires ref")
        ref = Reference.parse(text)
        insecure = parse_bool(entry, INSECURE_ATTR)
        async with RegistryClient(ref.registry_host, store, insecure=insecure) as client:
            fetched = await client.get_manifest(ref)
            pinned = {**entry.attrs, "ref": str(ref.pinned(fetched.digest))}
            yield OpenedCache(
                name=str(ref),
                pinned=CacheEntry(type=entry.type, attrs=pinned),
                digest=fetched.digest,
                manifest=fetched.body,
                reader=_RegistryReader(client, ref),
            )
    elif entry.type == "local":
        src = entry.attrs.get("src", "")
        if not src:
            raise InvalidCacheSpec("local cache importer requires src")
        layout = LocalLayout(Path(src))
        top = await layout.select(tag=entry.attrs.get("tag"), digest=entry.attrs.get("digest"))
        yield OpenedCache(
            name=str(layout),
            pinned=CacheEntry(type=entry.type, attrs={**entry.attrs, "digest": top.digest}),
            digest=top.digest,
            manifest=await layout.read(top, limit=JSON_LIMIT),
            reader=layout,
        )
    else:
        raise InvalidCacheSpec(
            f"cache type {entry.type!r} cannot be read ahead of the build "
            "(only registry and local caches can)"
        )
