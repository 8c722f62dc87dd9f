"""Local caches (``type=local,src=DIR``): an OCI image layout directory.

BuildKit's local importer needs an explicit ``digest``; its client picks it from
``index.json`` by ``tag`` (default ``latest``), matching the containerd image-name
annotation first and the OCI ref-name annotation second (client/ociindex).
"""

from __future__ import annotations

from pathlib import Path

import anyio
from pydantic import ValidationError

from buildg_dap.cache.errors import CacheCorrupt, CacheNotFound, InvalidCacheSpec
from buildg_dap.cache.reference import InvalidReference, sha256_digest, validate_digest
from buildg_dap.oci import DEFAULT_TAG, Descriptor, Index, blob_path, tagged_manifest


class LocalLayout:
    """Reads an OCI layout at ``root``; implements contents.ContentReader."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def __str__(self) -> str:
        return f"local cache {self.root}"

    async def select(self, *, tag: str | None, digest: str | None) -> Descriptor:
        """The manifest descriptor for ``digest`` if given, else for ``tag``."""
        index_path = anyio.Path(self.root / "index.json")
        try:
            raw = await index_path.read_bytes()
        except FileNotFoundError:
            raise CacheNotFound(f"{self} not found (no index.json)") from None
        try:
            index = Index.model_validate_json(raw)
        except ValidationError as exc:
            raise CacheCorrupt(f"{index_path} is invalid: {exc.errors()[0]['msg']}") from None
        if digest:
            _check_digest(digest)
            size = await self._blob_size(digest)
            listed = [m for m in index.manifests if m.digest == digest]
            # A digest need not be listed in index.json; BuildKit only needs the blob.
            return listed[0] if listed else Descriptor(digest=digest, size=size)
        wanted = tag or DEFAULT_TAG
        manifest = tagged_manifest(index, wanted)
        if manifest is not None:
            return manifest
        raise CacheNotFound(f"{self} has no manifest tagged {wanted!r} in index.json")

    async def read(self, descriptor: Descriptor, *, limit: int) -> bytes:
        size = await self._blob_size(descriptor.digest)
        if size > limit:
            raise CacheCorrupt(
                f"blob {descriptor.digest} of {self} is too large ({size} > {limit} bytes)"
            )
        body = await self._blob_path(descriptor.digest).read_bytes()
        actual = sha256_digest(body)
        if actual != descriptor.digest:
            raise CacheCorrupt(
                f"blob {descriptor.digest} of {self} is corrupt: content has digest {actual}"
            )
        return body

    def _blob_path(self, digest: str) -> anyio.Path:
        return anyio.Path(blob_path(self.root, digest))

    async def _blob_size(self, digest: str) -> int:
        try:
            return (await self._blob_path(digest).stat()).st_size
        except FileNotFoundError:
            raise CacheNotFound(f"{self} has no blob {digest}") from None


def _check_digest(digest: str) -> None:
    try:
        validate_digest(digest)
    except InvalidReference as exc:
        raise InvalidCacheSpec(f"invalid digest attribute of a local cache: {exc}") from None
