"""What a cache holds: its layers and records, read from whichever shape BuildKit wrote.

BuildKit writes a registry or local cache in one of two shapes (cache/remotecache/
export.go): an index whose entries are the layer blobs plus one entry of media type
``application/vnd.buildkit.cacheconfig.v0``, or (``image-manifest=true``) an image
manifest whose config is the cache config. An ordinary image may also carry an inline
cache in its image config (``moby.buildkit.cache.v0``). This module accepts exactly what
BuildKit's importer (cache/remotecache/import.go) accepts, and rejects the rest with a
message saying what the reference is instead.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Final, Literal, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from buildg_dap.cache.errors import CacheCorrupt, NotABuildCache
from buildg_dap.cache.models import (
    CACHE_CONFIG,
    CacheConfig,
    CacheLayer,
    CacheRecord,
    ImageConfig,
    detect_media_type,
)
from buildg_dap.oci import INDEX_TYPES, Descriptor, Index, Manifest

# BuildKit's importer refuses manifests and cache configs above 1 MiB (readBlob).
JSON_LIMIT: Final = 1 << 20
IMAGE_CONFIG_LIMIT: Final = 8 << 20
CREATED_ANNOTATION: Final = "buildkit/createdat"
_DATETIME: Final = TypeAdapter(datetime)
_IMAGE_CONFIG_TYPES: Final = frozenset(
    {"application/vnd.oci.image.config.v1+json", "application/vnd.docker.container.image.v1+json"}
)

Shape = Literal["index", "image-manifest", "inline"]
_M = TypeVar("_M", bound=BaseModel)


class ContentReader(Protocol):
    """Reads a manifest or blob by descriptor, verifying it against the digest."""

    async def read(self, descriptor: Descriptor, *, limit: int) -> bytes: ...


class LayerInfo(BaseModel):
    model_config = ConfigDict(frozen=True)

    digest: str
    size: int
    media_type: str
    created_at: datetime | None
    parent: str | None


class CacheContents(BaseModel):
    """A parsed cache: layers in config order, records as BuildKit wrote them.

    ``total_size`` counts each distinct blob once: BuildKit lists a blob once per config
    layer using it, but the registry stores and serves it once.
    """

    model_config = ConfigDict(frozen=True)

    shape: Shape
    manifest_digest: str
    config_digest: str | None
    layers: list[LayerInfo]
    records: list[CacheRecord]
    total_size: int

    @property
    def created_range(self) -> tuple[datetime, datetime] | None:
        stamps = [layer.created_at for layer in self.layers if layer.created_at]
        for record in self.records:
            stamps += [r.created_at for r in record.results if r.created_at]
            stamps += [c.created_at for c in record.chains if c.created_at]
        return (min(stamps), max(stamps)) if stamps else None


async def read_contents(
    name: str, manifest: bytes, digest: str, reader: ContentReader
) -> CacheContents:
    """Parses the top manifest ``digest`` of cache ``name`` and what it points at."""
    kind = _media_type(name, manifest, digest)
    if kind in INDEX_TYPES:
        index = _parse(Index, manifest, f"index {digest} of {name}")
        configs = [m for m in index.manifests if m.media_type == CACHE_CONFIG]
        if configs:
            layers = [m for m in index.manifests if m.media_type != CACHE_CONFIG]
            config = await _cache_config(name, configs[0], reader)
            return _assemble("index", digest, configs[0].digest, config, layers)
        return await _inline_from_index(name, digest, index, reader)
    image = _parse(Manifest, manifest, f"manifest {digest} of {name}")
    if image.config.media_type == CACHE_CONFIG:
        config = await _cache_config(name, image.config, reader)
        return _assemble("image-manifest", digest, image.config.digest, config, image.layers)
    inline = await _inline(name, image, reader)
    if inline is None:
        raise _not_a_cache(name, image.config.media_type)
    return _assemble("inline", digest, None, inline, image.layers)


def _not_a_cache(name: str, config_type: str) -> NotABuildCache:
    what = (
        "an image"
        if config_type in _IMAGE_CONFIG_TYPES or not config_type
        else (f"an artifact with config {config_type}")
    )
    return NotABuildCache(
        f"{name} is {what}, not a BuildKit build cache (no {CACHE_CONFIG} config); "
        "export one with --cache-to type=registry,ref=...,mode=max"
    )


def _media_type(name: str, body: bytes, digest: str) -> str:
    try:
        document = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CacheCorrupt(
            f"manifest {digest} of {name} is not valid JSON ({len(body)} bytes): {exc}"
        ) from None
    if not isinstance(document, dict):
        raise CacheCorrupt(f"manifest {digest} of {name} is not a JSON object")
    try:
        return detect_media_type(document)
    except ValueError as exc:
        raise CacheCorrupt(f"manifest {digest} of {name}: {exc}") from None


def _parse(model: type[_M], body: bytes, what: str) -> _M:
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        raise CacheCorrupt(f"{what} is invalid: {_summary(exc)}") from None


def _summary(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "document"
    return f"{where}: {first['msg']}"


async def _cache_config(name: str, descriptor: Descriptor, reader: ContentReader) -> CacheConfig:
    body = await reader.read(descriptor, limit=JSON_LIMIT)
    config = _parse(CacheConfig, body, f"cache config {descriptor.digest} of {name}")
    _check_indexes(config, f"cache config {descriptor.digest} of {name}")
    return config


def _check_indexes(config: CacheConfig, what: str) -> None:
    """Refuses out-of-range links the way BuildKit's parser would, but before the build."""
    layers, records = len(config.layers), len(config.records)
    for i, layer in enumerate(config.layers):
        if not -1 <= layer.parent < layers or layer.parent == i:
            raise CacheCorrupt(f"{what} is invalid: layer {i} has parent {layer.parent}")
    for i, record in enumerate(config.records):
        for group in record.inputs:
            for link in group:
                if not 0 <= link.link < records:
                    raise CacheCorrupt(
                        f"{what} is invalid: record {i} links to record {link.link} of {records}"
                    )
        used = [r.layer for r in record.results] + [n for c in record.chains for n in c.layers]
        for index in used:
            if not 0 <= index < layers:
                raise CacheCorrupt(f"{what} is invalid: record {i} uses layer {index} of {layers}")


async def _inline(name: str, image: Manifest, reader: ContentReader) -> CacheConfig | None:
    """The inline cache of one image manifest, as a cache config, or None."""
    if image.config.media_type not in _IMAGE_CONFIG_TYPES or not image.layers:
        return None
    body = await reader.read(image.config, limit=IMAGE_CONFIG_LIMIT)
    what = f"image config {image.config.digest} of {name}"
    config = _parse(ImageConfig, body, what)
    try:
        records = config.inline_records()
    except ValueError as exc:
        raise CacheCorrupt(f"{what} is invalid: {exc}") from None
    # BuildKit skips images whose config and manifest disagree on the layer count.
    if records is None or len(config.rootfs.diff_ids) != len(image.layers):
        return None
    created = [h.created for h in config.history if not h.empty_layer]
    layers = [
        CacheLayer.model_validate(
            {
                "blob": layer.digest,
                "parent": i - 1,
                "annotations": {
                    "size": layer.size,
                    "createdAt": created[i] if i < len(created) else None,
                },
            }
        )
        for i, layer in enumerate(image.layers)
    ]
    inline = CacheConfig(layers=layers, records=records)
    _check_indexes(inline, what)
    return inline


async def _inline_from_index(
    name: str, digest: str, index: Index, reader: ContentReader
) -> CacheContents:
    """An index without a cache config: BuildKit looks for inline caches in its images."""
    found: list[tuple[CacheConfig, list[Descriptor]]] = []
    for entry in index.manifests:
        if entry.media_type in INDEX_TYPES:
            continue
        body = await reader.read(entry, limit=JSON_LIMIT)
        image = _parse(Manifest, body, f"manifest {entry.digest} of {name}")
        inline = await _inline(name, image, reader)
        if inline is not None:
            found.append((inline, image.layers))
    if not found:
        raise _not_a_cache(name, "")
    return _assemble("inline", digest, None, *_merge(found))


def _merge(
    parts: list[tuple[CacheConfig, list[Descriptor]]],
) -> tuple[CacheConfig, list[Descriptor]]:
    """Joins per-platform inline caches into one config by shifting their indexes."""
    layers: list[CacheLayer] = []
    records: list[CacheRecord] = []
    descriptors: list[Descriptor] = []
    for config, blobs in parts:
        lo, ro = len(layers), len(records)
        layers += [
            layer.model_copy(update={"parent": layer.parent + lo if layer.parent >= 0 else -1})
            for layer in config.layers
        ]
        for record in config.records:
            records.append(
                record.model_copy(
                    update={
                        "inputs": [
                            [i.model_copy(update={"link": i.link + ro}) for i in group]
                            for group in record.inputs
                        ],
                        "results": [
                            r.model_copy(update={"layer": r.layer + lo}) for r in record.results
                        ],
                        "chains": [
                            c.model_copy(update={"layers": [n + lo for n in c.layers]})
                            for c in record.chains
                        ],
                    }
                )
            )
        descriptors += blobs
    return CacheConfig(layers=layers, records=records), descriptors


def _descriptor_created(descriptor: Descriptor | None) -> datetime | None:
    """BuildKit records a layer's creation time on its descriptor when not in the config."""
    stamp = descriptor.annotations.get(CREATED_ANNOTATION) if descriptor else None
    if stamp is None:
        return None
    try:
        return _DATETIME.validate_python(stamp)
    except ValidationError:
        return None


def _assemble(
    shape: Shape,
    digest: str,
    config_digest: str | None,
    config: CacheConfig,
    blobs: list[Descriptor],
) -> CacheContents:
    by_digest = {d.digest: d for d in blobs}
    layers = []
    for layer in config.layers:
        descriptor = by_digest.get(layer.blob)
        notes = layer.annotations
        layers.append(
            LayerInfo(
                digest=layer.blob,
                size=descriptor.size if descriptor else (notes.size if notes else 0),
                media_type=descriptor.media_type if descriptor else "",
                created_at=(notes.created_at if notes else None) or _descriptor_created(descriptor),
                parent=config.layers[layer.parent].blob if layer.parent >= 0 else None,
            )
        )
    return CacheContents(
        shape=shape,
        manifest_digest=digest,
        config_digest=config_digest,
        layers=layers,
        records=config.records,
        total_size=sum(d.size for d in by_digest.values()),
    )
