"""The HTTP/2 connection at frame level: what a gRPC client rarely does on its own
(tiny windows, split header blocks, pings, protocol errors)."""

from __future__ import annotations

import anyio
import pytest

from buildg_dap.buildkit.session.h2frames import (
    ACK,
    END_STREAM,
    PREFACE,
    ErrorCode,
    FrameType,
    H2Error,
    Setting,
    decode_settings,
    encode_frame,
    encode_settings,
)
from buildg_dap.buildkit.session.h2server import H2Connection, Stream
from tests.unit.h2peer import Peer, serve

REPLY = b"0123456789ABCDEFGHIJ"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def _reply(stream: Stream) -> None:
    stream.send_headers([(":status", "200")])
    stream.send_data(REPLY)
    stream.send_trailers([("grpc-status", "0")])


@pytest.mark.anyio
async def test_windows_split_headers_pings_and_settings() -> None:
    peer = Peer()
    seen: list[list[tuple[str, str]]] = []

    async def on_stream(stream: Stream) -> None:
        seen.append(stream.headers)
        await _reply(stream)

    done = anyio.Event()
    async with anyio.create_task_group() as tg:
        tg.start_soon(serve, peer, H2Connection(on_stream), done)
        ours = decode_settings((await peer.next_frame(FrameType.SETTINGS)).payload)
        assert ours[Setting.INITIAL_WINDOW_SIZE] > 65_535
        # A 7-byte window for every stream: the reply must come in pieces.
        await peer.to_server.send(
            PREFACE + encode_settings({Setting.INITIAL_WINDOW_SIZE: 7})
        )
        assert (await peer.next_frame(FrameType.SETTINGS)).flags & ACK
        await peer.to_server.send(b"".join(peer.headers(1, "/svc/Method")))
        await peer.to_server.send(encode_frame(FrameType.PING, 0, 0, b"pingpong"))
        pong = await peer.next_frame(FrameType.PING)
        assert (pong.flags, pong.payload) == (ACK, b"pingpong")
        received = b""
        while len(received) < len(REPLY):
            data = await peer.next_frame(FrameType.DATA)
            assert len(data.payload) <= 7
            received += data.payload
            window = len(data.payload).to_bytes(4)
            await peer.to_server.send(encode_frame(FrameType.WINDOW_UPDATE, 0, 1, window))
        assert received == REPLY
        response = await peer.next_frame(FrameType.HEADERS)
        assert peer.decoder.decode(response.payload) == [(":status", "200")]
        trailers = await peer.next_frame(FrameType.HEADERS)
        assert trailers.flags & END_STREAM
        assert peer.decoder.decode(trailers.payload) == [("grpc-status", "0")]
        await peer.to_server.aclose()
        with anyio.fail_after(10):
            await done.wait()
    assert seen == [[(":method", "POST"), (":path", "/svc/Method"), ("x-k", "v")]]


@pytest.mark.anyio
async def test_a_protocol_error_ends_the_connection_with_goaway() -> None:
    peer = Peer()
    done = anyio.Event()
    with pytest.raises(ExceptionGroup) as raised:
        async with anyio.create_task_group() as tg:
            tg.start_soon(serve, peer, H2Connection(_reply), done)
            await peer.to_server.send(PREFACE + encode_frame(FrameType.PUSH_PROMISE, 0, 1, b""))
            goaway = await peer.next_frame(FrameType.GOAWAY)
            assert int.from_bytes(goaway.payload[4:8]) == ErrorCode.PROTOCOL_ERROR
    assert raised.group_contains(H2Error)


@pytest.mark.anyio
async def test_a_reset_stream_cancels_its_handler() -> None:
    peer = Peer()
    cancelled = anyio.Event()

    async def on_stream(stream: Stream) -> None:
        try:
            await anyio.sleep_forever()
        finally:
            cancelled.set()

    done = anyio.Event()
    async with anyio.create_task_group() as tg:
        tg.start_soon(serve, peer, H2Connection(on_stream), done)
        await peer.to_server.send(PREFACE + b"".join(peer.headers(1, "/svc/Wait")))
        cancel = ErrorCode.CANCEL.to_bytes(4)
        await peer.to_server.send(encode_frame(FrameType.RST_STREAM, 0, 1, cancel))
        with anyio.fail_after(10):
            await cancelled.wait()
        await peer.to_server.aclose()
        await done.wait()


@pytest.mark.anyio
async def test_a_reset_drops_what_waited_for_a_window_and_others_go_on() -> None:
    peer = Peer()
    done = anyio.Event()
    async with anyio.create_task_group() as tg:
        tg.start_soon(serve, peer, H2Connection(_reply), done)
        # No window at all: stream 1's reply waits, queued.
        await peer.to_server.send(
            PREFACE
            + encode_settings({Setting.INITIAL_WINDOW_SIZE: 0})
            + b"".join(peer.headers(1, "/svc/Blocked"))
        )
        await peer.next_frame(FrameType.HEADERS)  # its response headers need no window
        cancel = ErrorCode.CANCEL.to_bytes(4)
        await peer.to_server.send(
            encode_frame(FrameType.RST_STREAM, 0, 1, cancel)
            + encode_frame(FrameType.WINDOW_UPDATE, 0, 1, (1000).to_bytes(4))
            + encode_settings({Setting.INITIAL_WINDOW_SIZE: 1000})
            + b"".join(peer.headers(3, "/svc/Next"))
        )
        data = await peer.next_frame(FrameType.DATA)
        assert (data.stream, data.payload) == (3, REPLY)
        await peer.to_server.aclose()
        await done.wait()
    assert not [f for f in peer.pending_frames() if f.stream == 1 and f.type == FrameType.DATA]
