"""A small async client for the OCI distribution API: manifests and blobs, read only.

One client talks to one registry host and owns its HTTP connection pool. It pings
``/v2/`` first to learn the auth scheme, then attaches Basic credentials or a Bearer
token (repository pull scope) to every request. Transient failures (5xx, timeouts,
connection errors) are retried with a bounded exponential backoff, and every operation
is bounded by a total deadline.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Final, Self

import anyio
import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from buildg_dap.cache.errors import (
    CacheCorrupt,
    CacheNotFound,
    CacheUnauthorized,
    RegistryFailed,
    RegistryUnreachable,
)
from buildg_dap.cache.reference import Reference, sha256_digest
from buildg_dap.dockerauth.config import is_loopback
from buildg_dap.dockerauth.store import Credentials, CredentialStore
from buildg_dap.dockerauth.token import Token, fetch_token, parse_challenge
from buildg_dap.oci import DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX, OCI_MANIFEST

MANIFEST_ACCEPT: Final = ", ".join([OCI_INDEX, OCI_MANIFEST, DOCKER_MANIFEST_LIST, DOCKER_MANIFEST])
MANIFEST_LIMIT: Final = 4 << 20
_CHUNK: Final = 64 << 10


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3
    first_delay: float = 0.2
    max_delay: float = 2.0
    request_timeout: float = 20.0
    total_timeout: float = 90.0

    def delay(self, attempt: int) -> float:
        return float(min(self.max_delay, self.first_delay * (2**attempt)))


class FetchedManifest(BaseModel):
    model_config = ConfigDict(frozen=True)

    digest: str
    media_type: str
    body: bytes


class _ErrorBody(BaseModel):
    class Item(BaseModel):
        code: str = ""
        message: str = ""

    errors: list[Item] = []


@dataclass(frozen=True)
class _Answer:
    status: int
    reason: str
    headers: httpx.Headers
    body: bytes


class RegistryClient:
    """Reads manifests and blobs from ``host``; use as ``async with``."""

    def __init__(
        self,
        host: str,
        store: CredentialStore,
        *,
        insecure: bool = False,
        policy: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.host = host
        # Plain HTTP only where nothing can intercept it, or where the user asked for it
        # (registry.insecure=true, the same switch BuildKit honours).
        scheme = "http" if insecure or is_loopback(host) else "https"
        self._policy = policy or RetryPolicy()
        self._store = store
        self._http = httpx.AsyncClient(
            base_url=f"{scheme}://{host}",
            timeout=self._policy.request_timeout,
            transport=transport,
            trust_env=False,
            follow_redirects=True,
        )
        self._pinged = False
        self._challenge: dict[str, str] | None = None
        self._scheme = ""
        self._tokens: dict[str, tuple[Token, float]] = {}
        self._credentials: Credentials | None = None
        self._credentials_looked_up = False

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._http.aclose()

    async def get_manifest(self, ref: Reference) -> FetchedManifest:
        """The manifest ``ref`` names, with its verified digest."""
        path = f"/v2/{ref.path}/manifests/{ref.manifest_reference}"
        answer = await self._fetch(
            ref, path, f"cache {ref}", accept=MANIFEST_ACCEPT, limit=MANIFEST_LIMIT
        )
        digest = sha256_digest(answer.body)
        announced = answer.headers.get("Docker-Content-Digest")
        expected = ref.digest or announced
        if expected is not None and expected != digest:
            raise CacheCorrupt(
                f"manifest of {ref} is corrupt: expected digest {expected}, "
                f"content has {digest} ({len(answer.body)} bytes)"
            )
        media_type = answer.headers.get("Content-Type", "").split(";", 1)[0].strip()
        return FetchedManifest(digest=digest, media_type=media_type, body=answer.body)

    async def get_blob(self, ref: Reference, digest: str, size: int, *, limit: int) -> bytes:
        """A blob of at most ``limit`` bytes, checked against its digest and size."""
        what = f"blob {digest} of {ref.name}"
        if size > limit:
            raise CacheCorrupt(f"{what} is too large ({size} > {limit} bytes)")
        answer = await self._fetch(ref, f"/v2/{ref.path}/blobs/{digest}", what, limit=limit)
        actual = sha256_digest(answer.body)
        if actual != digest or len(answer.body) != size:
            raise CacheCorrupt(
                f"{what} is corrupt: expected {size} bytes with digest {digest}, "
                f"got {len(answer.body)} bytes with digest {actual}"
            )
        return answer.body

    async def _fetch(
        self, ref: Reference, path: str, what: str, *, limit: int, accept: str | None = None
    ) -> _Answer:
        try:
            with anyio.fail_after(self._policy.total_timeout):
                await self._ping()
                answer = await self._authorised(ref, path, accept, limit)
        except TimeoutError:
            raise RegistryUnreachable(
                f"cannot reach registry {self.host}: no answer within "
                f"{self._policy.total_timeout:g}s"
            ) from None
        if answer.status == 200:
            return answer
        detail = _error_detail(answer)
        if answer.status == 404:
            raise CacheNotFound(f"{what} not found ({detail})")
        if answer.status in (401, 403):
            raise CacheUnauthorized(await self._unauthorised_message(ref, answer.status, detail))
        raise RegistryFailed(
            f"registry {self.host} failed to serve {what}: HTTP {answer.status} {detail}"
        )

    async def _ping(self) -> None:
        if self._pinged:
            return
        answer = await self._retrying(lambda: self._send("GET", "/v2/", {}, limit=MANIFEST_LIMIT))
        if answer.status == 401:
            self._learn_challenge(answer)
        elif answer.status != 200:
            raise RegistryFailed(
                f"{self.host} does not look like a registry: GET /v2/ answered "
                f"HTTP {answer.status} {answer.reason}"
            )
        self._pinged = True

    def _learn_challenge(self, answer: _Answer) -> bool:
        header = answer.headers.get("WWW-Authenticate")
        if not header:
            return False
        challenge = parse_challenge(header)
        self._scheme = challenge.scheme.lower()
        self._challenge = dict(challenge.params)
        return True

    async def _authorised(
        self, ref: Reference, path: str, accept: str | None, limit: int
    ) -> _Answer:
        headers = {"Accept": accept} if accept else {}

        async def attempt() -> _Answer:
            auth = await self._auth_header(ref)
            return await self._send("GET", path, {**headers, **auth}, limit=limit)

        answer = await self._retrying(attempt)
        # A registry may let /v2/ through anonymously and still protect the repository;
        # its challenge then arrives here, once.
        if answer.status == 401 and not self._scheme and self._learn_challenge(answer):
            answer = await self._retrying(attempt)
        return answer

    async def _auth_header(self, ref: Reference) -> dict[str, str]:
        if self._scheme == "basic":
            creds = await self._lookup()
            if creds is None:
                return {}
            pair = f"{creds.username}:{creds.secret}".encode()
            return {"Authorization": "Basic " + base64.b64encode(pair).decode()}
        if self._scheme == "bearer":
            token = await self._token(f"repository:{ref.path}:pull")
            return {"Authorization": f"Bearer {token}"}
        return {}

    async def _token(self, scope: str) -> str:
        cached = self._tokens.get(scope)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0].token
        params = self._challenge or {}
        realm = params.get("realm")
        if not realm:
            raise CacheUnauthorized(
                f"registry {self.host} asked for a Bearer token without naming a realm"
            )
        token = await fetch_token(
            self._http,
            realm=realm,
            service=params.get("service", ""),
            scopes=[scope],
            credentials=await self._lookup(),
        )
        # Renew a little early so a token never expires between check and use.
        self._tokens[scope] = (token, time.monotonic() + max(0, token.expires_in - 10))
        return token.token

    async def _lookup(self) -> Credentials | None:
        if not self._credentials_looked_up:
            self._credentials = await self._store.lookup(self.host)
            self._credentials_looked_up = True
        return self._credentials

    async def _unauthorised_message(self, ref: Reference, status: int, detail: str) -> str:
        where = "; ".join(self._store.sources(self.host)) or "nowhere"
        credentials = await self._lookup()
        if credentials is None:
            verdict = "no credentials were found"
        else:
            verdict = f"the credentials for user {credentials.username!r} were refused"
        return (
            f"registry {self.host} denied access to {ref} (HTTP {status}: {detail}); "
            f"{verdict}. Credentials were looked for in: {where}"
        )

    async def _retrying(self, send: Callable[[], Awaitable[_Answer]]) -> _Answer:
        policy = self._policy
        for attempt in range(policy.attempts):
            last = attempt == policy.attempts - 1
            try:
                answer = await send()
            except httpx.TransportError as exc:
                if last:
                    raise RegistryUnreachable(
                        f"cannot reach registry {self.host}: {_transport_reason(exc)}"
                    ) from None
            else:
                if answer.status < 500 or last:
                    return answer
            await anyio.sleep(policy.delay(attempt))
        raise AssertionError("unreachable: the last attempt always returns or raises")

    async def _send(
        self, method: str, path: str, headers: dict[str, str], *, limit: int
    ) -> _Answer:
        async with self._http.stream(method, path, headers=headers) as response:
            body = bytearray()
            # Read in chunks so an oversized blob is refused without being held in memory.
            async for chunk in response.aiter_bytes(_CHUNK):
                body.extend(chunk)
                if len(body) > limit:
                    raise CacheCorrupt(f"{self.host}{path} is larger than the {limit}-byte limit")
            return _Answer(
                response.status_code, response.reason_phrase, response.headers, bytes(body)
            )


def _error_detail(answer: _Answer) -> str:
    """The registry's own error text (e.g. "manifest unknown"), else the HTTP reason."""
    try:
        parsed = _ErrorBody.model_validate_json(answer.body)
    except ValidationError:
        parsed = _ErrorBody()
    messages = [e.message or e.code.lower().replace("_", " ") for e in parsed.errors]
    text = "; ".join(m for m in messages if m)
    return text or answer.reason.lower() or f"HTTP {answer.status}"


def _transport_reason(exc: httpx.TransportError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    # The OS-level cause says more than httpx's summary ("All connection attempts failed").
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, OSError) and cause.strerror:
            return cause.strerror[:1].lower() + cause.strerror[1:]
        cause = cause.__cause__ or cause.__context__
    text = str(exc) or type(exc).__name__
    return text[:1].lower() + text[1:]
