"""The BuildKit inside Docker Engine, reached through the Engine API.

``POST /grpc`` with ``Upgrade: h2c`` turns an Engine API connection into an HTTP/2
connection to the engine's BuildKit control and gateway services (as buildx's docker
driver does); ``GET /version`` says which engine it is.
"""

from __future__ import annotations

from typing import Any

import anyio
import httpx
from anyio.abc import ByteReceiveStream

from buildg_dap.buildkit.address import BuilderError, check_unix_socket
from buildg_dap.buildkit.relay import Dial, Link, LinkFailed

_HEADER_LIMIT = 64 * 1024


def check_socket(path: str) -> None:
    check_unix_socket(
        path, "Docker Engine",
        missing="is dockerd running? (docker-engine:///path names another socket)",
        who="run as root or as a user in the docker group",
        really="Docker Engine's",
    )  # fmt: skip


class _Prefixed(ByteReceiveStream):
    """A stream whose first bytes were already read (past the upgrade's headers)."""

    def __init__(self, first: bytes, rest: ByteReceiveStream) -> None:
        self._first = first
        self._rest = rest

    async def receive(self, max_bytes: int = 65536) -> bytes:
        if self._first:
            chunk, self._first = self._first[:max_bytes], self._first[max_bytes:]
            return chunk
        return await self._rest.receive(max_bytes)

    async def aclose(self) -> None:
        await self._rest.aclose()


def engine_dial(path: str) -> Dial:
    """Each link is a new Engine API connection upgraded to HTTP/2 at ``/grpc``."""

    async def dial() -> Link:
        try:
            sock = await anyio.connect_unix(path)
        except PermissionError:
            raise LinkFailed(f"permission denied on Docker Engine socket {path}") from None
        except OSError as exc:
            raise LinkFailed(f"cannot connect to Docker Engine at {path}: {exc.strerror}") from None
        try:
            await sock.send(
                b"POST /grpc HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\n"
                b"Upgrade: h2c\r\nContent-Length: 0\r\n\r\n"
            )
            received = b""
            while b"\r\n\r\n" not in received:
                if len(received) > _HEADER_LIMIT:
                    raise LinkFailed("Docker Engine's answer to the gRPC upgrade is too long")
                try:
                    received += await sock.receive()
                except anyio.EndOfStream:
                    raise LinkFailed("Docker Engine closed the gRPC upgrade") from None
            head, rest = received.split(b"\r\n\r\n", 1)
            status = head.split(b"\r\n", 1)[0].decode(errors="replace")
            if " 101 " not in f"{status} ":
                raise LinkFailed(
                    f"Docker Engine refused the gRPC upgrade ({status}): its API has no "
                    "BuildKit endpoint (Docker 18.09 or newer has one)"
                )
        except BaseException:
            await sock.aclose()
            raise

        class _EngineLink(Link):
            async def finish(self) -> str:
                await sock.aclose()
                return ""

        return _EngineLink(_Prefixed(rest, sock), sock)

    return dial


async def engine_version(path: str) -> dict[str, Any]:
    """The engine's ``/version`` answer (``Version``, ``ApiVersion``, …)."""
    transport = httpx.AsyncHTTPTransport(uds=path)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://docker",
                                     timeout=10, trust_env=False) as client:  # fmt: skip
            answer = await client.get("/version")
    except httpx.HTTPError as exc:
        raise BuilderError(f"Docker Engine at {path} did not answer /version: {exc}") from None
    if answer.status_code != 200:
        raise BuilderError(f"Docker Engine at {path} answered /version with {answer.status_code}")
    body: dict[str, Any] = answer.json()
    return body
