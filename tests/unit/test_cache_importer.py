"""Importer, summaries, step attribution and ``cache inspect`` on local caches."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from buildg_dap.buildkit.control import CacheEntry
from buildg_dap.cache.attribution import CacheTally, Origin, step_origin
from buildg_dap.cache.errors import InvalidCacheSpec
from buildg_dap.cache.importer import CacheSummary, human_size, resolve_imports
from buildg_dap.cache.inspect import inspect_command
from buildg_dap.cache.models import CacheConfig
from buildg_dap.cache.reference import sha256_digest
from buildg_dap.cache.sources import parse_bool, parse_cache_spec
from buildg_dap.dockerauth.store import CredentialStore

FIXTURES = Path(__file__).parent / "cache_fixtures"
MANIFEST = (FIXTURES / "max-imagemanifest.manifest.json").read_bytes()
CONFIG = (FIXTURES / "max-imagemanifest.config.json").read_bytes()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def store(tmp_path: Path) -> CredentialStore:
    config_dir = tmp_path / "docker"
    config_dir.mkdir()
    (config_dir / "config.json").write_text("{}")
    return CredentialStore.from_config_dir(config_dir)


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    """The OCI layout of a buildctl ``type=local,mode=max`` export, without layer blobs."""
    root = tmp_path / "cache"
    blobs = root / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    (root / "index.json").write_bytes((FIXTURES / "local-index.json").read_bytes())
    for body in (MANIFEST, CONFIG):
        (blobs / sha256_digest(body).removeprefix("sha256:")).write_bytes(body)
    return root


@pytest.mark.parametrize(
    ("spec", "entry"),
    [
        (
            "127.0.0.1:5000/cache:seed",
            CacheEntry(type="registry", attrs={"ref": "127.0.0.1:5000/cache:seed"}),
        ),
        (
            "type=registry,ref=r.io/c:t,registry.insecure=true",
            CacheEntry(type="registry", attrs={"ref": "r.io/c:t", "registry.insecure": "true"}),
        ),
        (
            "type=local,src=/tmp/x,tag=v1",
            CacheEntry(type="local", attrs={"src": "/tmp/x", "tag": "v1"}),
        ),
        ('type=local,"src=/tmp/a,b"', CacheEntry(type="local", attrs={"src": "/tmp/a,b"})),
        ("type=gha,scope=main", CacheEntry(type="gha", attrs={"scope": "main"})),
    ],
)
def test_parse_cache_spec(spec: str, entry: CacheEntry) -> None:
    assert parse_cache_spec(spec) == entry


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("ref=r.io/c:t", "invalid cache spec 'ref=r.io/c:t': type is required"),
        ("type=local,src", "invalid cache spec 'type=local,src': 'src' is not key=value"),
    ],
)
def test_parse_cache_spec_errors(spec: str, message: str) -> None:
    with pytest.raises(InvalidCacheSpec) as caught:
        parse_cache_spec(spec)
    assert str(caught.value) == message


def test_parse_bool_follows_go() -> None:
    entry = CacheEntry(type="registry", attrs={"a": "True", "b": "0", "c": "yes"})
    assert parse_bool(entry, "a") is True
    assert parse_bool(entry, "b") is False
    assert parse_bool(entry, "missing") is False
    with pytest.raises(InvalidCacheSpec) as caught:
        parse_bool(entry, "c")
    assert str(caught.value) == "failed to parse c: invalid boolean 'yes'"


def test_one_line_summary() -> None:
    summary = CacheSummary(
        ref="127.0.0.1:5000/cache:seed",
        kind="registry",
        digest="sha256:abcd1234" + "0" * 56,
        shape="index",
        records=7,
        layers=3,
        total_size=2_400_000,
        oldest=datetime(2026, 11, 28, 8, 0, 1, tzinfo=UTC),
        newest=datetime(2026, 11, 28, 8, 0, 9, tzinfo=UTC),
    )
    assert summary.one_line() == (
        "cache 127.0.0.1:5000/cache:seed@sha256:abcd1234…: 7 records, 3 layers, 2.4 MB, "
        "created 2026-11-28 08:00:01 \N{EN DASH} 08:00:09 UTC"
    )
    spread = summary.model_copy(
        update={
            "records": 1,
            "layers": 1,
            "total_size": 999,
            "newest": datetime(2026, 11, 29, 1, 2, 3, tzinfo=UTC),
        }
    )
    assert spread.one_line() == (
        "cache 127.0.0.1:5000/cache:seed@sha256:abcd1234…: 1 record, 1 layer, 999 B, "
        "created 2026-11-28 08:00:01 \N{EN DASH} 2026-11-29 01:02:03 UTC"
    )
    undated = summary.model_copy(update={"oldest": None, "newest": None})
    assert undated.one_line().endswith("2.4 MB, creation time not recorded")


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (0, "0 B"),
        (999, "999 B"),
        (1000, "1.0 kB"),
        (1_068_076, "1.1 MB"),
        (3_200_000_000, "3.2 GB"),
    ],
)
def test_human_size(size: int, text: str) -> None:
    assert human_size(size) == text


@pytest.mark.anyio
async def test_resolve_local_cache_pins_the_digest(layout: Path, store: CredentialStore) -> None:
    entry = CacheEntry(type="local", attrs={"src": str(layout)})
    gha = CacheEntry(type="gha", attrs={"scope": "main"})
    [local, passed] = await resolve_imports([entry, gha], store)
    assert local.requested == entry
    assert local.entry == CacheEntry(
        type="local", attrs={"src": str(layout), "digest": sha256_digest(MANIFEST)}
    )
    assert local.summary is not None
    config = CacheConfig.model_validate_json(CONFIG)
    assert (local.summary.records, local.summary.layers) == (
        len(config.records),
        len(config.layers),
    )
    assert local.one_line().startswith(
        f"local cache {layout}@{sha256_digest(MANIFEST)[:15]}…: {len(config.records)} records"
    )
    assert passed.entry == gha and passed.summary is None
    assert passed.one_line() == "cache type=gha: passed to BuildKit unchecked"


@pytest.mark.anyio
async def test_inspect_table(layout: Path, store: CredentialStore) -> None:
    out, err = io.StringIO(), io.StringIO()
    code = await inspect_command(
        f"type=local,src={layout}", as_json=False, out=out, err=err, store=store
    )
    assert (code, err.getvalue()) == (0, "")
    text = out.getvalue()
    config = CacheConfig.model_validate_json(CONFIG)
    layer_sizes = {d["digest"]: d["size"] for d in json.loads(MANIFEST)["layers"]}
    total = sum(layer_sizes.values())
    assert text.splitlines()[2] == "LAYERS"
    assert text.splitlines()[3].split() == ["DIGEST", "SIZE", "CREATED", "PARENT"]
    assert text.rstrip().endswith(
        f"total: {len(config.records)} records, {len(config.layers)} layers, "
        f"{human_size(total)} ({total} bytes)"
    )
    for record in config.records:
        assert record.digest[:15] in text


@pytest.mark.anyio
async def test_inspect_json(layout: Path, store: CredentialStore) -> None:
    out = io.StringIO()
    code = await inspect_command(f"type=local,src={layout}", as_json=True, out=out, store=store)
    assert code == 0
    report = json.loads(out.getvalue())
    config = CacheConfig.model_validate_json(CONFIG)
    assert report["summary"]["digest"] == sha256_digest(MANIFEST)
    assert report["pinned"]["attrs"]["digest"] == sha256_digest(MANIFEST)
    assert [layer["digest"] for layer in report["layers"]] == [x.blob for x in config.layers]
    assert CacheConfig.model_validate({"records": report["records"]}).records == config.records


@pytest.mark.anyio
async def test_inspect_error(tmp_path: Path, store: CredentialStore) -> None:
    out, err = io.StringIO(), io.StringIO()
    missing = tmp_path / "nothing"
    code = await inspect_command(
        f"type=local,src={missing}", as_json=False, out=out, err=err, store=store
    )
    assert (code, out.getvalue()) == (1, "")
    assert err.getvalue() == f"error: local cache {missing} not found (no index.json)\n"


def test_attribution() -> None:
    imports = ["127.0.0.1:5000/cache:seed"]
    assert step_origin(cached=False, local_cache_hit_possible=False, imports=imports).origin is (
        Origin.EXECUTED
    )
    imported = step_origin(cached=True, local_cache_hit_possible=False, imports=imports)
    assert imported.origin is Origin.IMPORTED
    assert imported.describe() == "from imported cache 127.0.0.1:5000/cache:seed"
    ambiguous = step_origin(cached=True, local_cache_hit_possible=True, imports=imports)
    assert ambiguous.origin is Origin.CACHED
    assert ambiguous.describe() == "from cache (the builder's own or an imported one)"
    no_imports = step_origin(cached=True, local_cache_hit_possible=False, imports=[])
    assert no_imports.origin is Origin.CACHED
    several = step_origin(cached=True, local_cache_hit_possible=False, imports=["a", "b"])
    assert several.describe() == "from one of the imported caches: a, b"


def test_tally_keeps_the_first_origin_of_a_step() -> None:
    tally = CacheTally()
    cached = step_origin(cached=True, local_cache_hit_possible=False, imports=["c"])
    executed = step_origin(cached=False, local_cache_hit_possible=False, imports=["c"])
    tally.record("sha256:1", cached)
    tally.record("sha256:2", cached)
    assert tally.record("sha256:3", executed) == executed
    # Later solves report the executed step as CACHED; it stays executed.
    assert tally.record("sha256:3", cached) == executed
    assert (tally.from_cache, tally.executed) == (2, 1)
    assert tally.summary() == "2 steps from cache, 1 executed"
    single = CacheTally()
    single.record("sha256:1", cached)
    assert single.summary() == "1 step from cache, 0 executed"
