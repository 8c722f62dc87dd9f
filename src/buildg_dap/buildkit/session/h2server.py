"""The server side of one HTTP/2 connection carried by a byte stream (RFC 9113).

buildkitd's session client (grpc-go) dials us through the bytes of Control.Session,
and grpcio cannot serve a connection it did not accept itself. Serving it here costs a
few Python operations per frame.

Flow control: what we send waits for the peer's windows; what we receive is credited
back to the connection on arrival and to the stream as the handler consumes it, so
each stream buffers at most one stream window.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterable, Awaitable, Callable, Sequence

import anyio
import hpack
from anyio.abc import TaskGroup

from buildg_dap.buildkit.session.h2frames import (
    ACK,
    DEFAULT_MAX_FRAME,
    DEFAULT_WINDOW,
    END_HEADERS,
    END_STREAM,
    MAX_WINDOW,
    ErrorCode,
    Frame,
    FrameReader,
    FrameType,
    H2Error,
    Setting,
    decode_settings,
    encode_frame,
    encode_settings,
    frame_header,
    unpad,
    window_increment,
)

Headers = Sequence[tuple[str, str]]
Send = Callable[[bytes], Awaitable[None]]

_STREAM_WINDOW = 4 << 20
_CONNECTION_WINDOW = 16 << 20
_MAX_FRAME_IN = 1 << 20
_OUT_MESSAGE = 1 << 20  # bytes per message of the carrying stream
_OUT_HIGH = 4 << 20  # writers wait while more than this is queued for the wire
_PENDING_HIGH = 1 << 20  # and while more than this of their stream is not yet framed
_SETTINGS = {
    Setting.INITIAL_WINDOW_SIZE: _STREAM_WINDOW,
    Setting.MAX_FRAME_SIZE: _MAX_FRAME_IN,
}


class Stream:
    """One request stream: its headers, what the peer sent on it, what we send back."""

    def __init__(self, connection: H2Connection, stream_id: int, headers: Headers) -> None:
        self.id = stream_id
        self.headers = list(headers)
        self.send_window = connection.peer_initial_window
        self.reset = False  # by the peer: nothing more goes out
        self.finished = False  # by us: trailers are queued
        self.ended = False  # by the peer: nothing more comes in
        self._connection = connection
        self._chunks: deque[bytes] = deque()
        self._arrived = anyio.Event()
        self._unacked = 0
        self._pending = bytearray()
        self._trailers: Headers | None = None
        self._drained = anyio.Event()
        self.scope = anyio.CancelScope()

    async def receive(self) -> bytes | None:
        """The next chunk of request body, or None once the peer has ended its side."""
        while not self._chunks:
            if self.ended or self.reset:
                return None
            if self._arrived.is_set():
                self._arrived = anyio.Event()
            await self._arrived.wait()
        chunk = self._chunks.popleft()
        self._unacked += len(chunk)
        if self._unacked >= _STREAM_WINDOW // 4 and not self.ended:
            self._connection.emit_window_update(self.id, self._unacked)
            self._unacked = 0
        return chunk

    def send_headers(self, headers: Headers) -> None:
        if not self.reset:
            self._connection.emit_headers(self.id, headers, end_stream=False)

    def send_data(self, data: bytes) -> None:
        """Frame ``data`` as far as the windows allow; the rest waits for them."""
        if self.reset or self.finished:
            return
        if self._pending:
            self._pending += data
            return
        with memoryview(data) as view:
            sent = self._connection.frame_data(self, view)
            if sent < len(data):
                self._pending += view[sent:]
                self._connection.flush(self)

    def send_trailers(self, headers: Headers) -> None:
        """End our side with ``headers``, after everything queued before them."""
        if self.reset or self.finished:
            return
        self._trailers = headers
        self.finished = True
        self._connection.flush(self)

    async def flushed(self) -> None:
        """Wait while this stream or the connection has too much queued."""
        while len(self._pending) > _PENDING_HIGH and not self.reset:
            if self._drained.is_set():
                self._drained = anyio.Event()
            await self._drained.wait()
        await self._connection.room()

    # Called by the connection.
    def frame_pending(self) -> bool:
        """Frame what the windows allow of the queued data; True when none is left."""
        if self._pending:
            with memoryview(self._pending) as view:
                sent = self._connection.frame_data(self, view)
            del self._pending[:sent]  # cheap: CPython trims a bytearray's front in place
            if len(self._pending) <= _PENDING_HIGH:
                self._drained.set()
        return not self._pending

    def take_trailers(self) -> Headers | None:
        trailers, self._trailers = self._trailers, None
        return trailers

    def deliver(self, payload: bytes, end: bool) -> None:
        if payload:
            self._chunks.append(payload)
        self.ended = self.ended or end
        self._arrived.set()

    def peer_reset(self) -> None:
        self.reset = True
        self._pending.clear()
        self._arrived.set()
        self._drained.set()
        self.scope.cancel()


class H2Connection:
    """Serves one connection; each new stream goes to ``on_stream`` in a task of its own."""

    def __init__(self, on_stream: Callable[[Stream], Awaitable[None]]) -> None:
        self.peer_initial_window = DEFAULT_WINDOW
        self._on_stream = on_stream
        self._peer_max_frame = DEFAULT_MAX_FRAME
        self._send_window = DEFAULT_WINDOW
        self._recv_unacked = 0
        self._streams: dict[int, Stream] = {}
        self._blocked: dict[int, Stream] = {}  # streams with data waiting for a window
        self._last_stream = 0
        self._header_block: tuple[Frame, bytearray] | None = None
        self._encoder = hpack.Encoder()
        self._decoder = hpack.Decoder()
        self._out = bytearray()
        self._out_ready = anyio.Event()
        self._out_room = anyio.Event()

    async def run(self, receive: AsyncIterable[bytes], send: Send) -> None:
        """Serve until the peer ends the byte stream; then every handler is cancelled."""
        self._emit(encode_settings(_SETTINGS))
        self.emit_window_update(0, _CONNECTION_WINDOW - DEFAULT_WINDOW)
        reader = FrameReader(_MAX_FRAME_IN)
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._write_loop, send)
            try:
                async for data in receive:
                    for frame in reader.feed(data):
                        self._handle(frame, tg)
            except H2Error as exc:
                goaway = self._last_stream.to_bytes(4) + exc.code.to_bytes(4) + str(exc).encode()
                self._emit(encode_frame(FrameType.GOAWAY, 0, 0, goaway))
                with anyio.move_on_after(1):  # best effort: tell the peer why
                    while self._out:
                        await self.room(0)
                raise
            finally:
                tg.cancel_scope.cancel()

    async def room(self, high: int = _OUT_HIGH) -> None:
        while len(self._out) > high:
            if self._out_room.is_set():
                self._out_room = anyio.Event()
            await self._out_room.wait()

    async def _write_loop(self, send: Send) -> None:
        while True:
            if not self._out:
                self._out_room.set()
                if self._out_ready.is_set():
                    self._out_ready = anyio.Event()
                await self._out_ready.wait()
                continue
            chunk = bytes(self._out[:_OUT_MESSAGE])
            del self._out[:_OUT_MESSAGE]
            if len(self._out) <= _OUT_HIGH:
                self._out_room.set()
            await send(chunk)

    def _emit(self, data: bytes) -> None:
        self._out += data
        self._out_ready.set()

    def emit_window_update(self, stream_id: int, increment: int) -> None:
        self._emit(encode_frame(FrameType.WINDOW_UPDATE, 0, stream_id, increment.to_bytes(4)))

    def emit_reset(self, stream_id: int, code: ErrorCode) -> None:
        self._emit(encode_frame(FrameType.RST_STREAM, 0, stream_id, code.to_bytes(4)))

    def emit_headers(self, stream_id: int, headers: Headers, *, end_stream: bool) -> None:
        # Encoded as they go out: HPACK state depends on the order blocks reach the peer.
        block = self._encoder.encode(headers)
        size = self._peer_max_frame
        pieces = [block[i : i + size] for i in range(0, len(block), size)] or [b""]
        flags = END_STREAM if end_stream else 0
        for index, piece in enumerate(pieces):
            kind = FrameType.HEADERS if index == 0 else FrameType.CONTINUATION
            last = END_HEADERS if index == len(pieces) - 1 else 0
            self._emit(encode_frame(kind, (flags if index == 0 else 0) | last, stream_id, piece))

    def frame_data(self, stream: Stream, data: memoryview) -> int:
        """Put as much of ``data`` into DATA frames as the windows allow; how much."""
        sent = 0
        out = self._out
        while sent < len(data):
            size = min(len(data) - sent, stream.send_window, self._send_window)
            size = min(size, self._peer_max_frame)
            if size <= 0:
                break
            out += frame_header(FrameType.DATA, 0, stream.id, size)
            out += data[sent : sent + size]
            sent += size
            stream.send_window -= size
            self._send_window -= size
        if sent:
            self._out_ready.set()
        return sent

    def flush(self, stream: Stream) -> None:
        """Frame what ``stream`` has queued, as far as the windows allow."""
        if not stream.frame_pending():
            self._blocked[stream.id] = stream
            return
        self._blocked.pop(stream.id, None)
        trailers = stream.take_trailers()
        if trailers is not None:
            self.emit_headers(stream.id, trailers, end_stream=True)
            self._streams.pop(stream.id, None)

    def _flush_blocked(self) -> None:
        for stream in list(self._blocked.values()):
            self.flush(stream)

    def _handle(self, frame: Frame, tg: TaskGroup) -> None:
        if self._header_block is not None and frame.type != FrameType.CONTINUATION:
            raise H2Error(ErrorCode.PROTOCOL_ERROR, "header block interrupted")
        match frame.type:
            case FrameType.DATA:
                self._on_data(frame)
            case FrameType.HEADERS:
                self._header_block = (frame, bytearray(unpad(frame)))
                self._end_header_block(frame.flags, tg)
            case FrameType.CONTINUATION:
                if self._header_block is None or frame.stream != self._header_block[0].stream:
                    raise H2Error(ErrorCode.PROTOCOL_ERROR, "unexpected CONTINUATION")
                self._header_block[1].extend(frame.payload)
                self._end_header_block(frame.flags, tg)
            case FrameType.RST_STREAM:
                if (stream := self._streams.pop(frame.stream, None)) is not None:
                    self._blocked.pop(frame.stream, None)
                    stream.peer_reset()
            case FrameType.SETTINGS:
                if not frame.flags & ACK:
                    self._apply_settings(decode_settings(frame.payload))
                    self._emit(encode_frame(FrameType.SETTINGS, ACK, 0))
            case FrameType.PING:
                if not frame.flags & ACK:
                    self._emit(encode_frame(FrameType.PING, ACK, 0, frame.payload))
            case FrameType.WINDOW_UPDATE:
                self._on_window_update(frame)
            case FrameType.PUSH_PROMISE:
                raise H2Error(ErrorCode.PROTOCOL_ERROR, "a client cannot push")
            # PRIORITY is advisory and GOAWAY only stops new streams: nothing to do.

    def _on_data(self, frame: Frame) -> None:
        # The connection window is credited at once: streams bound what is buffered.
        self._recv_unacked += len(frame.payload)
        if self._recv_unacked >= _CONNECTION_WINDOW // 4:
            self.emit_window_update(0, self._recv_unacked)
            self._recv_unacked = 0
        stream = self._streams.get(frame.stream)
        if stream is not None and not stream.ended:
            data = unpad(frame)
            if padding := len(frame.payload) - len(data):
                self.emit_window_update(stream.id, padding)  # nobody consumes padding
            stream.deliver(data, bool(frame.flags & END_STREAM))

    def _end_header_block(self, flags: int, tg: TaskGroup) -> None:
        if not flags & END_HEADERS or self._header_block is None:
            return
        first, block = self._header_block
        self._header_block = None
        try:
            headers = self._decoder.decode(bytes(block))
        except hpack.HPACKError as exc:
            raise H2Error(ErrorCode.COMPRESSION_ERROR, f"bad header block: {exc}") from None
        end = bool(first.flags & END_STREAM)
        if (stream := self._streams.get(first.stream)) is not None:
            stream.deliver(b"", end)  # trailers from the client carry nothing we use
            return
        if first.stream % 2 == 0 or first.stream <= self._last_stream:
            return  # a closed stream's late frames, or not a client stream
        self._last_stream = first.stream
        stream = Stream(self, first.stream, [(str(k), str(v)) for k, v in headers])
        stream.deliver(b"", end)
        self._streams[stream.id] = stream
        tg.start_soon(self._serve, stream)

    async def _serve(self, stream: Stream) -> None:
        try:
            with stream.scope:
                await self._on_stream(stream)
        finally:
            if not stream.finished and not stream.reset:
                # The handler ended without a status: tell the peer rather than hang it.
                self._streams.pop(stream.id, None)
                self._blocked.pop(stream.id, None)
                self.emit_reset(stream.id, ErrorCode.INTERNAL_ERROR)

    def _apply_settings(self, settings: dict[int, int]) -> None:
        if (size := settings.get(Setting.MAX_FRAME_SIZE)) is not None:
            self._peer_max_frame = size
        if (table := settings.get(Setting.HEADER_TABLE_SIZE)) is not None:
            self._encoder.header_table_size = table
        if (window := settings.get(Setting.INITIAL_WINDOW_SIZE)) is not None:
            if window > MAX_WINDOW:
                raise H2Error(ErrorCode.FLOW_CONTROL_ERROR, "initial window too large")
            delta, self.peer_initial_window = window - self.peer_initial_window, window
            for stream in self._streams.values():
                stream.send_window += delta
            self._flush_blocked()

    def _on_window_update(self, frame: Frame) -> None:
        increment = window_increment(frame.payload)
        if frame.stream == 0:
            self._send_window += increment
            self._flush_blocked()
        elif (stream := self._streams.get(frame.stream)) is not None:
            stream.send_window += increment
            self.flush(stream)
