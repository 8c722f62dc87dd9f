"""The Auth service: registry credentials and tokens for buildkitd, from the user's
Docker config and credential helpers (the same store our registry client uses)."""

from __future__ import annotations

from typing import Any

import grpc
import httpx
from grpc import aio

from buildg_dap._proto.session import auth_pb2, auth_pb2_grpc
from buildg_dap.buildkit.session.bridge import Attachable
from buildg_dap.dockerauth.helpers import HelperError
from buildg_dap.dockerauth.store import CredentialStore
from buildg_dap.dockerauth.token import TokenError, fetch_token


class AuthService(auth_pb2_grpc.AuthServicer):
    def __init__(self, store: CredentialStore) -> None:
        self._store = store

    async def Credentials(
        self, request: auth_pb2.CredentialsRequest, context: aio.ServicerContext[Any, Any]
    ) -> auth_pb2.CredentialsResponse:
        try:
            found = await self._store.lookup(request.Host)
        except HelperError as exc:
            await context.abort(grpc.StatusCode.UNAVAILABLE, str(exc))
        if found is None:
            return auth_pb2.CredentialsResponse()
        if found.identity_token:
            return auth_pb2.CredentialsResponse(Secret=found.identity_token)
        return auth_pb2.CredentialsResponse(Username=found.username, Secret=found.secret)

    async def FetchToken(
        self, request: auth_pb2.FetchTokenRequest, context: aio.ServicerContext[Any, Any]
    ) -> auth_pb2.FetchTokenResponse:
        try:
            found = await self._store.lookup(request.Host)
            async with httpx.AsyncClient(timeout=30, trust_env=False) as client:
                token = await fetch_token(
                    client,
                    realm=request.Realm,
                    service=request.Service,
                    scopes=list(request.Scopes),
                    credentials=found,
                )
        except (HelperError, TokenError, httpx.HTTPError) as exc:
            await context.abort(
                grpc.StatusCode.UNAUTHENTICATED, f"failed to fetch token for {request.Host}: {exc}"
            )
        return auth_pb2.FetchTokenResponse(
            Token=token.token, ExpiresIn=token.expires_in, IssuedAt=int(token.issued_at)
        )

    async def GetTokenAuthority(
        self, request: auth_pb2.GetTokenAuthorityRequest, context: aio.ServicerContext[Any, Any]
    ) -> auth_pb2.GetTokenAuthorityResponse:
        # buildkitd falls back to Credentials/FetchToken when this is unavailable.
        await context.abort(grpc.StatusCode.UNAVAILABLE, "client side tokens disabled")
        raise AssertionError("unreachable")

    async def VerifyTokenAuthority(
        self, request: auth_pb2.VerifyTokenAuthorityRequest, context: aio.ServicerContext[Any, Any]
    ) -> auth_pb2.VerifyTokenAuthorityResponse:
        await context.abort(grpc.StatusCode.UNAVAILABLE, "client side tokens disabled")
        raise AssertionError("unreachable")


def auth(store: CredentialStore) -> Attachable:
    service = AuthService(store)
    return Attachable(
        descriptor=auth_pb2.DESCRIPTOR.services_by_name["Auth"],
        register=lambda server: auth_pb2_grpc.add_AuthServicer_to_server(service, server),
    )
