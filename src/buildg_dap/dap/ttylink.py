"""The link between the adapter and the ``attach`` command that the editor runs in its
terminal (``runInTerminal``): a private Unix socket carrying typed frames, one byte of
type and four of length, then the payload. Terminal to adapter: keyboard input,
window sizes, end of input. Adapter to terminal: output, then the exit code or an
error."""

from __future__ import annotations

import struct

from anyio.abc import ByteStream

INPUT, RESIZE, INPUT_END = b"i", b"r", b"e"
OUTPUT, EXIT, ERROR = b"o", b"x", b"!"
_HEAD = struct.Struct(">cI")
MAX_FRAME = 1 << 20


class LinkClosed(Exception):
    pass


def frame(kind: bytes, payload: bytes = b"") -> bytes:
    return _HEAD.pack(kind, len(payload)) + payload


def resize_payload(rows: int, cols: int) -> bytes:
    return struct.pack(">HH", rows, cols)


def parse_resize(payload: bytes) -> tuple[int, int]:
    rows, cols = struct.unpack(">HH", payload)
    return int(rows), int(cols)


class FrameReader:
    def __init__(self, stream: ByteStream) -> None:
        self._stream = stream
        self._buffer = b""

    async def _need(self, size: int) -> bytes:
        while len(self._buffer) < size:
            try:
                self._buffer += await self._stream.receive()
            except Exception as error:
                raise LinkClosed(str(error) or "the terminal link closed") from None
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

    async def read(self) -> tuple[bytes, bytes]:
        kind, size = _HEAD.unpack(await self._need(_HEAD.size))
        if size > MAX_FRAME:
            raise LinkClosed(f"oversized frame ({size} bytes)")
        return kind, await self._need(size)

    def __aiter__(self) -> FrameReader:
        return self

    async def __anext__(self) -> tuple[bytes, bytes]:
        """The next (kind, payload); the iteration ends when the link closes."""
        try:
            return await self.read()
        except LinkClosed:
            raise StopAsyncIteration from None
