"""A hand-driven HTTP/2 client for unit tests: raw frames in, frames out.

Frames are written and cut by hand here (RFC 9113 §4.1), independently of the HTTP/2
library the server uses, so a test can send what no library would.
"""

from __future__ import annotations

import struct
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from enum import IntEnum

import anyio
import hpack

from buildg_dap.buildkit.session.h2server import H2Connection, Stream

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
END_STREAM = ACK = 0x1
END_HEADERS = 0x4
PADDED = 0x8
PRIORITY = 0x20
_HEADER = struct.Struct(">BHBBL")  # 24-bit length in two parts, type, flags, stream


class T(IntEnum):
    """Frame types."""

    DATA = 0
    HEADERS = 1
    PRIORITY = 2
    RST_STREAM = 3
    SETTINGS = 4
    PUSH_PROMISE = 5
    PING = 6
    GOAWAY = 7
    WINDOW_UPDATE = 8
    CONTINUATION = 9


class S(IntEnum):
    """Setting identifiers."""

    HEADER_TABLE_SIZE = 1
    ENABLE_PUSH = 2
    MAX_CONCURRENT_STREAMS = 3
    INITIAL_WINDOW_SIZE = 4
    MAX_FRAME_SIZE = 5
    MAX_HEADER_LIST_SIZE = 6


class E(IntEnum):
    """Error codes."""

    NO_ERROR = 0
    PROTOCOL_ERROR = 1
    INTERNAL_ERROR = 2
    FLOW_CONTROL_ERROR = 3
    STREAM_CLOSED = 5
    FRAME_SIZE_ERROR = 6
    REFUSED_STREAM = 7
    CANCEL = 8
    COMPRESSION_ERROR = 9
    ENHANCE_YOUR_CALM = 11


@dataclass(slots=True)
class Frame:
    type: int
    flags: int
    stream: int
    payload: bytes

    @property
    def error_code(self) -> int:
        """The error code of a GOAWAY or RST_STREAM."""
        return int.from_bytes(self.payload[4:8] if self.type == T.GOAWAY else self.payload[:4])

    def settings(self) -> dict[int, int]:
        return dict(struct.iter_unpack(">HL", self.payload))


def frame(kind: int, flags: int, stream: int, payload: bytes = b"") -> bytes:
    return _HEADER.pack(len(payload) >> 16, len(payload) & 0xFFFF, kind, flags, stream) + payload


def settings(values: dict[S, int]) -> bytes:
    return frame(T.SETTINGS, 0, 0, b"".join(struct.pack(">HL", k, v) for k, v in values.items()))


def window_update(stream: int, increment: int) -> bytes:
    return frame(T.WINDOW_UPDATE, 0, stream, increment.to_bytes(4))


def rst_stream(stream: int, code: E = E.CANCEL) -> bytes:
    return frame(T.RST_STREAM, 0, stream, code.to_bytes(4))


def request_headers(path: str) -> list[tuple[str, str]]:
    """What grpc-go sends to open a call."""
    return [
        (":method", "POST"),
        (":scheme", "http"),
        (":path", path),
        (":authority", "session"),
        ("content-type", "application/grpc"),
        ("te", "trailers"),
        ("x-k", "v"),
    ]


class Peer:
    """The client side, by hand: frames in, frames out."""

    def __init__(self) -> None:
        self.to_server, self._from_peer = anyio.create_memory_object_stream[bytes](100)
        self._to_peer, self._from_server = anyio.create_memory_object_stream[bytes](100)
        self._buffer = bytearray()
        self._frames: list[Frame] = []
        self._ended = False
        self.encoder = hpack.Encoder()
        self.decoder = hpack.Decoder()
        self.error: Exception | None = None  # what the server's run() raised

    async def receive(self) -> AsyncIterator[bytes]:
        async with self._from_peer:
            async for data in self._from_peer:
                yield data

    async def send(self, data: bytes) -> None:
        await self._to_peer.send(data)

    async def _read_more(self) -> bool:
        try:
            self._buffer += await self._from_server.receive()
        except anyio.EndOfStream:
            return False
        while len(self._buffer) >= _HEADER.size:
            high, low, kind, flags, stream = _HEADER.unpack_from(self._buffer)
            end = _HEADER.size + (high << 16 | low)
            if len(self._buffer) < end:
                break
            self._frames.append(Frame(kind, flags, stream, bytes(self._buffer[9:end])))
            del self._buffer[:end]
        return True

    async def next_frame(self, *kinds: int, within: float = 10) -> Frame:
        """The next frame of one of ``kinds``; frames of other kinds stay for later."""
        with anyio.fail_after(within):
            while True:
                for index, found in enumerate(self._frames):
                    if found.type in kinds:
                        return self._frames.pop(index)
                if not await self._read_more():
                    names = "/".join(T(kind).name for kind in kinds)
                    raise AssertionError(f"the server closed without a {names}")

    async def refusal(self) -> tuple[str, int, int]:
        """The server's next GOAWAY or RST_STREAM: (type name, stream, error code)."""
        found = await self.next_frame(T.GOAWAY, T.RST_STREAM, within=5)
        return T(found.type).name, found.stream, found.error_code

    def pending_frames(self) -> list[Frame]:
        """Frames received and not yet taken by next_frame."""
        return list(self._frames)

    async def start(self, *extra: bytes) -> dict[int, int]:
        """The preface and empty SETTINGS (plus ``extra``); the server's SETTINGS."""
        await self.to_server.send(PREFACE + settings({}) + b"".join(extra))
        return (await self.next_frame(T.SETTINGS)).settings()

    def headers(
        self,
        stream: int,
        path: str,
        *,
        end_stream: bool = True,
        fields: Sequence[tuple[str, str]] | None = None,
    ) -> list[bytes]:
        """A request's header block, split over HEADERS and CONTINUATION frames (at
        least one of each, none over the default 16 KiB)."""
        block = self.encoder.encode(list(fields or request_headers(path)))
        size = min(16_384, max(1, (len(block) + 1) // 2))
        pieces = [block[start : start + size] for start in range(0, len(block), size)]
        pieces += [b""] * (2 - len(pieces))
        frames = [frame(T.HEADERS, END_STREAM if end_stream else 0, stream, pieces[0])]
        frames += [frame(T.CONTINUATION, 0, stream, piece) for piece in pieces[1:-1]]
        frames.append(frame(T.CONTINUATION, END_HEADERS, stream, pieces[-1]))
        return frames


async def serve(peer: Peer, connection: H2Connection, done: anyio.Event) -> None:
    """Run the server on the peer's bytes; what it raises is kept in ``peer.error``."""
    try:
        await connection.run(peer.receive(), peer.send)
    except Exception as exc:
        peer.error = exc
    finally:
        await peer._to_peer.aclose()
        done.set()


@asynccontextmanager
async def serving(handler: Callable[[Stream], Awaitable[None]]) -> AsyncIterator[Peer]:
    """A server for ``handler`` on a new peer; on exit the peer's end closes, the server
    has 10 s to finish, and handlers still running (one that never returns) are cancelled."""
    peer = Peer()
    done = anyio.Event()
    async with anyio.create_task_group() as tg:
        tg.start_soon(serve, peer, H2Connection(handler), done)
        yield peer
        await peer.to_server.aclose()
        with anyio.fail_after(10):
            await done.wait()
        tg.cancel_scope.cancel()
