"""The session: our gRPC services, reachable by buildkitd through Control.Session.

buildkitd dials *us* over the Session byte stream (grpc-go over a connection made of
BytesMessages). That HTTP/2 connection is served right here, on the stream's bytes.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import anyio
import grpc
from grpc import aio

from buildg_dap._proto.buildkit import control_pb2
from buildg_dap._proto.health import health_pb2
from buildg_dap.buildkit.connection import Connection
from buildg_dap.buildkit.session.h2server import H2Connection
from buildg_dap.buildkit.session.rpcserver import Attachable, CallContext, method_table, serve_call

_PREFIX = "x-docker-expose-session-"


class _Health:
    async def Check(
        self, request: health_pb2.HealthCheckRequest, context: CallContext
    ) -> health_pb2.HealthCheckResponse:
        return health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.SERVING)


_HEALTH = Attachable(
    descriptor=health_pb2.DESCRIPTOR.services_by_name["Health"], servicer=_Health()
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


@asynccontextmanager
async def open_session(
    conn: Connection,
    attachables: Sequence[Attachable],
    *,
    name: str = "buildg-dap",
    shared_key: str = "",
) -> AsyncIterator[Session]:
    """Serve ``attachables`` to buildkitd for the duration of the block."""
    services = [_HEALTH, *attachables]
    session = Session(
        id=secrets.token_hex(16),
        name=name,
        shared_key=shared_key or secrets.token_hex(8),
        methods=[url for a in services for url in a.method_urls()],
    )
    methods = method_table(services)
    connection = H2Connection(lambda stream: serve_call(stream, methods))
    call = conn.control.Session(metadata=session.metadata())

    async def receive() -> AsyncIterator[bytes]:
        async for message in call:
            yield message.data

    async def send(data: bytes) -> None:
        await call.write(control_pb2.BytesMessage(data=data))

    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(connection.run, receive(), send)
            try:
                yield session
            finally:
                tg.cancel_scope.cancel()
    except aio.AioRpcError as exc:
        if exc.code() != grpc.StatusCode.CANCELLED:
            raise
    finally:
        call.cancel()
