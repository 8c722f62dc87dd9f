"""Wire models: OCI/Docker manifests and indexes, image configs, BuildKit's cache config.

Field names and defaults follow what BuildKit writes (cache/remotecache/v1/types in
moby/buildkit). Unknown fields are ignored: registries and newer writers add some.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Final

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

OCI_INDEX: Final = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST: Final = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST_LIST: Final = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST: Final = "application/vnd.docker.distribution.manifest.v2+json"
CACHE_CONFIG: Final = "application/vnd.buildkit.cacheconfig.v0"
INDEX_TYPES: Final = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})
MANIFEST_TYPES: Final = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
# Key of the inline cache inside an image config (Go []byte, so base64 in JSON).
INLINE_CACHE_KEY: Final = "moby.buildkit.cache.v0"


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)


def _unset_time(value: datetime | None) -> datetime | None:
    # Go marshals a zero time.Time as 0001-01-01T00:00:00Z; it means "not recorded".
    if value is None or value.year <= 1:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class Descriptor(_Wire):
    media_type: str = Field(default="", alias="mediaType")
    digest: str
    size: int = Field(ge=0)
    annotations: dict[str, str] = Field(default_factory=dict)


class Index(_Wire):
    """OCI image index or Docker manifest list."""

    schema_version: int = Field(default=2, alias="schemaVersion")
    media_type: str | None = Field(default=None, alias="mediaType")
    manifests: list[Descriptor]
    annotations: dict[str, str] = Field(default_factory=dict)


class Manifest(_Wire):
    """OCI image manifest or Docker v2 manifest."""

    schema_version: int = Field(default=2, alias="schemaVersion")
    media_type: str | None = Field(default=None, alias="mediaType")
    config: Descriptor
    layers: list[Descriptor] = Field(default_factory=list)
    annotations: dict[str, str] = Field(default_factory=dict)


class LayerAnnotations(_Wire):
    media_type: str = Field(default="", alias="mediaType")
    diff_id: str = Field(default="", alias="diffID")
    size: int = 0
    created_at: datetime | None = Field(default=None, alias="createdAt")

    _created = field_validator("created_at")(_unset_time)


class CacheLayer(_Wire):
    blob: str
    # BuildKit writes the parent with omitempty, so an absent parent is index 0;
    # a base layer says -1 explicitly.
    parent: int = 0
    annotations: LayerAnnotations | None = None


class CacheInput(_Wire):
    selector: str = ""
    link: int = 0


class CacheResult(_Wire):
    layer: int = 0
    created_at: datetime | None = Field(default=None, alias="createdAt")

    _created = field_validator("created_at")(_unset_time)


class ChainedResult(_Wire):
    layers: list[int] = Field(default_factory=list)
    created_at: datetime | None = Field(default=None, alias="createdAt")

    _created = field_validator("created_at")(_unset_time)


class CacheRecord(_Wire):
    digest: str = ""
    inputs: list[list[CacheInput]] = Field(default_factory=list)
    results: list[CacheResult] = Field(default_factory=list, alias="layers")
    chains: list[ChainedResult] = Field(default_factory=list)


class CacheConfig(_Wire):
    """``application/vnd.buildkit.cacheconfig.v0``."""

    layers: list[CacheLayer] = Field(default_factory=list)
    records: list[CacheRecord] = Field(default_factory=list)


class RootFS(_Wire):
    diff_ids: list[str] = Field(default_factory=list)


class HistoryEntry(_Wire):
    created: datetime | None = None
    created_by: str = ""
    empty_layer: bool = False


class ImageConfig(_Wire):
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
