"""A hand-driven HTTP/2 client for unit tests: raw frames in, frames out."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import hpack

from buildg_dap.buildkit.session.h2frames import (
    END_HEADERS,
    END_STREAM,
    PREFACE,
    Frame,
    FrameReader,
    FrameType,
    encode_frame,
)
from buildg_dap.buildkit.session.h2server import H2Connection


class Peer:
    """The client side, by hand: frames in, frames out."""

    def __init__(self) -> None:
        self.to_server, self._from_peer = anyio.create_memory_object_stream[bytes](100)
        self._to_peer, self._from_server = anyio.create_memory_object_stream[bytes](100)
        self._reader = FrameReader(max_frame=1 << 24)
        list(self._reader.feed(PREFACE))  # the server sends no preface of its own
        self._frames: list[Frame] = []
        self.encoder = hpack.Encoder()
        self.decoder = hpack.Decoder()

    async def receive(self) -> AsyncIterator[bytes]:
        async with self._from_peer:
            async for data in self._from_peer:
                yield data

    async def send(self, data: bytes) -> None:
        await self._to_peer.send(data)

    async def next_frame(self, kind: FrameType) -> Frame:
        """The next frame of ``kind``; frames of other kinds stay for later."""
        with anyio.fail_after(10):
            while True:
                for index, frame in enumerate(self._frames):
                    if frame.type == kind:
                        return self._frames.pop(index)
                self._frames += self._reader.feed(await self._from_server.receive())

    def pending_frames(self) -> list[Frame]:
        """Frames received and not yet taken by next_frame."""
        return list(self._frames)

    def headers(self, stream: int, path: str, *, end_stream: bool = True) -> list[bytes]:
        """A request's header block, split over HEADERS and CONTINUATION."""
        block = self.encoder.encode([(":method", "POST"), (":path", path), ("x-k", "v")])
        half = len(block) // 2
        return [
            encode_frame(FrameType.HEADERS, END_STREAM if end_stream else 0, stream, block[:half]),
            encode_frame(FrameType.CONTINUATION, END_HEADERS, stream, block[half:]),
        ]


async def serve(peer: Peer, connection: H2Connection, done: anyio.Event) -> None:
    try:
        await connection.run(peer.receive(), peer.send)
    finally:
        done.set()
