"""Wire models: image configs and BuildKit's cache config (manifests and indexes are in
buildg_dap.oci).

Field names and defaults follow what BuildKit writes (cache/remotecache/v1/types in
moby/buildkit). Unknown fields are ignored: registries and newer writers add some.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Final

from pydantic import Field, TypeAdapter, ValidationError, field_validator

from buildg_dap.oci import (
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    INDEX_TYPES,
    MANIFEST_TYPES,
    WireModel,
)

CACHE_CONFIG: Final = "application/vnd.buildkit.cacheconfig.v0"
# Key of the inline cache inside an image config (Go []byte, so base64 in JSON).
INLINE_CACHE_KEY: Final = "moby.buildkit.cache.v0"


def _unset_time(value: datetime | None) -> datetime | None:
    # Go marshals a zero time.Time as 0001-01-01T00:00:00Z; it means "not recorded".
    if value is None or value.year <= 1:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class LayerAnnotations(WireModel):
    media_type: str = Field(default="", alias="mediaType")
    diff_id: str = Field(default="", alias="diffID")
    size: int = 0
    created_at: datetime | None = Field(default=None, alias="createdAt")

    _created = field_validator("created_at")(_unset_time)


class CacheLayer(WireModel):
    blob: str
    # BuildKit writes the parent with omitempty, so an absent parent is index 0;
    # a base layer says -1 explicitly.
    parent: int = 0
    annotations: LayerAnnotations | None = None


class CacheInput(WireModel):
    selector: str = ""
    link: int = 0


class CacheResult(WireModel):
    layer: int = 0
    created_at: datetime | None = Field(default=None, alias="createdAt")

    _created = field_validator("created_at")(_unset_time)


class ChainedResult(WireModel):
    layers: list[int] = Field(default_factory=list)
    created_at: datetime | None = Field(default=None, alias="createdAt")

    _created = field_validator("created_at")(_unset_time)


class CacheRecord(WireModel):
    digest: str = ""
    inputs: list[list[CacheInput]] = Field(default_factory=list)
    results: list[CacheResult] = Field(default_factory=list, alias="layers")
    chains: list[ChainedResult] = Field(default_factory=list)


class CacheConfig(WireModel):
    """``application/vnd.buildkit.cacheconfig.v0``."""

    layers: list[CacheLayer] = Field(default_factory=list)
    records: list[CacheRecord] = Field(default_factory=list)


class RootFS(WireModel):
    diff_ids: list[str] = Field(default_factory=list)


class HistoryEntry(WireModel):
    created: datetime | None = None
    created_by: str = ""
    empty_layer: bool = False


class ImageConfig(WireModel):
    """The parts of an image config that matter for an inline cache."""

    rootfs: RootFS = Field(default_factory=RootFS)
    history: list[HistoryEntry] = Field(default_factory=list)
    inline_cache: str | None = Field(default=None, alias=INLINE_CACHE_KEY)

    def inline_records(self) -> list[CacheRecord] | None:
        """The inline cache records, or None when the image carries none.

        Raises ValueError when the key is present but does not decode.
        """
        if self.inline_cache is None:
            return None
        try:
            raw = base64.b64decode(self.inline_cache, validate=True)
            return _RECORDS.validate_json(raw)
        except (binascii.Error, ValidationError) as exc:
            raise ValueError(f"invalid {INLINE_CACHE_KEY}: {_first_line(exc)}") from None


_RECORDS: Final = TypeAdapter(list[CacheRecord])


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0]


def detect_media_type(document: dict[str, object]) -> str:
    """The manifest kind of a JSON document, as BuildKit infers it.

    Follows imageutil.DetectManifestBlobMediaType: the fields present decide between
    index and manifest, and a declared mediaType must agree with them.
    """
    is_manifest = "config" in document or "layers" in document
    if is_manifest and "manifests" in document:
        raise ValueError("invalid ambiguous manifest and manifest list")
    inferred = DOCKER_MANIFEST if is_manifest else DOCKER_MANIFEST_LIST
    declared = document.get("mediaType")
    if declared in INDEX_TYPES or declared in MANIFEST_TYPES:
        if (declared in MANIFEST_TYPES) != is_manifest:
            raise ValueError("mediaType in manifest does not match manifest contents")
        return str(declared)
    return inferred
