"""The session: our gRPC services, reachable by buildkitd through Control.Session.

buildkitd dials *us* over the Session byte stream. grpcio cannot serve over an arbitrary
stream, so the services run on a private grpc.aio server bound to a Unix socket in a
0700 directory, and one connection to that socket is pumped to and from the stream.
"""

from __future__ import annotations

import secrets
import socket
import tempfile
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import grpc
from google.protobuf.descriptor import ServiceDescriptor
from grpc import aio

from buildg_dap._proto.buildkit import control_pb2
from buildg_dap._proto.health import health_pb2, health_pb2_grpc
from buildg_dap.buildkit.connection import Connection

_PREFIX = "x-docker-expose-session-"
_CHUNK = 1024 * 1024
_SERVER_OPTIONS = [
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
    ("grpc.max_send_message_length", 64 * 1024 * 1024),
]


@dataclass(frozen=True)
class Attachable:
    """One service offered to buildkitd: its descriptor and how to register it."""

    descriptor: ServiceDescriptor
    register: Callable[[aio.Server], None]

    def method_urls(self) -> list[str]:
        return [f"/{self.descriptor.full_name}/{m.name}" for m in self.descriptor.methods]


class _Health(health_pb2_grpc.HealthServicer):
    async def Check(
        self, request: health_pb2.HealthCheckRequest, context: Any
    ) -> health_pb2.HealthCheckResponse:
        return health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.SERVING)


def _health() -> Attachable:
    servicer = _Health()
    return Attachable(
        descriptor=health_pb2.DESCRIPTOR.services_by_name["Health"],
        register=lambda server: health_pb2_grpc.add_HealthServicer_to_server(servicer, server),
    )


@dataclass
class Session:
    """A live session; ``id`` goes into every solve that needs our services."""

    id: str
    name: str
    shared_key: str
    methods: list[str] = field(default_factory=list)

    def metadata(self) -> tuple[tuple[str, str], ...]:
        md = [
            (_PREFIX + "uuid", self.id),
            (_PREFIX + "name", self.name),
            (_PREFIX + "sharedkey", self.shared_key),
        ]
        md += [(_PREFIX + "grpc-method", m) for m in self.methods]
        return tuple(md)


async def _pump_in(call: Any, sock: socket.socket) -> None:
    async for message in call:
        view = memoryview(message.data)
        while view:
            await anyio.wait_writable(sock)
            try:
                view = view[sock.send(view) :]
            except BlockingIOError:
                continue
    sock.shutdown(socket.SHUT_WR)


async def _pump_out(call: Any, sock: socket.socket) -> None:
    """Our server writes small HTTP/2 frames; everything already buffered goes out as
    one Session message, which keeps the per-message cost off large transfers."""
    ended = False
    while not ended:
        await anyio.wait_readable(sock)
        buffer = bytearray()
        while len(buffer) < _CHUNK:
            try:
                data = sock.recv(_CHUNK - len(buffer))
            except BlockingIOError:
                break
            except (ConnectionResetError, BrokenPipeError):
                data = b""
            if not data:
                ended = True
                break
            buffer += data
        if buffer:
            await call.write(control_pb2.BytesMessage(data=bytes(buffer)))
    await call.done_writing()


@asynccontextmanager
async def open_session(
    conn: Connection,
    attachables: Sequence[Attachable],
    *,
    name: str = "buildg-dap",
    shared_key: str = "",
) -> AsyncIterator[Session]:
    """Serve ``attachables`` to buildkitd for the duration of the block."""
    services = [_health(), *attachables]
    session = Session(
        id=secrets.token_hex(16),
        name=name,
        shared_key=shared_key or secrets.token_hex(8),
        methods=[url for a in services for url in a.method_urls()],
    )
    # mkdtemp makes the directory 0700: only we can reach the socket.
    with tempfile.TemporaryDirectory(prefix="buildg-dap-session-") as tmp:
        path = str(Path(tmp) / "s.sock")
        server = aio.server(options=_SERVER_OPTIONS)
        for attachable in services:
            attachable.register(server)
        server.add_insecure_port(f"unix://{path}")
        await server.start()
        try:
            call = conn.control.Session(metadata=session.metadata())
            try:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                with sock:
                    sock.connect(path)  # local and already listening: does not block
                    sock.setblocking(False)
                    async with anyio.create_task_group() as tg:
                        tg.start_soon(_pump_in, call, sock)
                        tg.start_soon(_pump_out, call, sock)
                        try:
                            yield session
                        finally:
                            tg.cancel_scope.cancel()
            finally:
                call.cancel()
        except aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.CANCELLED:
                raise
        finally:
            with anyio.CancelScope(shield=True):
                await server.stop(grace=None)
