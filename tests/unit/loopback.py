"""Small servers for unit tests, on 127.0.0.1 or private Unix sockets only: an HTTP/1.1
server answering from a handler, and a grpc.aio server for one session service."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path

import anyio
from anyio.abc import SocketStream
from grpc import aio

from buildg_dap.buildkit.session.bridge import Attachable


@dataclass
class HTTPRequest:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes


@dataclass
class HTTPReply:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


HTTPHandler = Callable[[HTTPRequest], HTTPReply]


async def _answer(stream: SocketStream, handler: HTTPHandler, seen: list[HTTPRequest]) -> None:
    async with stream:
        data = b""
        while b"\r\n\r\n" not in data:
            data += await stream.receive()
        head, body = data.split(b"\r\n\r\n", 1)
        line, *header_lines = head.decode().split("\r\n")
        method, target, _ = line.split(" ", 2)
        headers = {}
        for header in header_lines:
            key, _, value = header.partition(":")
            headers[key.strip().lower()] = value.strip()
        while len(body) < int(headers.get("content-length", "0")):
            body += await stream.receive()
        request = HTTPRequest(method, target, headers, body)
        seen.append(request)
        reply = handler(request)
        lines = [
            f"HTTP/1.1 {reply.status} {HTTPStatus(reply.status).phrase}",
            f"Content-Length: {len(reply.body)}",
            "Connection: close",
            *(f"{k}: {v}" for k, v in reply.headers.items()),
        ]
        await stream.send(("\r\n".join(lines) + "\r\n\r\n").encode() + reply.body)


@asynccontextmanager
async def http_server(handler: HTTPHandler) -> AsyncIterator[tuple[str, list[HTTPRequest]]]:
    """Yields ``http://127.0.0.1:PORT`` and the requests received so far."""
    seen: list[HTTPRequest] = []
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    async with listener, anyio.create_task_group() as group:
        group.start_soon(listener.serve, lambda s: _answer(s, handler, seen))
        yield f"http://127.0.0.1:{port}", seen
        group.cancel_scope.cancel()


@asynccontextmanager
async def grpc_service(attachable: Attachable) -> AsyncIterator[aio.Channel]:
    """Serves one attachable on a private Unix socket; yields a channel to it."""
    # A short directory of our own: socket paths are limited to ~100 bytes.
    with tempfile.TemporaryDirectory(prefix="bgd-") as tmp:
        address = f"unix://{Path(tmp) / 'svc.sock'}"
        server = aio.server()
        attachable.register(server)
        server.add_insecure_port(address)
        await server.start()
        try:
            async with aio.insecure_channel(address) as channel:
                yield channel
        finally:
            await server.stop(grace=None)
