"""Registry bearer tokens: ``WWW-Authenticate`` challenges and the token endpoint.

The order is BuildKit's client-side auth provider's: a token given in config.json is
used as is; with a secret, the OAuth form is POSTed first (grant_type=password, or
refresh_token for an identity token) and a registry without that endpoint (405 with a
user name, 404, 401) is asked with GET and Basic auth instead; without one, an
anonymous GET.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from buildg_dap.dockerauth.store import Credentials

CLIENT_ID = "buildkit-client"
DEFAULT_EXPIRY = 60
_TOKEN_CHARS = frozenset(
    "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)
_SPACE = " \t\r\n"


class TokenError(Exception):
    pass


class Challenge(BaseModel):
    """A ``WWW-Authenticate`` challenge: lower-case scheme, lower-case parameter names."""

    model_config = ConfigDict(frozen=True)

    scheme: str
    params: dict[str, str]


class Token(BaseModel):
    model_config = ConfigDict(frozen=True)

    token: str = Field(repr=False)
    expires_in: int = DEFAULT_EXPIRY
    issued_at: float = 0.0  # Unix time


class _Reply(BaseModel):
    model_config = ConfigDict(extra="ignore")

    token: str = ""
    access_token: str = ""
    expires_in: int = 0
    issued_at: datetime | None = None


def _take_token(text: str) -> tuple[str, str]:
    end = 0
    while end < len(text) and text[end] in _TOKEN_CHARS:
        end += 1
    return text[:end], text[end:]


def _take_quoted(text: str) -> tuple[str, str] | None:
    """``"..."`` at the start of ``text`` with backslash escapes undone; None if unclosed."""
    value: list[str] = []
    position = 1
    while position < len(text):
        char = text[position]
        if char == '"':
            return "".join(value), text[position + 1 :]
        if char == "\\" and position + 1 < len(text):
            position += 1
            char = text[position]
        value.append(char)
        position += 1
    return None


def parse_challenge(header: str) -> Challenge:
    """``Bearer realm="https://a/token",service="reg",scope="repo:x:pull,push"``.

    Reads parameters until something that is not ``name=value``; a malformed header
    gives what could be read, like containerd's parser.
    """
    scheme, rest = _take_token(header.lstrip(_SPACE))
    params: dict[str, str] = {}
    while True:
        name, rest = _take_token(rest.lstrip(_SPACE))
        rest = rest.lstrip(_SPACE)
        if not name or not rest.startswith("="):
            break
        rest = rest[1:].lstrip(_SPACE)
        if rest.startswith('"'):
            quoted = _take_quoted(rest)
            if quoted is None:
                break
            value, rest = quoted
        else:
            value, rest = _take_token(rest)
        params[name.lower()] = value
        rest = rest.lstrip(_SPACE)
        if not rest.startswith(","):
            break
        rest = rest[1:]
    return Challenge(scheme=scheme.lower(), params=params)


async def _send(
    client: httpx.AsyncClient, request: httpx.Request, auth: httpx.BasicAuth | None = None
) -> httpx.Response:
    try:
        reply = await client.send(request, auth=auth, follow_redirects=True)
    except httpx.HTTPError as exc:
        reason = str(exc) or type(exc).__name__
        raise TokenError(f"{request.method} request to {request.url} failed: {reason}") from None
    return reply


class _UnexpectedStatus(TokenError):
    def __init__(self, reply: httpx.Response) -> None:
        self.status = reply.status_code
        super().__init__(
            f"unexpected status from {reply.request.method} request to {reply.request.url}: "
            f"{reply.status_code} {reply.reason_phrase}".rstrip()
        )


def _parse(reply: httpx.Response, *, oauth: bool) -> Token:
    if not 200 <= reply.status_code < 400:
        raise _UnexpectedStatus(reply)
    try:
        data = _Reply.model_validate_json(reply.content)
    except ValidationError as exc:
        problem = exc.errors()[0]["msg"]
        raise TokenError(f"unable to decode token response: {problem}") from None
    # The OAuth answer carries access_token only; the GET one either name.
    value = data.access_token if oauth else data.access_token or data.token
    if not value:
        raise TokenError("authorization server did not include a token in the response")
    issued_at = time.time()
    if data.issued_at is not None:
        issued = data.issued_at
        stamp = (issued if issued.tzinfo else issued.replace(tzinfo=UTC)).timestamp()
        # Go's zero time ("0001-01-01T00:00:00Z") means "not given", as in BuildKit.
        issued_at = stamp if stamp > 0 else issued_at
    return Token(
        token=value,
        expires_in=data.expires_in if data.expires_in > 0 else DEFAULT_EXPIRY,
        issued_at=issued_at,
    )


async def _get(
    client: httpx.AsyncClient,
    realm: str,
    service: str,
    scopes: list[str],
    basic: tuple[str, str] | None,
) -> Token:
    pairs: list[tuple[str, str | int | float | bool | None]] = [("scope", s) for s in scopes]
    if service:
        pairs.insert(0, ("service", service))
    # The realm may carry a query of its own: add to it, never replace it.
    url = httpx.URL(realm).copy_merge_params(httpx.QueryParams(pairs))
    auth = httpx.BasicAuth(*basic) if basic is not None else None
    return _parse(await _send(client, client.build_request("GET", url), auth), oauth=False)


async def _post(
    client: httpx.AsyncClient, realm: str, service: str, scopes: list[str], user: str, secret: str
) -> Token:
    form = {"scope": " ".join(scopes)} if scopes else {}
    form |= {"service": service, "client_id": CLIENT_ID}
    if user:
        form |= {"grant_type": "password", "username": user, "password": secret}
    else:
        form |= {"grant_type": "refresh_token", "refresh_token": secret}
    request = client.build_request("POST", realm, data=form)
    return _parse(await _send(client, request), oauth=True)


async def fetch_token(
    client: httpx.AsyncClient,
    *,
    realm: str,
    service: str,
    scopes: list[str],
    credentials: Credentials | None,
) -> Token:
    """A token for ``scopes`` from the token server at ``realm``; raises TokenError."""
    if credentials is not None and credentials.registry_token:
        return Token(token=credentials.registry_token, issued_at=time.time())
    user, secret = "", ""
    if credentials is not None:
        # An identity token replaces the password and goes without a user name.
        if credentials.identity_token:
            secret = credentials.identity_token
        else:
            user, secret = credentials.username, credentials.secret
    if not secret:
        try:
            return await _get(client, realm, service, scopes, None)
        except TokenError as exc:
            raise TokenError(f"failed to fetch anonymous token: {exc}") from None
    try:
        try:
            return await _post(client, realm, service, scopes, user, secret)
        except _UnexpectedStatus as exc:
            # Registries without the OAuth endpoint (GCR: 404, Artifactory: 401).
            if not (exc.status in (401, 404) or (exc.status == 405 and user)):
                raise
        return await _get(client, realm, service, scopes, (user, secret))
    except TokenError as exc:
        raise TokenError(f"failed to fetch oauth token: {exc}") from None
