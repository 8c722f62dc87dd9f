"""The cache importer against the lab registry and caches exported by buildctl."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import pytest

from buildg_dap.buildkit.control import CacheEntry
from buildg_dap.cache.errors import (
    CacheNotFound,
    CacheUnauthorized,
    NotABuildCache,
    RegistryUnreachable,
)
from buildg_dap.cache.importer import load_cache, resolve_imports
from buildg_dap.cache.inspect import inspect_command
from buildg_dap.cache.models import CACHE_CONFIG
from buildg_dap.dockerauth.store import CredentialStore
from tests.lab import Buildkitd, Registry, buildctl_build

pytestmark = pytest.mark.integration

SEED = """\
FROM busybox AS build1
RUN echo hello > /hello && echo unused > /unused

FROM busybox AS build2
RUN echo hi > /hi

FROM busybox
COPY --from=build1 /hello /
COPY --from=build2 /hi /
RUN cat /hello /hi
"""
OTHER = "FROM busybox\nRUN echo other > /other\n"
ACCEPT = ", ".join(
    [
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ]
)
VARIANTS = [
    "mode=min,image-manifest=false,oci-mediatypes=true",
    "mode=max,image-manifest=false,oci-mediatypes=true",
    "mode=min,image-manifest=true,oci-mediatypes=true",
    "mode=max,image-manifest=true,oci-mediatypes=true",
    "mode=min,oci-mediatypes=false",
    "mode=max,oci-mediatypes=false",
]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def docker_config(path: Path, auths: dict[str, tuple[str, str]]) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    encoded = {
        host: {"auth": base64.b64encode(f"{user}:{password}".encode()).decode()}
        for host, (user, password) in auths.items()
    }
    (path / "config.json").write_text(json.dumps({"auths": encoded}))
    return path


@pytest.fixture
def store(tmp_path: Path) -> CredentialStore:
    return CredentialStore.from_config_dir(docker_config(tmp_path / "docker", {}))


def export(builder: Buildkitd, dockerfile: str, workdir: Path, cache_to: str) -> None:
    context = workdir / "context"
    context.mkdir(parents=True, exist_ok=True)
    (context / "Dockerfile").write_text(dockerfile)
    buildctl_build(builder, context, "--export-cache",
        cache_to,
    )


def manifest_of(registry: Registry, repository: str, reference: str) -> dict[str, object]:
    with registry.client() as client:
        answer = client.get(f"/v2/{repository}/manifests/{reference}", headers={"Accept": ACCEPT})
    assert answer.status_code == 200, answer.text
    document: dict[str, object] = answer.json()
    return document


def distinct_layer_sizes(manifest: dict[str, object]) -> int:
    entries = manifest.get("manifests") or manifest["layers"]
    assert isinstance(entries, list)
    return sum({e["digest"]: e["size"] for e in entries if e["mediaType"] != CACHE_CONFIG}.values())


@pytest.mark.anyio
@pytest.mark.parametrize("options", VARIANTS)
async def test_buildctl_caches_parse_and_totals_match(
    options: str, builder_a: Buildkitd, registry: Registry, tmp_path: Path, store: CredentialStore
) -> None:
    tag = options.replace("=", "-").replace(",", "-")
    ref = f"{registry.host}/cache:{tag}"
    export(builder_a, SEED, tmp_path, f"type=registry,ref={ref},{options},registry.insecure=true")
    manifest = manifest_of(registry, "cache", tag)

    cache = await load_cache(CacheEntry(type="registry", attrs={"ref": ref}), store)

    image_manifest = "image-manifest=true" in options
    assert cache.contents.shape == ("image-manifest" if image_manifest else "index")
    assert len(cache.contents.records) > 0 and len(cache.contents.layers) > 0
    assert cache.contents.total_size == distinct_layer_sizes(manifest)
    out = io.StringIO()
    assert await inspect_command(ref, as_json=True, out=out, store=store) == 0
    report = json.loads(out.getvalue())
    assert report["summary"]["total_size"] == distinct_layer_sizes(manifest)
    assert report["summary"]["digest"] == cache.contents.manifest_digest


@pytest.mark.anyio
async def test_pinned_digest_survives_a_moved_tag(
    builder_a: Buildkitd,
    fresh_builder: Buildkitd,
    registry: Registry,
    tmp_path: Path,
    store: CredentialStore,
) -> None:
    ref = f"{registry.host}/cache:moving"
    export(builder_a, SEED, tmp_path / "seed", f"type=registry,ref={ref},mode=max")
    entry = CacheEntry(type="registry", attrs={"ref": ref, "registry.insecure": "true"})
    [resolved] = await resolve_imports([entry], store)
    assert resolved.summary is not None
    pinned_digest = resolved.summary.digest
    assert resolved.entry.attrs == {
        "ref": f"{registry.host}/cache@{pinned_digest}",
        "registry.insecure": "true",
    }

    # The tag moves to another cache while the session runs.
    export(builder_a, OTHER, tmp_path / "other", f"type=registry,ref={ref},mode=max")
    [moved] = await resolve_imports([entry], store)
    assert moved.summary is not None and moved.summary.digest != pinned_digest

    # The pinned entry still names the first cache, and BuildKit loads it from there: a
    # fresh builder importing it finds the seed's RUN steps in cache.
    again = await load_cache(resolved.entry, store)
    assert again.contents.manifest_digest == pinned_digest
    context = tmp_path / "seed" / "context"
    done = buildctl_build(fresh_builder, context, "--progress=plain",
        "--import-cache",
        ",".join(f"{k}={v}" for k, v in {"type": "registry", **resolved.entry.attrs}.items()),
    )
    cached = cached_steps(done.stderr)
    for step in ("RUN echo hello > /hello", "RUN echo hi > /hi", "RUN cat /hello /hi"):
        assert any(step in name for name in cached), done.stderr


def cached_steps(plain: str) -> list[str]:
    """Names of the vertices that ``--progress=plain`` reported as CACHED."""
    names: dict[str, str] = {}
    cached = []
    for line in plain.splitlines():
        number, _, rest = line.partition(" ")
        if rest.startswith("["):
            names.setdefault(number, rest)
        elif rest == "CACHED":
            cached.append(names[number])
    return cached


@pytest.mark.anyio
async def test_an_image_is_not_a_cache(registry: Registry, store: CredentialStore) -> None:
    ref = f"{registry.host}/library/busybox:latest"
    with pytest.raises(NotABuildCache) as caught:
        await resolve_imports([CacheEntry(type="registry", attrs={"ref": ref})], store)
    assert str(caught.value) == (
        f"{ref} is an image, not a BuildKit build cache (no "
        "application/vnd.buildkit.cacheconfig.v0 config); export one with "
        "--cache-to type=registry,ref=...,mode=max"
    )


@pytest.mark.anyio
async def test_missing_cache(registry: Registry, store: CredentialStore) -> None:
    ref = f"{registry.host}/cache:never-pushed"
    out, err = io.StringIO(), io.StringIO()
    assert await inspect_command(ref, as_json=False, out=out, err=err, store=store) == 1
    assert err.getvalue() == f"error: cache {ref} not found (manifest unknown)\n"
    with pytest.raises(CacheNotFound):
        await resolve_imports([CacheEntry(type="registry", attrs={"ref": ref})], store)


@pytest.mark.anyio
async def test_stopped_registry_is_unreachable(store: CredentialStore) -> None:
    stopped = Registry()
    host = stopped.host
    stopped.stop()
    entry = CacheEntry(type="registry", attrs={"ref": f"{host}/cache:seed"})
    with pytest.raises(RegistryUnreachable) as caught:
        await resolve_imports([entry], store)
    assert str(caught.value) == f"cannot reach registry {host}: connection refused"


@pytest.mark.anyio
async def test_basic_auth_from_docker_config(
    builder_a: Buildkitd,
    auth_registry: Registry,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert auth_registry.username is not None and auth_registry.password is not None
    host = auth_registry.host
    good = docker_config(
        tmp_path / "good", {host: (auth_registry.username, auth_registry.password)}
    )
    # buildctl reads DOCKER_CONFIG too: the push uses the same credentials.
    monkeypatch.setenv("DOCKER_CONFIG", str(good))
    ref = f"{host}/cache:auth"
    export(builder_a, SEED, tmp_path, f"type=registry,ref={ref},mode=max")
    entry = CacheEntry(type="registry", attrs={"ref": ref})

    [resolved] = await resolve_imports([entry], CredentialStore.from_config_dir(good))
    assert resolved.summary is not None and resolved.summary.records > 0

    bad_store = CredentialStore.from_config_dir(
        docker_config(tmp_path / "bad", {host: (auth_registry.username, "wrong")})
    )
    with pytest.raises(CacheUnauthorized) as caught:
        await resolve_imports([entry], bad_store)
    where = "; ".join(bad_store.sources(host))
    assert str(tmp_path / "bad") in where
    assert str(caught.value) == (
        f"registry {host} denied access to {ref} (HTTP 401: authentication required); "
        f"the credentials for user '{auth_registry.username}' were refused. Credentials "
        f"were looked for in: {where}"
    )
