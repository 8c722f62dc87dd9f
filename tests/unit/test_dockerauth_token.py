"""WWW-Authenticate parsing and the token flow against a token server on 127.0.0.1."""

from __future__ import annotations

import base64
import json
import time
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from buildg_dap.dockerauth.store import Credentials
from buildg_dap.dockerauth.token import Challenge, TokenError, fetch_token, parse_challenge
from tests.unit.loopback import HTTPReply, HTTPRequest, http_server

SCOPES = ["repository:team/app:pull", "repository:team/base:pull,push"]
ISSUED = "2026-01-02T03:04:05Z"
ISSUED_UNIX = 1767323045.0


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def query(request: HTTPRequest) -> dict[str, list[str]]:
    return parse_qs(urlsplit(request.target).query)


def form(request: HTTPRequest) -> dict[str, list[str]]:
    return parse_qs(request.body.decode())


def json_reply(body: dict[str, object], status: int = 200) -> HTTPReply:
    return HTTPReply(status, json.dumps(body).encode(), {"Content-Type": "application/json"})


# --- challenges ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "challenge"),
    [
        (
            'Bearer realm="https://auth.example/token",service="registry.example",'
            'scope="repository:a/b:pull,push"',
            Challenge(
                scheme="bearer",
                params={
                    "realm": "https://auth.example/token",
                    "service": "registry.example",
                    "scope": "repository:a/b:pull,push",
                },
            ),
        ),
        (
            'BASIC Realm = "a \\"quoted\\" \\\\ name" , charset=UTF-8',
            Challenge(scheme="basic", params={"realm": 'a "quoted" \\ name', "charset": "UTF-8"}),
        ),
        ("Bearer", Challenge(scheme="bearer", params={})),
        ("", Challenge(scheme="", params={})),
        # Reading stops at the first thing that is not name=value.
        ('Bearer realm="r", junk, service="s"', Challenge(scheme="bearer", params={"realm": "r"})),
        ('Bearer realm="unterminated', Challenge(scheme="bearer", params={})),
    ],
)
def test_parse_challenge(header: str, challenge: Challenge) -> None:
    assert parse_challenge(header) == challenge


# --- token server ----------------------------------------------------------------


@pytest.mark.anyio
async def test_anonymous_get() -> None:
    def handle(request: HTTPRequest) -> HTTPReply:
        return json_reply({"token": "anon-token", "issued_at": ISSUED})

    async with http_server(handle) as (base, seen), httpx.AsyncClient() as client:
        token = await fetch_token(
            client, realm=f"{base}/token", service="reg", scopes=SCOPES, credentials=None
        )
    assert (token.token, token.expires_in, token.issued_at) == ("anon-token", 60, ISSUED_UNIX)
    [request] = seen
    assert request.method == "GET"
    assert "authorization" not in request.headers
    assert query(request) == {"service": ["reg"], "scope": SCOPES}


@pytest.mark.anyio
async def test_password_is_posted_as_oauth_form() -> None:
    def handle(request: HTTPRequest) -> HTTPReply:
        return json_reply({"access_token": "oauth-token", "expires_in": 300})

    creds = Credentials(username="alice", secret="pw&=")
    async with http_server(handle) as (base, seen), httpx.AsyncClient() as client:
        before = time.time()
        token = await fetch_token(
            client, realm=f"{base}/token", service="reg", scopes=SCOPES, credentials=creds
        )
    assert (token.token, token.expires_in) == ("oauth-token", 300)
    assert before <= token.issued_at <= time.time()
    [request] = seen
    assert request.method == "POST"
    assert "authorization" not in request.headers
    assert form(request) == {
        "scope": [" ".join(SCOPES)],
        "service": ["reg"],
        "client_id": ["buildkit-client"],
        "grant_type": ["password"],
        "username": ["alice"],
        "password": ["pw&="],
    }


@pytest.mark.anyio
async def test_identity_token_is_a_refresh_grant() -> None:
    def handle(request: HTTPRequest) -> HTTPReply:
        return json_reply({"access_token": "from-refresh"})

    creds = Credentials(username="ignored", identity_token="refresh-1")
    async with http_server(handle) as (base, seen), httpx.AsyncClient() as client:
        token = await fetch_token(
            client, realm=f"{base}/token", service="reg", scopes=SCOPES[:1], credentials=creds
        )
    assert token.token == "from-refresh"
    assert form(seen[0]) == {
        "scope": [SCOPES[0]],
        "service": ["reg"],
        "client_id": ["buildkit-client"],
        "grant_type": ["refresh_token"],
        "refresh_token": ["refresh-1"],
    }


@pytest.mark.anyio
@pytest.mark.parametrize("post_status", [401, 404, 405])
async def test_get_with_basic_auth_when_post_is_not_supported(post_status: int) -> None:
    def handle(request: HTTPRequest) -> HTTPReply:
        if request.method == "POST":
            return HTTPReply(post_status)
        if (
            request.headers.get("authorization")
            != "Basic " + base64.b64encode(b"alice:pw").decode()
        ):
            return HTTPReply(401)
        return json_reply({"token": "basic-token", "expires_in": 120})

    creds = Credentials(username="alice", secret="pw")
    async with http_server(handle) as (base, seen), httpx.AsyncClient() as client:
        token = await fetch_token(
            client, realm=f"{base}/token?acct=x", service="reg", scopes=SCOPES, credentials=creds
        )
    assert (token.token, token.expires_in) == ("basic-token", 120)
    assert [r.method for r in seen] == ["POST", "GET"]
    # The realm's own query is kept.
    assert query(seen[1]) == {"acct": ["x"], "service": ["reg"], "scope": SCOPES}


@pytest.mark.anyio
async def test_registry_token_is_used_as_is() -> None:
    def handle(request: HTTPRequest) -> HTTPReply:
        raise AssertionError("no request expected")

    creds = Credentials(username="u", secret="p", registry_token="static")
    async with http_server(handle) as (base, seen), httpx.AsyncClient() as client:
        token = await fetch_token(
            client, realm=f"{base}/token", service="reg", scopes=SCOPES, credentials=creds
        )
    assert (token.token, token.expires_in) == ("static", 60)
    assert seen == []


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("credentials", "replies", "message"),
    [
        (
            None,
            {"GET": HTTPReply(401)},
            "failed to fetch anonymous token: unexpected status from GET request to "
            "{base}/token?service=reg&scope=repository%3Aa%3Apull: 401 Unauthorized",
        ),
        (
            Credentials(username="u", secret="p"),
            {"POST": HTTPReply(403)},
            "failed to fetch oauth token: unexpected status from POST request to "
            "{base}/token: 403 Forbidden",
        ),
        (
            # Without a user name, 405 is not a reason to try GET.
            Credentials(identity_token="t"),
            {"POST": HTTPReply(405)},
            "failed to fetch oauth token: unexpected status from POST request to "
            "{base}/token: 405 Method Not Allowed",
        ),
        (
            Credentials(username="u", secret="p"),
            {"POST": HTTPReply(404), "GET": HTTPReply(401)},
            "failed to fetch oauth token: unexpected status from GET request to "
            "{base}/token?service=reg&scope=repository%3Aa%3Apull: 401 Unauthorized",
        ),
        (
            Credentials(username="u", secret="p"),
            {"POST": json_reply({"token": "get-style-only"})},
            "failed to fetch oauth token: authorization server did not include a token "
            "in the response",
        ),
        (
            None,
            {"GET": HTTPReply(200, b"<html>")},
            "failed to fetch anonymous token: unable to decode token response: Invalid "
            "JSON: expected value at line 1 column 1",
        ),
    ],
)
async def test_token_errors(
    credentials: Credentials | None, replies: dict[str, HTTPReply], message: str
) -> None:
    def handle(request: HTTPRequest) -> HTTPReply:
        return replies[request.method]

    async with http_server(handle) as (base, _), httpx.AsyncClient() as client:
        with pytest.raises(TokenError) as caught:
            await fetch_token(
                client,
                realm=f"{base}/token",
                service="reg",
                scopes=["repository:a:pull"],
                credentials=credentials,
            )
    assert str(caught.value) == message.format(base=base)


@pytest.mark.anyio
async def test_unreachable_token_server() -> None:
    # Take a free port, then close it: nothing listens there any more.
    async with http_server(lambda r: HTTPReply(500)) as (base, _):
        pass
    async with httpx.AsyncClient() as client:
        with pytest.raises(TokenError) as caught:
            await fetch_token(client, realm=f"{base}/t", service="", scopes=[], credentials=None)
    assert str(caught.value) == (
        f"failed to fetch anonymous token: GET request to {base}/t failed: "
        "All connection attempts failed"
    )
