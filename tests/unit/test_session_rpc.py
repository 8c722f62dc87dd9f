"""The session's own HTTP/2 + gRPC server, driven by grpcio's (independent) client.

The servicer stands on real descriptors: FileSync.DiffCopy (bidirectional streams of
fsutil Packets) and Health.Check (unary). Server-streaming replies from async
generators are covered by the content store's tests.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from typing import Any

import anyio
import grpc
import pytest
from grpc import aio

from buildg_dap._proto.fsutil import types_pb2
from buildg_dap._proto.health import health_pb2
from buildg_dap._proto.session import filesync_pb2
from buildg_dap.buildkit.session.h2server import H2Connection
from buildg_dap.buildkit.session.rpcserver import (
    MAX_MESSAGE,
    Attachable,
    CallContext,
    method_table,
    serve_call,
)
from tests.unit.h2peer import Peer, T, frame, serve
from tests.unit.loopback import grpc_service

Packet = types_pb2.Packet
MIB = 1024 * 1024
DIFFCOPY = "/moby.filesync.v1.FileSync/DiffCopy"
TARSTREAM = "/moby.filesync.v1.FileSync/TarStream"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Servicer:
    """Behaviour chosen by the first packet's type: echo, big replies, errors, hang."""

    def __init__(self) -> None:
        self.metadata: dict[str, Any] = {}
        self.cancelled = anyio.Event()

    async def DiffCopy(self, requests: AsyncIterator[Packet], context: CallContext) -> None:
        self.metadata = dict(context.invocation_metadata())
        digest = hashlib.sha256()
        received = 0
        async for packet in requests:
            if packet.type == Packet.PACKET_REQ:  # reply with ID MiB of counted bytes
                for index in range(packet.ID):
                    await context.write(Packet(type=Packet.PACKET_DATA, data=_block(index)))
            elif packet.type == Packet.PACKET_ERR:
                await context.abort(grpc.StatusCode.FAILED_PRECONDITION, packet.data.decode())
            elif packet.type == Packet.PACKET_FIN:
                raise RuntimeError("boom")
            elif packet.type == Packet.PACKET_STAT:  # wait to be cancelled
                try:
                    await anyio.sleep_forever()
                finally:
                    self.cancelled.set()
            else:
                digest.update(packet.data)
                received += len(packet.data)
        summary = f"{received} {digest.hexdigest()}".encode()
        await context.write(Packet(type=Packet.PACKET_FIN, data=summary))

    async def Check(
        self, request: health_pb2.HealthCheckRequest, context: CallContext
    ) -> health_pb2.HealthCheckResponse:
        return health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.SERVING)


def _block(index: int) -> bytes:
    return bytes([index % 251]) * MIB


def _diffcopy(channel: aio.Channel) -> Any:
    return channel.stream_stream(
        DIFFCOPY,
        request_serializer=Packet.SerializeToString,
        response_deserializer=Packet.FromString,
    )


def _attachables(servicer: Servicer) -> list[Attachable]:
    return [
        Attachable(filesync_pb2.DESCRIPTOR.services_by_name["FileSync"], servicer),
        Attachable(health_pb2.DESCRIPTOR.services_by_name["Health"], servicer),
    ]


async def _one_call(servicer: Servicer, packets: list[Packet], **kw: Any) -> list[Packet]:
    failure: aio.AioRpcError | None = None
    async with grpc_service(*_attachables(servicer)) as channel:
        with anyio.fail_after(30):
            call = _diffcopy(channel)(iter(packets), **kw)
            try:
                return [reply async for reply in call]
            except aio.AioRpcError as exc:
                failure = exc  # raised out here, not wrapped by the server's task group
    raise failure


@pytest.mark.anyio
async def test_bidirectional_stream_of_many_small_messages() -> None:
    packets = [Packet(type=Packet.PACKET_DATA, data=f"chunk {i}".encode()) for i in range(5000)]
    replies = await _one_call(Servicer(), packets)
    expected = b"".join(p.data for p in packets)
    assert replies == [
        Packet(
            type=Packet.PACKET_FIN,
            data=f"{len(expected)} {hashlib.sha256(expected).hexdigest()}".encode(),
        )
    ]


@pytest.mark.anyio
async def test_large_upload_is_credited_back_to_the_client() -> None:
    # 24 MiB is six stream windows: without WINDOW_UPDATEs the client would stall.
    packets = [Packet(type=Packet.PACKET_DATA, data=_block(i)) for i in range(24)]
    replies = await _one_call(Servicer(), packets)
    digest = hashlib.sha256(b"".join(_block(i) for i in range(24))).hexdigest()
    assert replies[-1].data.decode() == f"{24 * MIB} {digest}"


@pytest.mark.anyio
async def test_large_download_waits_for_the_clients_windows() -> None:
    replies = await _one_call(Servicer(), [Packet(type=Packet.PACKET_REQ, ID=40)])
    assert [r.data for r in replies[:-1]] == [_block(i) for i in range(40)]
    assert replies[-1].type == Packet.PACKET_FIN


@pytest.mark.anyio
async def test_metadata_reaches_the_handler_text_and_binary() -> None:
    servicer = Servicer()
    metadata = (("dir-name", "context"), ("x-blob-bin", b"\x00\xff\x01"))
    await _one_call(servicer, [], metadata=metadata)
    assert servicer.metadata["dir-name"] == "context"
    assert servicer.metadata["x-blob-bin"] == b"\x00\xff\x01"


@pytest.mark.anyio
async def test_abort_status_and_non_ascii_details_arrive_intact() -> None:
    details = "naïve 100% — no such file"
    with pytest.raises(aio.AioRpcError) as raised:
        await _one_call(Servicer(), [Packet(type=Packet.PACKET_ERR, data=details.encode())])
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert raised.value.details() == details


@pytest.mark.anyio
async def test_handler_failure_is_unknown_with_its_message() -> None:
    with pytest.raises(aio.AioRpcError) as raised:
        await _one_call(Servicer(), [Packet(type=Packet.PACKET_FIN)])
    assert raised.value.code() == grpc.StatusCode.UNKNOWN
    assert "boom" in (raised.value.details() or "")


@pytest.mark.anyio
async def test_unknown_and_unimplemented_methods() -> None:
    async with grpc_service(*_attachables(Servicer())) as channel:
        for method in ("/no.such.Service/Call", TARSTREAM):
            call: Any = channel.unary_unary(method)
            with pytest.raises(aio.AioRpcError) as raised:
                await call(b"")
            assert raised.value.code() == grpc.StatusCode.UNIMPLEMENTED


@pytest.mark.anyio
async def test_client_cancel_cancels_the_handler() -> None:
    servicer = Servicer()
    async with grpc_service(*_attachables(servicer)) as channel:
        call = _diffcopy(channel)()
        await call.write(Packet(type=Packet.PACKET_STAT))
        await call.write(Packet(type=Packet.PACKET_DATA, data=b"x"))
        call.cancel()
        with anyio.fail_after(10):
            await servicer.cancelled.wait()


@pytest.mark.anyio
async def test_unary_calls_run_concurrently() -> None:
    async with grpc_service(*_attachables(Servicer())) as channel:
        check = channel.unary_unary(
            "/grpc.health.v1.Health/Check",
            request_serializer=health_pb2.HealthCheckRequest.SerializeToString,
            response_deserializer=health_pb2.HealthCheckResponse.FromString,
        )
        results: list[int] = []

        async def one() -> None:
            reply = await check(health_pb2.HealthCheckRequest())
            results.append(reply.status)

        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                for _ in range(50):
                    tg.start_soon(one)
        assert results == [health_pb2.HealthCheckResponse.SERVING] * 50


@pytest.mark.anyio
async def test_an_oversized_request_message_is_refused_before_it_arrives() -> None:
    peer = Peer()
    methods = method_table(_attachables(Servicer()))
    done = anyio.Event()
    async with anyio.create_task_group() as tg:
        tg.start_soon(serve, peer, H2Connection(lambda s: serve_call(s, methods)), done)
        headers = peer.headers(1, DIFFCOPY, end_stream=False)
        # Only the length prefix: the call must fail without waiting for the body.
        prefix = b"\x00" + (MAX_MESSAGE + 1).to_bytes(4)
        await peer.start(*headers, frame(T.DATA, 0, 1, prefix))
        trailers = await peer.next_frame(T.HEADERS)
        fields = dict(peer.decoder.decode(trailers.payload))
        assert fields["grpc-status"] == str(grpc.StatusCode.RESOURCE_EXHAUSTED.value[0])
        assert fields["grpc-message"] == f"message of {MAX_MESSAGE + 1} bytes"
        await peer.to_server.aclose()
        await done.wait()
