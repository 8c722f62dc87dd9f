"""OCI image layouts and the documents in them: media types, descriptors, index.json.

Both the Content service that buildkitd writes local caches through
(``buildkit.session``) and the cache readers (``cache``) work on the same layout
directories, so what they share lives here and imports neither of them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field

OCI_INDEX: Final = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST: Final = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST_LIST: Final = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST: Final = "application/vnd.docker.distribution.manifest.v2+json"
INDEX_TYPES: Final = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})
MANIFEST_TYPES: Final = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})

REF_NAME: Final = "org.opencontainers.image.ref.name"
IMAGE_NAME: Final = "io.containerd.image.name"
# Readers of index.json try the containerd image name first (client/ociindex).
NAME_ANNOTATIONS: Final = (IMAGE_NAME, REF_NAME)
# The tag buildctl reads and writes a local cache under when none is given.
DEFAULT_TAG: Final = "latest"


class WireModel(BaseModel):
    """A JSON document others write: unknown fields are ignored, since registries and
    newer writers add some."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)


class Descriptor(WireModel):
    media_type: str = Field(default="", alias="mediaType")
    digest: str
    size: int = Field(ge=0)
    annotations: dict[str, str] = Field(default_factory=dict)


class Index(WireModel):
    """OCI image index or Docker manifest list."""

    schema_version: int = Field(default=2, alias="schemaVersion")
    media_type: str | None = Field(default=None, alias="mediaType")
    manifests: list[Descriptor]
    annotations: dict[str, str] = Field(default_factory=dict)


class Manifest(WireModel):
    """OCI image manifest or Docker v2 manifest."""

    schema_version: int = Field(default=2, alias="schemaVersion")
    media_type: str | None = Field(default=None, alias="mediaType")
    config: Descriptor
    layers: list[Descriptor] = Field(default_factory=list)
    annotations: dict[str, str] = Field(default_factory=dict)


def blob_path(root: Path, digest: str) -> Path:
    """Where the layout at ``root`` keeps ``digest``. Not checked here: a digest from an
    untrusted document can name a path outside the layout."""
    algorithm, _, encoded = digest.partition(":")
    return root / "blobs" / algorithm / encoded


def tagged_manifest(index: Index, tag: str) -> Descriptor | None:
    """The manifest ``index`` names ``tag``, by image name before ref name."""
    for key in NAME_ANNOTATIONS:
        for manifest in index.manifests:
            if manifest.annotations.get(key) == tag:
                return manifest
    return None


def tag_in_index(root: Path, manifest: dict[str, Any], tag: str) -> None:
    """Adds ``manifest`` to ``root/index.json`` under ``tag``, as buildctl does after a
    cache export; replaced whole, so a reader never sees half an index."""
    index_path = root / "index.json"
    try:
        index: dict[str, Any] = json.loads(index_path.read_bytes())
    except FileNotFoundError:
        index = {}
    index.setdefault("schemaVersion", 2)
    index.setdefault("mediaType", OCI_INDEX)
    # The tag moves: any other manifest holding it (by tag, not by image name) loses it.
    index["manifests"] = [
        m
        for m in index.get("manifests") or []
        if m.get("annotations", {}).get(REF_NAME) != tag
        or m.get("annotations", {}).get(IMAGE_NAME, "") != ""
    ]
    entry = {**manifest, "annotations": {**manifest.get("annotations", {}), REF_NAME: tag}}
    index["manifests"].append(entry)
    (root / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    partial = root / "index.json.tmp"
    partial.write_text(json.dumps(index))
    os.replace(partial, index_path)
