"""The Auth service: registry credentials for buildkitd, from the user's Docker config
and credential helpers (the same store our own registry client uses).

We do not answer GetTokenAuthority: buildkitd v0.32.2 then asks Credentials and talks
to the token server itself (util/resolver/authorizer.go). FetchToken is only called
after an authority was given, so it is served for completeness.
"""

from __future__ import annotations

import grpc
import httpx

from buildg_dap._proto.session import auth_pb2
from buildg_dap.buildkit.session.rpcserver import Attachable, CallContext
from buildg_dap.dockerauth.config import ConfigError, is_loopback
from buildg_dap.dockerauth.helpers import HelperError
from buildg_dap.dockerauth.store import Credentials, CredentialStore
from buildg_dap.dockerauth.token import TokenError, fetch_token

_TOKEN_TIMEOUT = 30.0


def _check_realm(realm: str) -> None:
    """Secrets travel to the realm: only over TLS, or to this machine."""
    try:
        url = httpx.URL(realm)
    except httpx.InvalidURL:
        raise TokenError(f"invalid token realm {realm!r}") from None
    if url.scheme == "https" or (url.scheme == "http" and is_loopback(url.host)):
        return
    raise TokenError(f"refusing token realm {realm}: only https, or http on loopback")


class AuthService:
    def __init__(self, store: CredentialStore) -> None:
        self._store = store

    async def _lookup(self, host: str, context: CallContext) -> Credentials | None:
        try:
            return await self._store.lookup(host)
        except (HelperError, ConfigError) as exc:
            await context.abort(grpc.StatusCode.UNKNOWN, str(exc))

    async def Credentials(
        self, request: auth_pb2.CredentialsRequest, context: CallContext
    ) -> auth_pb2.CredentialsResponse:
        found = await self._lookup(request.Host, context)
        if found is None:
            return auth_pb2.CredentialsResponse()
        # As BuildKit's provider: an identity token is sent as the secret, with no user.
        if found.identity_token:
            return auth_pb2.CredentialsResponse(Secret=found.identity_token)
        return auth_pb2.CredentialsResponse(Username=found.username, Secret=found.secret)

    async def FetchToken(
        self, request: auth_pb2.FetchTokenRequest, context: CallContext
    ) -> auth_pb2.FetchTokenResponse:
        found = await self._lookup(request.Host, context)
        try:
            _check_realm(request.Realm)
            async with httpx.AsyncClient(timeout=_TOKEN_TIMEOUT, trust_env=False) as client:
                token = await fetch_token(
                    client,
                    realm=request.Realm,
                    service=request.Service,
                    scopes=list(request.Scopes),
                    credentials=found,
                )
        except TokenError as exc:
            await context.abort(grpc.StatusCode.UNKNOWN, f"{request.Host}: {exc}")
        return auth_pb2.FetchTokenResponse(
            Token=token.token, ExpiresIn=token.expires_in, IssuedAt=int(token.issued_at)
        )

    async def GetTokenAuthority(
        self, request: auth_pb2.GetTokenAuthorityRequest, context: CallContext
    ) -> auth_pb2.GetTokenAuthorityResponse:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "token authority is not offered")

    async def VerifyTokenAuthority(
        self, request: auth_pb2.VerifyTokenAuthorityRequest, context: CallContext
    ) -> auth_pb2.VerifyTokenAuthorityResponse:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "token authority is not offered")


def auth(store: CredentialStore) -> Attachable:
    service = AuthService(store)
    return Attachable(
        descriptor=auth_pb2.DESCRIPTOR.services_by_name["Auth"],
        servicer=service,
    )
