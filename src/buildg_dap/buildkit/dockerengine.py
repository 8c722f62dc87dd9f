"""The BuildKit inside Docker Engine, reached through the Engine API.

``POST /grpc`` with ``Upgrade: h2c`` turns an Engine API connection into an HTTP/2
connection to the engine's BuildKit control and gateway services (as buildx's docker
driver does); ``GET /version`` says which engine it is.
"""

from __future__ import annotations

from typing import Any

import anyio
import httpx
from anyio.abc import SocketStream
from anyio.streams.buffered import BufferedByteReceiveStream

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


class _EngineLink(Link):
    """An upgraded Engine API connection; its receiving side holds what was read past
    the upgrade's headers."""

    def __init__(self, sock: SocketStream, receive: BufferedByteReceiveStream) -> None:
        super().__init__(receive, sock)
        self._sock = sock

    async def finish(self) -> str:
        await self._sock.aclose()
        return ""


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
            received = BufferedByteReceiveStream(sock)
            try:
                head = await received.receive_until(b"\r\n\r\n", _HEADER_LIMIT)
            except anyio.DelimiterNotFound:
                raise LinkFailed("Docker Engine's answer to the gRPC upgrade is too long") from None
            except anyio.IncompleteRead:
                raise LinkFailed("Docker Engine closed the gRPC upgrade") from None
            status = head.split(b"\r\n", 1)[0].decode(errors="replace")
            if " 101 " not in f"{status} ":
                raise LinkFailed(
                    f"Docker Engine refused the gRPC upgrade ({status}): its API has no "
                    "BuildKit endpoint (Docker 18.09 or newer has one)"
                )
        except BaseException:
            await sock.aclose()
            raise
        return _EngineLink(sock, received)

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
