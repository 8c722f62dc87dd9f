"""Small servers for unit tests, on 127.0.0.1 or private Unix sockets only: an HTTP/1.1
server answering from a handler, and the session's own gRPC server."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path

import anyio
from anyio.abc import SocketStream
from grpc import aio

from buildg_dap.buildkit.session.h2server import H2Connection
from buildg_dap.buildkit.session.rpcserver import Attachable, method_table, serve_call


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
async def grpc_service(*attachables: Attachable) -> AsyncIterator[aio.Channel]:
    """Serves attachables with the session's own HTTP/2 server on a private Unix
    socket; yields a grpc.aio channel to it."""
    methods = method_table(attachables)

    async def serve(client: SocketStream) -> None:
        async def receive() -> AsyncIterator[bytes]:
            with suppress(anyio.EndOfStream, anyio.BrokenResourceError):
                while True:
                    yield await client.receive()

        async with client:
            connection = H2Connection(lambda stream: serve_call(stream, methods))
            await connection.run(receive(), client.send)

    # A short directory of our own: socket paths are limited to ~100 bytes.
    with tempfile.TemporaryDirectory(prefix="bgd-") as tmp:
        path = Path(tmp) / "svc.sock"
        listener = await anyio.create_unix_listener(path)
        async with listener, anyio.create_task_group() as group:
            group.start_soon(listener.serve, serve)
            async with aio.insecure_channel(f"unix://{path}") as channel:
                yield channel
            group.cancel_scope.cancel()
