"""What a hostile or broken HTTP/2 peer can send, frame by frame, and how the session's
server answers it (RFC 9113 §5, §6; the limits it advertises)."""

from __future__ import annotations

import anyio
import pytest

from buildg_dap.buildkit.session.h2server import Stream
from tests.unit.h2peer import (
    END_HEADERS,
    END_STREAM,
    PREFACE,
    E,
    Peer,
    S,
    T,
    frame,
    request_headers,
    serving,
    settings,
    window_update,
)

FRAME = 16_384  # the largest frame a peer may send before we say otherwise


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Handlers:
    """Stream handlers that record which streams reached them."""

    def __init__(self) -> None:
        self.seen: list[int] = []

    async def hold(self, stream: Stream) -> None:
        """Never reads the request: what arrives stays queued."""
        self.seen.append(stream.id)
        await anyio.sleep_forever()

    async def reply(self, stream: Stream) -> None:
        self.seen.append(stream.id)
        while await stream.receive() is not None:
            pass
        stream.send_headers([(":status", "200")])
        stream.send_trailers([("grpc-status", "0")])


def data_frames(stream: int, size: int) -> bytes:
    return b"".join(
        frame(T.DATA, 0, stream, bytes(min(FRAME, size - start)))
        for start in range(0, size, FRAME)
    )


@pytest.mark.anyio
async def test_the_server_advertises_its_stream_and_header_list_limits() -> None:
    async with serving(Handlers().reply) as peer:
        ours = await peer.start()
    assert 1 <= ours[S.MAX_CONCURRENT_STREAMS] <= 1000
    assert 16 << 10 <= ours[S.MAX_HEADER_LIST_SIZE] <= 16 << 20


@pytest.mark.anyio
async def test_endless_continuation_frames_end_the_connection() -> None:
    handlers = Handlers()
    async with serving(handlers.hold) as peer:
        await peer.start()
        # A header block that never ends: each piece is a legal frame, the whole is not.
        flood = frame(T.HEADERS, 0, 1, b"\x00" * 10) + b"".join(
            frame(T.CONTINUATION, 0, 1, b"\x00" * FRAME) for _ in range(100)
        )
        await peer.to_server.send(flood)
        kind, _, code = await peer.refusal()
    assert (kind, code) == ("GOAWAY", E.PROTOCOL_ERROR)
    assert handlers.seen == []
    assert peer.error is not None


@pytest.mark.anyio
async def test_a_header_list_over_the_advertised_size_ends_the_connection() -> None:
    handlers = Handlers()
    async with serving(handlers.hold) as peer:
        limit = (await peer.start())[S.MAX_HEADER_LIST_SIZE]
        # After its first copy each repeat is one byte on the wire (an HPACK index):
        # a small block that decodes to a list far over the limit.
        big = ("x-big", "b" * 4000)
        fields = request_headers("/svc/Big") + [big] * (2 * limit // 4000)
        await peer.to_server.send(b"".join(peer.headers(1, "", fields=fields)))
        kind, _, code = await peer.refusal()
    assert (kind, code) == ("GOAWAY", E.ENHANCE_YOUR_CALM)
    assert handlers.seen == []


@pytest.mark.anyio
async def test_a_large_header_list_within_the_limit_reaches_the_handler() -> None:
    # buildkitd sends .dockerignore patterns as metadata: far more than h2's default
    # 64 KiB may be legal, and from the first request on (before our SETTINGS is acked).
    handlers = Handlers()
    patterns = [("exclude-patterns", f"dir{i:05d}/**/*.tmp") for i in range(8000)]
    async with serving(handlers.reply) as peer:
        fields = request_headers("/svc/Many") + patterns
        await peer.to_server.send(PREFACE + b"".join(peer.headers(1, "", fields=fields)))
        trailers = await peer.next_frame(T.HEADERS)
        while not trailers.flags & END_STREAM:
            trailers = await peer.next_frame(T.HEADERS)
    assert handlers.seen == [1]


@pytest.mark.anyio
async def test_streams_beyond_the_advertised_limit_are_refused() -> None:
    handlers = Handlers()
    async with serving(handlers.hold) as peer:
        limit = (await peer.start())[S.MAX_CONCURRENT_STREAMS]
        opened = [
            part
            for index in range(limit + 1)
            for part in peer.headers(2 * index + 1, "/svc/Hold", end_stream=False)
        ]
        await peer.to_server.send(b"".join(opened))
        kind, _, code = await peer.refusal()
    assert (kind, code) in {("GOAWAY", E.PROTOCOL_ERROR), ("RST_STREAM", E.REFUSED_STREAM)}
    assert 2 * limit + 1 not in handlers.seen
    assert len(handlers.seen) <= limit


@pytest.mark.anyio
async def test_data_beyond_a_stream_window_is_a_flow_control_error() -> None:
    # The handler reads nothing, so nothing is credited back: what the stream may
    # queue is its window, and a peer that sends more is refused, not buffered.
    handlers = Handlers()
    async with serving(handlers.hold) as peer:
        window = (await peer.start()).get(S.INITIAL_WINDOW_SIZE, 65_535)
        opening = b"".join(peer.headers(1, "/svc/Hold", end_stream=False))
        await peer.to_server.send(opening + data_frames(1, window + FRAME))
        kind, stream, code = await peer.refusal()
    assert code == E.FLOW_CONTROL_ERROR
    assert (kind, stream) in {("GOAWAY", 0), ("RST_STREAM", 1)}


@pytest.mark.anyio
async def test_data_beyond_the_connection_window_is_a_flow_control_error() -> None:
    handlers = Handlers()
    async with serving(handlers.hold) as peer:
        stream_window = (await peer.start()).get(S.INITIAL_WINDOW_SIZE, 65_535)
        update = await peer.next_frame(T.WINDOW_UPDATE)
        assert update.stream == 0
        window = 65_535 + int.from_bytes(update.payload)
        # Every stream stays inside its own window; together they pass the
        # connection's, all in one write (no credit can come back in between).
        wire, sent, stream = bytearray(), 0, 1
        while sent <= window:
            size = min(stream_window, window + 1 - sent)
            wire += b"".join(peer.headers(stream, "/svc/Hold", end_stream=False))
            wire += data_frames(stream, size)
            sent, stream = sent + size, stream + 2
        await peer.to_server.send(bytes(wire))
        kind, _, code = await peer.refusal()
    assert (kind, code) == ("GOAWAY", E.FLOW_CONTROL_ERROR)


@pytest.mark.anyio
@pytest.mark.parametrize("size", [0, FRAME - 1, 1 << 24])
async def test_a_max_frame_size_out_of_range_ends_the_connection(size: int) -> None:
    async with serving(Handlers().reply) as peer:
        await peer.start(settings({S.MAX_FRAME_SIZE: size}))
        kind, _, code = await peer.refusal()
    assert (kind, code) == ("GOAWAY", E.PROTOCOL_ERROR)


@pytest.mark.anyio
@pytest.mark.parametrize("stream", [0, 1])
async def test_a_window_update_of_zero_is_an_error(stream: int) -> None:
    async with serving(Handlers().hold) as peer:
        await peer.start(*peer.headers(1, "/svc/Hold", end_stream=False))
        await peer.to_server.send(window_update(stream, 0))
        kind, at, code = await peer.refusal()
    assert code == E.PROTOCOL_ERROR
    assert (kind, at) in {("GOAWAY", 0), ("RST_STREAM", stream)}


@pytest.mark.anyio
async def test_a_connection_window_past_2_31_is_a_connection_error() -> None:
    async with serving(Handlers().hold) as peer:
        await peer.start()
        await peer.to_server.send(window_update(0, (1 << 31) - 1))
        kind, _, code = await peer.refusal()
    assert (kind, code) == ("GOAWAY", E.FLOW_CONTROL_ERROR)


@pytest.mark.anyio
async def test_a_stream_window_past_2_31_resets_that_stream() -> None:
    async with serving(Handlers().hold) as peer:
        await peer.start(*peer.headers(1, "/svc/Hold", end_stream=False))
        await peer.to_server.send(window_update(1, (1 << 31) - 1))
        refusal = await peer.refusal()
    assert refusal == ("RST_STREAM", 1, E.FLOW_CONTROL_ERROR)


@pytest.mark.anyio
@pytest.mark.parametrize(
    "wire",
    [
        frame(T.DATA, 0, 5, b"data"),  # stream 5 was never opened
        window_update(5, 100),
        frame(T.HEADERS, END_HEADERS | END_STREAM, 2, b"\x82"),  # even: a server's id
    ],
    ids=["data-on-idle", "window-update-on-idle", "headers-on-even-id"],
)
async def test_frames_on_idle_or_server_stream_ids_end_the_connection(wire: bytes) -> None:
    handlers = Handlers()
    async with serving(handlers.hold) as peer:
        await peer.start(wire)
        kind, _, code = await peer.refusal()
    assert (kind, code) == ("GOAWAY", E.PROTOCOL_ERROR)
    assert handlers.seen == []


async def _one_finished_call(peer: Peer) -> None:
    await peer.start(*peer.headers(1, "/svc/Reply"))
    trailers = await peer.next_frame(T.HEADERS)
    while not trailers.flags & END_STREAM:
        trailers = await peer.next_frame(T.HEADERS)


@pytest.mark.anyio
async def test_data_on_a_closed_stream_is_a_stream_closed_error() -> None:
    async with serving(Handlers().reply) as peer:
        await _one_finished_call(peer)
        await peer.to_server.send(frame(T.DATA, 0, 1, b"late"))
        kind, stream, code = await peer.refusal()
    # RFC 9113 §6.1: a stream error of type STREAM_CLOSED (a connection error will do).
    assert code == E.STREAM_CLOSED
    assert (kind, stream) in {("GOAWAY", 0), ("RST_STREAM", 1)}


@pytest.mark.anyio
async def test_headers_reusing_a_closed_stream_id_end_the_connection() -> None:
    handlers = Handlers()
    async with serving(handlers.reply) as peer:
        await _one_finished_call(peer)
        await peer.to_server.send(b"".join(peer.headers(1, "/svc/Again")))
        kind, _, code = await peer.refusal()
    assert kind == "GOAWAY"
    assert code in {E.STREAM_CLOSED, E.PROTOCOL_ERROR}
    assert handlers.seen == [1]


@pytest.mark.anyio
async def test_headers_on_a_lower_id_than_a_used_one_end_the_connection() -> None:
    handlers = Handlers()
    async with serving(handlers.hold) as peer:
        await peer.start(*peer.headers(5, "/svc/Hold", end_stream=False))
        await peer.to_server.send(b"".join(peer.headers(3, "/svc/Hold", end_stream=False)))
        kind, _, code = await peer.refusal()
    assert (kind, code) == ("GOAWAY", E.PROTOCOL_ERROR)
    assert handlers.seen == [5]


_OK = request_headers("/svc/Method")
_MALFORMED = {
    "duplicate-path": [*_OK[:3], (":path", "/other/Method"), *_OK[3:]],
    "no-path": [f for f in _OK if f[0] != ":path"],
    "no-method": [f for f in _OK if f[0] != ":method"],
    "pseudo-after-regular": [*_OK[3:], *_OK[:3]],
    "unknown-pseudo": [*_OK[:4], (":protocol-x", "h2"), *_OK[4:]],
    "response-pseudo": [*_OK[:4], (":status", "200"), *_OK[4:]],
    "uppercase-name": [*_OK, ("X-Upper", "v")],
    "connection-header": [*_OK, ("connection", "keep-alive")],
}


@pytest.mark.anyio
@pytest.mark.parametrize("fields", _MALFORMED.values(), ids=_MALFORMED.keys())
async def test_malformed_request_headers_never_reach_a_handler(
    fields: list[tuple[str, str]],
) -> None:
    handlers = Handlers()
    async with serving(handlers.hold) as peer:
        await peer.start(*peer.headers(1, "", fields=fields))
        kind, stream, code = await peer.refusal()
    assert code == E.PROTOCOL_ERROR
    assert (kind, stream) in {("GOAWAY", 0), ("RST_STREAM", 1)}
    assert handlers.seen == []
