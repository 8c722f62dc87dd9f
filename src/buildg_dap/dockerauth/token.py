"""Registry bearer tokens: ``WWW-Authenticate`` challenges and the token endpoint, as
BuildKit's auth provider uses them (OAuth POST when a secret is known, else GET)."""

from __future__ import annotations

import re
import time

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from buildg_dap.dockerauth.store import Credentials

CLIENT_ID = "buildkit-client"
DEFAULT_EXPIRY = 60
_PARAM = re.compile(r'\s*([A-Za-z0-9_.-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))\s*,?')


class TokenError(Exception):
    pass


class Challenge(BaseModel):
    model_config = ConfigDict(frozen=True)

    scheme: str
    params: dict[str, str]


class Token(BaseModel):
    model_config = ConfigDict(frozen=True)

    token: str
    expires_in: int = DEFAULT_EXPIRY
    issued_at: float = 0.0


class _TokenReply(BaseModel):
    model_config = ConfigDict(extra="ignore")

    token: str = ""
    access_token: str = ""
    expires_in: int = 0
    issued_at: str = ""


def parse_challenge(header: str) -> Challenge:
    """``Bearer realm="https://a/token",service="reg",scope="repo:x:pull"``."""
    scheme, _, rest = header.strip().partition(" ")
    params: dict[str, str] = {}
    position = 0
    while position < len(rest):
        match = _PARAM.match(rest, position)
        if match is None or match.end() == position:
            break
        value = match.group(2) if match.group(2) is not None else match.group(3)
        params[match.group(1).lower()] = re.sub(r"\\(.)", r"\1", value)
        position = match.end()
    return Challenge(scheme=scheme, params=params)


def _token(reply: httpx.Response, realm: str) -> Token:
    try:
        data = _TokenReply.model_validate_json(reply.content)
    except ValidationError:
        raise TokenError(f"token endpoint {realm} returned an invalid answer") from None
    value = data.access_token or data.token
    if not value:
        raise TokenError(f"token endpoint {realm} returned no token")
    return Token(token=value, expires_in=data.expires_in or DEFAULT_EXPIRY, issued_at=time.time())


async def fetch_token(
    client: httpx.AsyncClient,
    *,
    realm: str,
    service: str,
    scopes: list[str],
    credentials: Credentials | None,
) -> Token:
    if credentials is not None and credentials.registry_token:
        return Token(token=credentials.registry_token, issued_at=time.time())
    secret = credentials.identity_token or credentials.secret if credentials else ""
    if credentials is not None and secret:
        form = {"client_id": CLIENT_ID, "service": service, "scope": " ".join(scopes)}
        if credentials.identity_token:
            form |= {"grant_type": "refresh_token", "refresh_token": credentials.identity_token}
        else:
            form |= {
                "grant_type": "password",
                "username": credentials.username,
                "password": credentials.secret,
            }
        reply = await client.post(realm, data=form)
        # Registries without the OAuth endpoint answer these; fall back to GET.
        fallback = (reply.status_code == 405 and credentials.username) or reply.status_code in (
            401,
            404,
        )
        if reply.is_success:
            return _token(reply, realm)
        if not fallback:
            raise TokenError(f"token endpoint {realm} answered {reply.status_code}")
    pairs: list[tuple[str, str | int | float | bool | None]] = [("scope", s) for s in scopes]
    if service:
        pairs.insert(0, ("service", service))
    params = httpx.QueryParams(pairs)
    auth = None
    if credentials is not None and credentials.username and credentials.secret:
        auth = httpx.BasicAuth(credentials.username, credentials.secret)
    reply = await client.get(realm, params=params, auth=auth)
    if not reply.is_success:
        raise TokenError(f"token endpoint {realm} answered {reply.status_code}")
    return _token(reply, realm)
