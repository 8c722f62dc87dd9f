"""Cache formats, parsed from manifests and configs that buildctl v0.32.2 exported.

The files in cache_fixtures/ were fetched from the lab registry after
``buildctl build --export-cache type=registry,...`` (see cache_fixtures/README.md).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from buildg_dap.cache.contents import CacheContents, read_contents
from buildg_dap.cache.errors import CacheCorrupt, CacheNotFound, NotABuildCache
from buildg_dap.cache.local import LocalLayout
from buildg_dap.cache.models import CACHE_CONFIG, CacheConfig, ImageConfig, detect_media_type
from buildg_dap.cache.reference import sha256_digest
from buildg_dap.oci import DOCKER_MANIFEST_LIST, OCI_INDEX, Descriptor

FIXTURES = Path(__file__).parent / "cache_fixtures"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class BlobsReader:
    """Serves blobs by digest and verifies nothing: the tests feed it exact content."""

    def __init__(self, *blobs: bytes) -> None:
        self.blobs = {sha256_digest(b): b for b in blobs}
        self.read_digests: list[str] = []

    async def read(self, descriptor: Descriptor, *, limit: int) -> bytes:
        self.read_digests.append(descriptor.digest)
        return self.blobs[descriptor.digest]


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


async def parse_fixture(name: str) -> CacheContents:
    manifest = fixture(f"{name}.manifest.json")
    reader = BlobsReader(fixture(f"{name}.config.json"))
    return await read_contents(name, manifest, sha256_digest(manifest), reader)


def manifest_layer_sizes(name: str) -> int:
    """Sum of the manifest's layer sizes, each distinct blob once.

    BuildKit lists a blob once per cache-config layer that uses it (these exports list
    one blob twice), but the registry stores it once.
    """
    document = json.loads(fixture(f"{name}.manifest.json"))
    entries = document.get("manifests") or document["layers"]
    sizes = {e["digest"]: e["size"] for e in entries if e["mediaType"] != CACHE_CONFIG}
    assert len(sizes) < len(entries) - (1 if "manifests" in document else 0)
    return sum(sizes.values())


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("name", "shape"),
    [
        ("max-index-oci", "index"),
        ("max-index-docker", "index"),
        ("min-index-oci", "index"),
        ("max-imagemanifest", "image-manifest"),
    ],
)
async def test_exported_caches_parse(name: str, shape: str) -> None:
    contents = await parse_fixture(name)
    config = CacheConfig.model_validate_json(fixture(f"{name}.config.json"))
    assert contents.shape == shape
    assert contents.config_digest == sha256_digest(fixture(f"{name}.config.json"))
    assert len(contents.records) == len(config.records) > 0
    assert [layer.digest for layer in contents.layers] == [layer.blob for layer in config.layers]
    assert contents.total_size == manifest_layer_sizes(name)


@pytest.mark.anyio
async def test_layers_resolve_parents_and_creation_times() -> None:
    contents = await parse_fixture("max-index-oci")
    config = json.loads(fixture("max-index-oci.config.json"))
    index = json.loads(fixture("max-index-oci.manifest.json"))
    created = {
        m["digest"]: m["annotations"]["buildkit/createdat"]
        for m in index["manifests"]
        if m["mediaType"] != CACHE_CONFIG
    }
    for layer, raw in zip(contents.layers, config["layers"], strict=True):
        # BuildKit omits "parent" when it is 0, so a missing parent means layer 0.
        parent = raw.get("parent", 0)
        expected = None if parent == -1 else config["layers"][parent]["blob"]
        assert layer.parent == expected
        assert layer.created_at == datetime.fromisoformat(created[raw["blob"]][:26] + "+00:00")
    span = contents.created_range
    assert span is not None and span[0] <= span[1]
    assert span[0].tzinfo is not None


@pytest.mark.anyio
async def test_docker_and_oci_shapes_hold_the_same_cache() -> None:
    oci = await parse_fixture("max-index-oci")
    docker = await parse_fixture("max-index-docker")
    assert json.loads(fixture("max-index-docker.manifest.json"))["mediaType"] == (
        DOCKER_MANIFEST_LIST
    )
    assert json.loads(fixture("max-index-oci.manifest.json"))["mediaType"] == OCI_INDEX
    assert docker.records == oci.records
    assert docker.total_size == oci.total_size


@pytest.mark.anyio
async def test_inline_cache_in_an_image() -> None:
    contents = await parse_fixture("inline-image")
    manifest = json.loads(fixture("inline-image.manifest.json"))
    image = ImageConfig.model_validate_json(fixture("inline-image.config.json"))
    records = image.inline_records()
    assert records is not None
    assert contents.shape == "inline"
    assert contents.config_digest is None
    assert contents.records == records
    assert [layer.digest for layer in contents.layers] == [m["digest"] for m in manifest["layers"]]
    # Inline layers form one chain, in image order, dated from the image history.
    assert contents.layers[0].parent is None
    assert [layer.parent for layer in contents.layers[1:]] == [
        m["digest"] for m in manifest["layers"][:-1]
    ]
    history = [
        h
        for h in json.loads(fixture("inline-image.config.json"))["history"]
        if not h.get("empty_layer")
    ]
    assert contents.layers[0].created_at == datetime.fromisoformat(
        history[0]["created"][:26] + "+00:00"
    )
    assert contents.total_size == sum(m["size"] for m in manifest["layers"])


@pytest.mark.anyio
async def test_an_ordinary_image_is_not_a_cache() -> None:
    with pytest.raises(NotABuildCache) as caught:
        await parse_fixture("busybox-image")
    assert str(caught.value) == (
        "busybox-image is an image, not a BuildKit build cache (no "
        "application/vnd.buildkit.cacheconfig.v0 config); export one with "
        "--cache-to type=registry,ref=...,mode=max"
    )


@pytest.mark.anyio
async def test_truncated_manifest_is_corrupt() -> None:
    manifest = fixture("max-index-oci.manifest.json")[:100]
    digest = sha256_digest(manifest)
    with pytest.raises(CacheCorrupt) as caught:
        await read_contents("r.io/c:t", manifest, digest, BlobsReader())
    assert str(caught.value).startswith(
        f"manifest {digest} of r.io/c:t is not valid JSON (100 bytes): "
    )


@pytest.mark.anyio
async def test_truncated_cache_config_is_corrupt() -> None:
    config = fixture("max-index-oci.config.json")[:-20]
    document = json.loads(fixture("max-index-oci.manifest.json"))
    for entry in document["manifests"]:
        if entry["mediaType"] == CACHE_CONFIG:
            entry["digest"], entry["size"] = sha256_digest(config), len(config)
    manifest = json.dumps(document).encode()
    with pytest.raises(CacheCorrupt) as caught:
        await read_contents("r.io/c:t", manifest, sha256_digest(manifest), BlobsReader(config))
    assert str(caught.value).startswith(
        f"cache config {sha256_digest(config)} of r.io/c:t is invalid: document: Invalid JSON"
    )


@pytest.mark.anyio
async def test_out_of_range_links_are_corrupt() -> None:
    config = json.loads(fixture("max-index-oci.config.json"))
    config["records"][0]["inputs"][0][0]["link"] = 99
    body = json.dumps(config).encode()
    document = json.loads(fixture("max-index-oci.manifest.json"))
    for entry in document["manifests"]:
        if entry["mediaType"] == CACHE_CONFIG:
            entry["digest"], entry["size"] = sha256_digest(body), len(body)
    manifest = json.dumps(document).encode()
    with pytest.raises(CacheCorrupt) as caught:
        await read_contents("r.io/c:t", manifest, sha256_digest(manifest), BlobsReader(body))
    assert str(caught.value) == (
        f"cache config {sha256_digest(body)} of r.io/c:t is invalid: record 0 links to "
        f"record 99 of {len(config['records'])}"
    )


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"manifests": []}, DOCKER_MANIFEST_LIST),
        ({"mediaType": OCI_INDEX, "manifests": []}, OCI_INDEX),
        ({"config": {}, "layers": []}, "application/vnd.docker.distribution.manifest.v2+json"),
    ],
)
def test_media_type_detection(document: dict[str, object], expected: str) -> None:
    assert detect_media_type(document) == expected


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"config": {}, "manifests": []}, "invalid ambiguous manifest and manifest list"),
        (
            {"mediaType": OCI_INDEX, "config": {}},
            "mediaType in manifest does not match manifest contents",
        ),
    ],
)
def test_media_type_conflicts(document: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError) as caught:
        detect_media_type(document)
    assert str(caught.value) == message


def test_zero_go_time_means_unrecorded() -> None:
    config = CacheConfig.model_validate(
        {"records": [{"layers": [{"layer": 0, "createdAt": "0001-01-01T00:00:00Z"}]}]}
    )
    assert config.records[0].results[0].created_at is None
    stamped = CacheConfig.model_validate(
        {"records": [{"layers": [{"layer": 0, "createdAt": "2026-01-02T03:04:05Z"}]}]}
    )
    assert stamped.records[0].results[0].created_at == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def write_layout(root: Path) -> None:
    """The OCI layout buildctl wrote for type=local,mode=max (same manifest and config)."""
    blobs = root / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    (root / "index.json").write_bytes(fixture("local-index.json"))
    for name in ("max-imagemanifest.manifest.json", "max-imagemanifest.config.json"):
        body = fixture(name)
        (blobs / sha256_digest(body).removeprefix("sha256:")).write_bytes(body)


@pytest.mark.anyio
async def test_local_layout_by_tag_and_digest(tmp_path: Path) -> None:
    write_layout(tmp_path)
    layout = LocalLayout(tmp_path)
    expected = sha256_digest(fixture("max-imagemanifest.manifest.json"))
    by_tag = await layout.select(tag=None, digest=None)
    assert by_tag.digest == expected
    by_digest = await layout.select(tag="ignored", digest=expected)
    assert by_digest.digest == expected
    contents = await read_contents(
        str(layout), await layout.read(by_tag, limit=1 << 20), expected, layout
    )
    assert contents.shape == "image-manifest"
    assert contents.total_size == manifest_layer_sizes("max-imagemanifest")


@pytest.mark.anyio
async def test_local_layout_errors(tmp_path: Path) -> None:
    layout = LocalLayout(tmp_path)
    with pytest.raises(CacheNotFound) as caught:
        await layout.select(tag=None, digest=None)
    assert str(caught.value) == f"local cache {tmp_path} not found (no index.json)"
    write_layout(tmp_path)
    with pytest.raises(CacheNotFound) as caught:
        await layout.select(tag="v2", digest=None)
    assert str(caught.value) == f"local cache {tmp_path} has no manifest tagged 'v2' in index.json"
    missing = "sha256:" + "0" * 64
    with pytest.raises(CacheNotFound) as caught:
        await layout.select(tag=None, digest=missing)
    assert str(caught.value) == f"local cache {tmp_path} has no blob {missing}"


@pytest.mark.anyio
async def test_local_blob_digest_mismatch_is_corrupt(tmp_path: Path) -> None:
    write_layout(tmp_path)
    layout = LocalLayout(tmp_path)
    top = await layout.select(tag=None, digest=None)
    blob = tmp_path / "blobs" / "sha256" / top.digest.removeprefix("sha256:")
    blob.write_bytes(blob.read_bytes()[:-1] + b" ")
    with pytest.raises(CacheCorrupt) as caught:
        await layout.read(top, limit=1 << 20)
    assert str(caught.value) == (
        f"blob {top.digest} of local cache {tmp_path} is corrupt: content has digest "
        f"{sha256_digest(blob.read_bytes())}"
    )
