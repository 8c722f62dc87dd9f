"""HTTP/2 frames as the session's server reads them (RFC 9113 §3.4, §4, §6): cut from
arbitrary chunks, padding, reserved bits, and frames of impossible sizes."""

from __future__ import annotations

import anyio
import pytest
from h2.exceptions import ProtocolError

from buildg_dap.buildkit.session.h2server import Stream
from tests.unit.h2peer import (
    END_HEADERS,
    END_STREAM,
    PADDED,
    PREFACE,
    PRIORITY,
    E,
    Peer,
    T,
    frame,
    request_headers,
    serving,
    settings,
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Echo:
    """Records each request's path and body, and answers with the body."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, bytes]] = []

    async def __call__(self, stream: Stream) -> None:
        body = b""
        while (chunk := await stream.receive()) is not None:
            body += chunk
        self.requests.append((stream.path, body))
        stream.send_headers([(":status", "200")])
        stream.send_data(body)
        stream.send_trailers([("grpc-status", "0")])


async def _answer(peer: Peer, stream: int = 1) -> bytes:
    data = await peer.next_frame(T.DATA)
    assert data.stream == stream
    return data.payload


@pytest.mark.anyio
async def test_frames_are_cut_from_arbitrary_chunks() -> None:
    echo = Echo()
    async with serving(echo) as peer:
        block = peer.encoder.encode(request_headers("/svc/Echo"))
        wire = (
            PREFACE
            + settings({})
            + frame(T.HEADERS, END_HEADERS, 1, block)
            + frame(T.DATA, 0, 1, b"x" * 300)
            + frame(T.PING, 0, 0, b"12345678")
            + frame(T.DATA, END_STREAM, 1, b"y")
        )
        for start in range(0, len(wire), 7):  # seven bytes at a time
            await peer.to_server.send(wire[start : start + 7])
        assert (await peer.next_frame(T.PING)).payload == b"12345678"
        assert await _answer(peer) == b"x" * 300 + b"y"
    assert echo.requests == [("/svc/Echo", b"x" * 300 + b"y")]


@pytest.mark.anyio
async def test_the_stream_id_reserved_bit_is_ignored() -> None:
    echo = Echo()
    async with serving(echo) as peer:
        await peer.start(*peer.headers(1, "/svc/Echo", end_stream=False))
        await peer.to_server.send(frame(T.DATA, END_STREAM, 0x80000001, b"body"))
        assert await _answer(peer) == b"body"


@pytest.mark.anyio
async def test_padding_and_priority_fields_are_stripped() -> None:
    echo = Echo()
    async with serving(echo) as peer:
        block = peer.encoder.encode(request_headers("/svc/Padded"))
        headers = bytes([2]) + b"\0\0\0\0\x10" + block + b"\0\0"  # pad 2, priority fields
        await peer.start(
            frame(T.HEADERS, PADDED | PRIORITY | END_HEADERS, 1, headers),
            frame(T.DATA, PADDED | END_STREAM, 1, bytes([3]) + b"body" + b"\0\0\0"),
        )
        assert await _answer(peer) == b"body"
    assert echo.requests == [("/svc/Padded", b"body")]


@pytest.mark.anyio
@pytest.mark.parametrize("wire", [b"GET / HTTP/1.1\r\n\r\n", b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n"])
async def test_a_client_that_is_not_http2_is_refused(wire: bytes) -> None:
    echo = Echo()
    async with serving(echo) as peer:
        await peer.to_server.send(wire)
        with anyio.fail_after(10):
            while True:  # the server ends the connection (a GOAWAY may be left out)
                try:
                    await peer.next_frame(T.DATA, T.HEADERS)
                except AssertionError:
                    break
    assert isinstance(peer.error, ProtocolError)
    assert echo.requests == []


async def _refused(wire: bytes) -> tuple[str, int, int]:
    async with serving(Echo()) as peer:
        await peer.start(wire)
        return await peer.refusal()


@pytest.mark.anyio
async def test_a_frame_over_the_advertised_size_is_a_frame_size_error() -> None:
    # We never raised the 16 KiB default for frames we receive.
    wire = b"".join(Peer().headers(1, "/svc/Big", end_stream=False))
    wire += frame(T.DATA, 0, 1, bytes(16_385))
    assert await _refused(wire) == ("GOAWAY", 0, E.FRAME_SIZE_ERROR)


@pytest.mark.anyio
@pytest.mark.parametrize(
    "payload",
    [bytes([5]) + b"abc", b""],
    ids=["padding-longer-than-frame", "no-pad-length"],
)
async def test_impossible_padding_is_a_protocol_error(payload: bytes) -> None:
    wire = b"".join(Peer().headers(1, "/svc/Pad", end_stream=False))
    wire += frame(T.DATA, PADDED, 1, payload)
    kind, _, code = await _refused(wire)
    assert kind == "GOAWAY"
    assert code in {E.PROTOCOL_ERROR, E.FRAME_SIZE_ERROR}


@pytest.mark.anyio
async def test_headers_too_short_for_their_priority_fields_are_refused() -> None:
    kind, _, code = await _refused(frame(T.HEADERS, PRIORITY | END_HEADERS, 1, b"\0\0"))
    assert kind == "GOAWAY"
    assert code in {E.PROTOCOL_ERROR, E.FRAME_SIZE_ERROR}


@pytest.mark.anyio
@pytest.mark.parametrize(
    "wire",
    [
        frame(T.SETTINGS, 0, 0, b"\0\4\0\0\0"),
        frame(T.WINDOW_UPDATE, 0, 0, b"\0\0\1"),
        frame(T.PING, 0, 0, b"1234567"),
    ],
    ids=["settings", "window-update", "ping"],
)
async def test_control_frames_of_a_bad_length_are_frame_size_errors(wire: bytes) -> None:
    assert await _refused(wire) == ("GOAWAY", 0, E.FRAME_SIZE_ERROR)
