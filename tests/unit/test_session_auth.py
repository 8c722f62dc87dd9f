"""The Auth service over gRPC: credentials, token fetching, no token authority."""

from __future__ import annotations

import base64
import json
import stat
from collections.abc import Awaitable
from pathlib import Path

import grpc
import pytest
from grpc import aio

from buildg_dap._proto.session import auth_pb2, auth_pb2_grpc
from buildg_dap.buildkit.session.auth import auth
from buildg_dap.dockerauth.store import CredentialStore
from tests.unit.loopback import HTTPReply, HTTPRequest, grpc_service, http_server


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CredentialStore:
    helper = tmp_path / "bin" / "docker-credential-broken"
    helper.parent.mkdir()
    helper.write_text("#!/bin/sh\necho 'keyring is locked' >&2\nexit 1\n")
    helper.chmod(helper.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{helper.parent}:/usr/bin:/bin")
    pair = base64.b64encode(b"alice:pw").decode()
    config = {
        "auths": {
            "https://index.docker.io/v1/": {"auth": pair},
            "id.example": {"identitytoken": "refresh-1"},
        },
        "credHelpers": {"broken.example": "broken"},
    }
    (tmp_path / "config.json").write_text(json.dumps(config))
    return CredentialStore(tmp_path)


async def rpc_error(call: Awaitable[object]) -> aio.AioRpcError:
    with pytest.raises(aio.AioRpcError) as caught:
        await call
    return caught.value


@pytest.mark.anyio
async def test_credentials(store: CredentialStore) -> None:
    async with grpc_service(auth(store)) as channel:
        stub = auth_pb2_grpc.AuthStub(channel)
        hub = await stub.Credentials(auth_pb2.CredentialsRequest(Host="registry-1.docker.io"))
        identity = await stub.Credentials(auth_pb2.CredentialsRequest(Host="id.example"))
        unknown = await stub.Credentials(auth_pb2.CredentialsRequest(Host="other.example"))
        error = await rpc_error(
            stub.Credentials(auth_pb2.CredentialsRequest(Host="broken.example"))
        )
    assert (hub.Username, hub.Secret) == ("alice", "pw")
    assert (identity.Username, identity.Secret) == ("", "refresh-1")
    assert (unknown.Username, unknown.Secret) == ("", "")
    assert error.code() == grpc.StatusCode.UNKNOWN
    assert error.details() == (
        "credential helper docker-credential-broken failed for broken.example "
        "(exit status 1): keyring is locked"
    )


@pytest.mark.anyio
async def test_fetch_token_from_loopback_realm(store: CredentialStore) -> None:
    def handle(request: HTTPRequest) -> HTTPReply:
        body = {"access_token": "tok", "expires_in": 90, "issued_at": "2026-01-02T03:04:05Z"}
        return HTTPReply(200, json.dumps(body).encode())

    async with http_server(handle) as (base, seen), grpc_service(auth(store)) as channel:
        stub = auth_pb2_grpc.AuthStub(channel)
        reply = await stub.FetchToken(
            auth_pb2.FetchTokenRequest(
                ClientID="buildkit-client",
                Host="docker.io",
                Realm=f"{base}/token",
                Service="hub",
                Scopes=["repository:library/busybox:pull"],
            )
        )
    assert (reply.Token, reply.ExpiresIn, reply.IssuedAt) == ("tok", 90, 1767323045)
    [request] = seen
    assert request.method == "POST"
    assert b"username=alice" in request.body and b"password=pw" in request.body


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("host", "realm", "message"),
    [
        (
            "docker.io",
            "http://auth.example/token",
            "docker.io: refusing token realm http://auth.example/token: only https, or http "
            "on loopback",
        ),
        (
            "docker.io",
            "ftp://127.0.0.1/token",
            "docker.io: refusing token realm ftp://127.0.0.1/token: only https, or http "
            "on loopback",
        ),
        (
            "broken.example",
            "https://auth.example/token",
            "credential helper docker-credential-broken failed for broken.example "
            "(exit status 1): keyring is locked",
        ),
    ],
)
async def test_fetch_token_refusals(
    store: CredentialStore, host: str, realm: str, message: str
) -> None:
    async with grpc_service(auth(store)) as channel:
        stub = auth_pb2_grpc.AuthStub(channel)
        error = await rpc_error(stub.FetchToken(auth_pb2.FetchTokenRequest(Host=host, Realm=realm)))
    assert error.code() == grpc.StatusCode.UNKNOWN
    assert error.details() == message


@pytest.mark.anyio
async def test_no_token_authority(store: CredentialStore) -> None:
    """UNIMPLEMENTED makes buildkitd fall back to Credentials (session/auth/auth.go)."""
    async with grpc_service(auth(store)) as channel:
        stub = auth_pb2_grpc.AuthStub(channel)
        get = await rpc_error(
            stub.GetTokenAuthority(auth_pb2.GetTokenAuthorityRequest(Host="docker.io"))
        )
        verify = await rpc_error(
            stub.VerifyTokenAuthority(auth_pb2.VerifyTokenAuthorityRequest(Host="docker.io"))
        )
    for error in (get, verify):
        assert error.code() == grpc.StatusCode.UNIMPLEMENTED
        assert error.details() == "token authority is not offered"
