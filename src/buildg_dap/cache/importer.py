"""Resolves ``--cache-from`` entries once, before any build, to pinned and checked caches.

Every registry or local cache is read up front: its top manifest digest replaces the
tag in the entry handed to BuildKit (so a tag pushed mid-session cannot change what
the session loads), and its cache config is parsed, so that a missing, refused,
corrupt or wrong-kind cache fails the launch with a precise message instead of
silently turning into a build that runs every step.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from buildg_dap.buildkit.control import CacheEntry
from buildg_dap.cache.contents import CacheContents, Shape, read_contents
from buildg_dap.cache.sources import open_cache
from buildg_dap.dockerauth.store import CredentialStore

# Only these can be read from here; other BuildKit importers (gha, s3, azblob) are
# handed over as given.
READABLE_TYPES = frozenset({"registry", "local"})


class LoadedCache(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    kind: Literal["registry", "local"]
    pinned: CacheEntry
    contents: CacheContents


class CacheSummary(BaseModel):
    model_config = ConfigDict(frozen=True)

    ref: str
    kind: Literal["registry", "local"]
    digest: str
    shape: Shape
    records: int
    layers: int
    total_size: int
    oldest: datetime | None
    newest: datetime | None

    @classmethod
    def of(cls, cache: LoadedCache) -> CacheSummary:
        span = cache.contents.created_range
        return cls(
            ref=cache.name,
            kind=cache.kind,
            digest=cache.contents.manifest_digest,
            shape=cache.contents.shape,
            records=len(cache.contents.records),
            layers=len(cache.contents.layers),
            total_size=cache.contents.total_size,
            oldest=span[0] if span else None,
            newest=span[1] if span else None,
        )

    def one_line(self) -> str:
        prefix = "cache " if self.kind == "registry" else ""
        return (
            f"{prefix}{self.ref}@{short_digest(self.digest)}: "
            f"{plural(self.records, 'record')}, {plural(self.layers, 'layer')}, "
            f"{human_size(self.total_size)}, {created_span(self.oldest, self.newest)}"
        )


class ResolvedCache(BaseModel):
    """``entry`` is what BuildKit gets; ``summary`` is None for types not read here."""

    model_config = ConfigDict(frozen=True)

    requested: CacheEntry
    entry: CacheEntry
    summary: CacheSummary | None

    def one_line(self) -> str:
        if self.summary is not None:
            return self.summary.one_line()
        return f"cache type={self.entry.type}: passed to BuildKit unchecked"


async def load_cache(entry: CacheEntry, store: CredentialStore) -> LoadedCache:
    """Reads and validates one registry or local cache."""
    async with open_cache(entry, store) as opened:
        contents = await read_contents(opened.name, opened.manifest, opened.digest, opened.reader)
    kind: Literal["registry", "local"] = "registry" if entry.type == "registry" else "local"
    return LoadedCache(name=opened.name, kind=kind, pinned=opened.pinned, contents=contents)


async def resolve_imports(entries: list[CacheEntry], store: CredentialStore) -> list[ResolvedCache]:
    """Pins and checks every entry in order; the first failure raises its CacheError."""
    resolved = []
    for entry in entries:
        if entry.type not in READABLE_TYPES:
            resolved.append(ResolvedCache(requested=entry, entry=entry, summary=None))
            continue
        cache = await load_cache(entry, store)
        resolved.append(
            ResolvedCache(requested=entry, entry=cache.pinned, summary=CacheSummary.of(cache))
        )
    return resolved


def short_digest(digest: str) -> str:
    algorithm, _, encoded = digest.partition(":")
    return f"{algorithm}:{encoded[:8]}…" if len(encoded) > 8 else digest


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def human_size(size: int) -> str:
    """Decimal units with one decimal, as docker prints sizes (2.4 MB)."""
    value, unit = float(size), "B"
    for larger in ("kB", "MB", "GB", "TB"):
        if value < 1000:
            break
        value, unit = value / 1000, larger
    return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"


def created_span(oldest: datetime | None, newest: datetime | None) -> str:
    if oldest is None or newest is None:
        return "creation time not recorded"
    oldest, newest = oldest.astimezone(UTC), newest.astimezone(UTC)
    first = f"{oldest:%Y-%m-%d %H:%M:%S}"
    same_day = oldest.date() == newest.date()
    last = f"{newest:%H:%M:%S}" if same_day else f"{newest:%Y-%m-%d %H:%M:%S}"
    return f"created {first} \N{EN DASH} {last} UTC"
