"""The distribution client against small HTTP servers the tests run on 127.0.0.1."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import pytest
from anyio.abc import SocketStream

from buildg_dap.cache.errors import (
    CacheCorrupt,
    CacheNotFound,
    CacheUnauthorized,
    RegistryFailed,
    RegistryUnreachable,
)
from buildg_dap.cache.reference import Reference, sha256_digest
from buildg_dap.cache.registry import RegistryClient, RetryPolicy
from buildg_dap.dockerauth.config import is_loopback
from buildg_dap.dockerauth.store import CredentialStore
from buildg_dap.oci import OCI_MANIFEST

FAST = RetryPolicy(attempts=3, first_delay=0.01, max_delay=0.05, total_timeout=10)
MANIFEST = json.dumps(
    {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "x", "digest": "sha256:" + "0" * 64, "size": 1},
        "layers": [],
    }
).encode()
MANIFEST_DIGEST = sha256_digest(MANIFEST)
NOT_FOUND = json.dumps(
    {"errors": [{"code": "MANIFEST_UNKNOWN", "message": "manifest unknown", "detail": "x"}]}
).encode()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]


@dataclass
class Reply:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    # Announce the full length but send only this many bytes, then close.
    cut_at: int | None = None


Handler = Callable[[Request], Reply]


async def _serve_one(stream: SocketStream, handler: Handler, seen: list[Request]) -> None:
    async with stream:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = await stream.receive()
            data += chunk
        head = data.split(b"\r\n\r\n", 1)[0].decode()
        line, *header_lines = head.split("\r\n")
        method, target, _ = line.split(" ", 2)
        headers = {}
        for header in header_lines:
            key, _, value = header.partition(":")
            headers[key.strip().lower()] = value.strip()
        request = Request(method, target, headers)
        seen.append(request)
        reply = handler(request)
        body = reply.body if reply.cut_at is None else reply.body[: reply.cut_at]
        lines = [
            f"HTTP/1.1 {reply.status} X",
            f"Content-Length: {len(reply.body)}",
            "Connection: close",
        ]
        lines += [f"{k}: {v}" for k, v in reply.headers.items()]
        await stream.send(("\r\n".join(lines) + "\r\n\r\n").encode() + body)


@asynccontextmanager
async def serving(handler: Handler) -> AsyncIterator[tuple[str, list[Request]]]:
    """Yields ``127.0.0.1:PORT`` and the list of requests received so far."""
    seen: list[Request] = []
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    async with listener, anyio.create_task_group() as group:
        group.start_soon(listener.serve, lambda s: _serve_one(s, handler, seen))
        yield f"127.0.0.1:{port}", seen
        group.cancel_scope.cancel()


def write_docker_config(tmp_path: Path, host: str, username: str, password: str) -> Path:
    pair = base64.b64encode(f"{username}:{password}".encode()).decode()
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"auths": {host: {"auth": pair}}}))
    return tmp_path


def empty_store(tmp_path: Path) -> CredentialStore:
    (tmp_path / "config.json").write_text("{}")
    return CredentialStore.from_config_dir(tmp_path)


def store_for(tmp_path: Path, host: str, username: str, password: str) -> CredentialStore:
    return CredentialStore.from_config_dir(write_docker_config(tmp_path, host, username, password))


def registry_routes(manifest: Handler) -> Handler:
    def handle(request: Request) -> Reply:
        if request.path == "/v2/":
            return Reply(200, b"{}")
        return manifest(request)

    return handle


def ok_manifest(_: Request) -> Reply:
    return Reply(
        200,
        MANIFEST,
        {"Content-Type": OCI_MANIFEST, "Docker-Content-Digest": MANIFEST_DIGEST},
    )


@pytest.mark.anyio
async def test_manifest_with_digest_and_content_negotiation(tmp_path: Path) -> None:
    async with (
        serving(registry_routes(ok_manifest)) as (host, seen),
        RegistryClient(host, empty_store(tmp_path), policy=FAST) as client,
    ):
        fetched = await client.get_manifest(Reference.parse(f"{host}/cache:seed"))
    assert (fetched.digest, fetched.media_type, fetched.body) == (
        MANIFEST_DIGEST,
        OCI_MANIFEST,
        MANIFEST,
    )
    assert [r.path for r in seen] == ["/v2/", "/v2/cache/manifests/seed"]
    accept = seen[1].headers["accept"]
    for media_type in (
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ):
        assert media_type in accept


@pytest.mark.anyio
async def test_not_found(tmp_path: Path) -> None:
    handler = registry_routes(lambda _: Reply(404, NOT_FOUND))
    async with (
        serving(handler) as (host, _),
        RegistryClient(host, empty_store(tmp_path), policy=FAST) as client,
    ):
        with pytest.raises(CacheNotFound) as caught:
            await client.get_manifest(Reference.parse(f"{host}/cache:seed"))
    assert str(caught.value) == f"cache {host}/cache:seed not found (manifest unknown)"


@pytest.mark.anyio
async def test_server_errors_are_retried(tmp_path: Path) -> None:
    calls: list[int] = []

    def flaky(request: Request) -> Reply:
        calls.append(1)
        return Reply(500, b"oops") if len(calls) <= 2 else ok_manifest(request)

    async with (
        serving(registry_routes(flaky)) as (host, _),
        RegistryClient(host, empty_store(tmp_path), policy=FAST) as client,
    ):
        fetched = await client.get_manifest(Reference.parse(f"{host}/cache:seed"))
    assert fetched.digest == MANIFEST_DIGEST
    assert len(calls) == 3


@pytest.mark.anyio
async def test_persistent_server_errors_give_up_after_the_attempts(tmp_path: Path) -> None:
    calls: list[int] = []

    def broken(_: Request) -> Reply:
        calls.append(1)
        return Reply(503, b"")

    async with (
        serving(registry_routes(broken)) as (host, _),
        RegistryClient(host, empty_store(tmp_path), policy=FAST) as client,
    ):
        with pytest.raises(RegistryFailed) as caught:
            await client.get_manifest(Reference.parse(f"{host}/cache:seed"))
    assert len(calls) == 3
    assert str(caught.value) == (
        f"registry {host} failed to serve cache {host}/cache:seed: HTTP 503 x"
    )


@pytest.mark.anyio
async def test_unreachable(tmp_path: Path) -> None:
    # A port that was free a moment ago and has nobody listening now.
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    await listener.aclose()
    host = f"127.0.0.1:{port}"
    async with RegistryClient(host, empty_store(tmp_path), policy=FAST) as client:
        with pytest.raises(RegistryUnreachable) as caught:
            await client.get_manifest(Reference.parse(f"{host}/cache:seed"))
    assert str(caught.value) == f"cannot reach registry {host}: connection refused"


@pytest.mark.anyio
async def test_body_not_matching_the_announced_digest_is_corrupt(tmp_path: Path) -> None:
    wrong = "sha256:" + "1" * 64

    def lying(_: Request) -> Reply:
        return Reply(200, MANIFEST, {"Docker-Content-Digest": wrong})

    async with (
        serving(registry_routes(lying)) as (host, _),
        RegistryClient(host, empty_store(tmp_path), policy=FAST) as client,
    ):
        with pytest.raises(CacheCorrupt) as caught:
            await client.get_manifest(Reference.parse(f"{host}/cache:seed"))
    assert str(caught.value) == (
        f"manifest of {host}/cache:seed is corrupt: expected digest {wrong}, content has "
        f"{MANIFEST_DIGEST} ({len(MANIFEST)} bytes)"
    )


@pytest.mark.anyio
async def test_blob_digest_is_verified(tmp_path: Path) -> None:
    blob = b'{"layers":[]}'
    digest = sha256_digest(blob)
    handler = registry_routes(lambda _: Reply(200, blob[:-1] + b"]"))
    async with (
        serving(handler) as (host, _),
        RegistryClient(host, empty_store(tmp_path), policy=FAST) as client,
    ):
        with pytest.raises(CacheCorrupt) as caught:
            await client.get_blob(Reference.parse(f"{host}/c:t"), digest, len(blob), limit=1024)
    assert str(caught.value) == (
        f"blob {digest} of {host}/c is corrupt: expected {len(blob)} bytes with digest "
        f"{digest}, got {len(blob)} bytes with digest {sha256_digest(blob[:-1] + b']')}"
    )


@pytest.mark.anyio
async def test_truncated_body_is_retried_then_unreachable(tmp_path: Path) -> None:
    calls: list[int] = []

    def cut(_: Request) -> Reply:
        calls.append(1)
        return Reply(200, MANIFEST, cut_at=10)

    async with (
        serving(registry_routes(cut)) as (host, _),
        RegistryClient(host, empty_store(tmp_path), policy=FAST) as client,
    ):
        with pytest.raises(RegistryUnreachable) as caught:
            await client.get_manifest(Reference.parse(f"{host}/cache:seed"))
    assert len(calls) == 3
    assert str(caught.value) == (
        f"cannot reach registry {host}: peer closed connection without sending complete "
        f"message body (received 10 bytes, expected {len(MANIFEST)})"
    )


@pytest.mark.anyio
async def test_oversized_blob_is_refused_before_download(tmp_path: Path) -> None:
    async with (
        serving(registry_routes(ok_manifest)) as (host, seen),
        RegistryClient(host, empty_store(tmp_path), policy=FAST) as client,
    ):
        with pytest.raises(CacheCorrupt) as caught:
            await client.get_blob(Reference.parse(f"{host}/c:t"), MANIFEST_DIGEST, 2048, limit=1024)
    assert seen == []
    assert str(caught.value) == (
        f"blob {MANIFEST_DIGEST} of {host}/c is too large (2048 > 1024 bytes)"
    )


def basic_protected(username: str, password: str) -> Handler:
    expected = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()

    def handle(request: Request) -> Reply:
        if request.headers.get("authorization") != expected:
            return Reply(
                401,
                json.dumps(
                    {"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]}
                ).encode(),
                {"WWW-Authenticate": 'Basic realm="lab"'},
            )
        return registry_routes(ok_manifest)(request)

    return handle


@pytest.mark.anyio
async def test_basic_auth_with_stored_credentials(tmp_path: Path) -> None:
    async with serving(basic_protected("lab", "s3cret")) as (host, seen):
        store = store_for(tmp_path, host, "lab", "s3cret")
        async with RegistryClient(host, store, policy=FAST) as client:
            fetched = await client.get_manifest(Reference.parse(f"{host}/cache:seed"))
    assert fetched.digest == MANIFEST_DIGEST
    assert seen[-1].headers["authorization"].startswith("Basic ")


@pytest.mark.anyio
async def test_basic_auth_with_wrong_password(tmp_path: Path) -> None:
    async with serving(basic_protected("lab", "s3cret")) as (host, _):
        store = store_for(tmp_path, host, "lab", "wrong")
        async with RegistryClient(host, store, policy=FAST) as client:
            with pytest.raises(CacheUnauthorized) as caught:
                await client.get_manifest(Reference.parse(f"{host}/cache:seed"))
        where = "; ".join(store.sources(host))
    assert str(caught.value) == (
        f"registry {host} denied access to {host}/cache:seed (HTTP 401: authentication "
        f"required); the credentials for user 'lab' were refused. Credentials were looked "
        f"for in: {where}"
    )
    assert str(tmp_path) in where


@pytest.mark.anyio
async def test_basic_auth_without_credentials(tmp_path: Path) -> None:
    async with serving(basic_protected("lab", "s3cret")) as (host, _):
        store = empty_store(tmp_path)
        async with RegistryClient(host, store, policy=FAST) as client:
            with pytest.raises(CacheUnauthorized) as caught:
                await client.get_manifest(Reference.parse(f"{host}/cache:seed"))
        where = "; ".join(store.sources(host))
    assert str(caught.value) == (
        f"registry {host} denied access to {host}/cache:seed (HTTP 401: authentication "
        f"required); no credentials were found. Credentials were looked for in: {where}"
    )


@pytest.mark.anyio
async def test_bearer_token_flow(tmp_path: Path) -> None:
    """A registry and its token endpoint on one loopback server."""
    token_requests: list[Request] = []

    def handle(request: Request) -> Reply:
        if request.path.startswith("/token"):
            token_requests.append(request)
            return Reply(
                200,
                json.dumps({"token": "t0k3n", "expires_in": 300}).encode(),
                {"Content-Type": "application/json"},
            )
        if request.headers.get("authorization") != "Bearer t0k3n":
            realm = f"http://{request.headers['host']}/token"
            return Reply(
                401, b"", {"WWW-Authenticate": f'Bearer realm="{realm}",service="lab-registry"'}
            )
        return registry_routes(ok_manifest)(request)

    async with (
        serving(handle) as (host, seen),
        RegistryClient(host, empty_store(tmp_path), policy=FAST) as client,
    ):
        ref = Reference.parse(f"{host}/team/cache:seed")
        first = await client.get_manifest(ref)
        second = await client.get_manifest(ref)
    assert first.digest == second.digest == MANIFEST_DIGEST
    # One token serves both requests: it is cached per scope.
    assert len(token_requests) == 1
    query = token_requests[0].path
    assert "service=lab-registry" in query
    assert "scope=repository%3Ateam%2Fcache%3Apull" in query
    assert seen[-1].headers["authorization"] == "Bearer t0k3n"


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1:5000", True),
        ("127.3.4.5", True),
        ("localhost:5000", True),
        ("[::1]:5000", True),
        ("[::1]", True),
        ("10.0.0.1:5000", False),
        ("registry-1.docker.io", False),
        ("localhost.example.com", False),
    ],
)
def test_loopback_detection(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
