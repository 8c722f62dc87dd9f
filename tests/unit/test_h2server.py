"""The HTTP/2 connection at frame level: what a gRPC client rarely does on its own
(tiny windows, split header blocks, pings, protocol errors)."""

from __future__ import annotations

import anyio
import pytest
from h2.exceptions import ProtocolError

from buildg_dap.buildkit.session.h2server import H2Connection, Stream
from tests.unit.h2peer import (
    ACK,
    END_HEADERS,
    END_STREAM,
    PREFACE,
    E,
    Peer,
    S,
    T,
    frame,
    request_headers,
    rst_stream,
    serve,
    settings,
    window_update,
)

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
        # A 7-byte window for every stream: the reply must come in pieces.
        ours = await peer.start(settings({S.INITIAL_WINDOW_SIZE: 7}))
        assert ours[S.INITIAL_WINDOW_SIZE] > 65_535
        assert (await peer.next_frame(T.SETTINGS)).flags & ACK
        await peer.to_server.send(b"".join(peer.headers(1, "/svc/Method")))
        await peer.to_server.send(frame(T.PING, 0, 0, b"pingpong"))
        pong = await peer.next_frame(T.PING)
        assert (pong.flags, pong.payload) == (ACK, b"pingpong")
        received = b""
        while len(received) < len(REPLY):
            data = await peer.next_frame(T.DATA)
            assert len(data.payload) <= 7
            received += data.payload
            await peer.to_server.send(window_update(1, len(data.payload)))
        assert received == REPLY
        response = await peer.next_frame(T.HEADERS)
        assert peer.decoder.decode(response.payload) == [(":status", "200")]
        trailers = await peer.next_frame(T.HEADERS)
        assert trailers.flags & END_STREAM
        assert peer.decoder.decode(trailers.payload) == [("grpc-status", "0")]
        await peer.to_server.aclose()
        with anyio.fail_after(10):
            await done.wait()
    assert seen == [request_headers("/svc/Method")]


@pytest.mark.anyio
async def test_a_protocol_error_ends_the_connection_with_goaway() -> None:
    peer = Peer()
    done = anyio.Event()
    async with anyio.create_task_group() as tg:
        tg.start_soon(serve, peer, H2Connection(_reply), done)
        await peer.to_server.send(PREFACE + frame(T.PUSH_PROMISE, END_HEADERS, 1, (2).to_bytes(4)))
        goaway = await peer.next_frame(T.GOAWAY)
        assert goaway.error_code == E.PROTOCOL_ERROR
        with anyio.fail_after(10):
            await done.wait()
    assert isinstance(peer.error, ProtocolError)


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
        await peer.start(*peer.headers(1, "/svc/Wait"))
        await peer.to_server.send(rst_stream(1))
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
        await peer.start(
            settings({S.INITIAL_WINDOW_SIZE: 0}), *peer.headers(1, "/svc/Blocked")
        )
        await peer.next_frame(T.HEADERS)  # its response headers need no window
        await peer.to_server.send(
            rst_stream(1)
            + window_update(1, 1000)
            + settings({S.INITIAL_WINDOW_SIZE: 1000})
            + b"".join(peer.headers(3, "/svc/Next"))
        )
        data = await peer.next_frame(T.DATA)
        assert (data.stream, data.payload) == (3, REPLY)
        await peer.to_server.aclose()
        await done.wait()
    assert not [f for f in peer.pending_frames() if f.stream == 1 and f.type == T.DATA]
