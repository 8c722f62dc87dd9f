"""The server side of one HTTP/2 connection carried by a byte stream (RFC 9113).

buildkitd's session client (grpc-go) dials us through the bytes of Control.Session,
and grpcio cannot serve a connection it did not accept itself. The protocol itself
(frames, HPACK, stream states, settings, flow-control accounting, header validation)
is python-hyper's ``h2``; this module feeds it the bytes, runs a task per request
stream, queues what arrives for that task and makes what we send wait for windows.

Flow control: the connection window is credited as data arrives and a stream's as its
handler consumes it (as grpc-go does), so a stream queues at most its window (``h2``
refuses a peer that sends more) and one slow stream never holds up the others.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterable, Awaitable, Callable, Sequence
from contextlib import suppress

import anyio
from anyio.abc import TaskGroup
from h2 import events
from h2.config import H2Configuration
from h2.connection import H2Connection as Protocol
from h2.errors import ErrorCodes
from h2.exceptions import ProtocolError
from h2.settings import SettingCodes, Settings

Headers = Sequence[tuple[str, str]]
Send = Callable[[bytes], Awaitable[None]]

MAX_CONCURRENT_STREAMS = 100
# Generous for gRPC metadata (buildkitd sends .dockerignore patterns as headers), and
# what h2 buffers of one header block is bounded too: 64 frames of 16 KiB.
MAX_HEADER_LIST = 1 << 20
_DEFAULT_WINDOW = 65_535
_STREAM_WINDOW = 4 << 20
_CONNECTION_WINDOW = 16 << 20
_OUT_MESSAGE = 1 << 20  # bytes per message of the carrying stream
_OUT_HIGH = 4 << 20  # writers wait while more than this is queued for the wire
_PENDING_HIGH = 1 << 20  # and while more than this of their stream is not yet framed


def _text(value: bytes | str) -> str:
    return value if isinstance(value, str) else value.decode(errors="replace")


class Stream:
    """One request stream: its headers, what the peer sent on it, what we send back."""

    def __init__(self, connection: H2Connection, stream_id: int, headers: Headers) -> None:
        self.id = stream_id
        self.headers = list(headers)
        # h2 has validated the pseudo-headers: each present once, before the others.
        pseudo = {key: value for key, value in self.headers if key.startswith(":")}
        self.method = pseudo[":method"]
        self.path = pseudo[":path"]
        self.reset = False  # by the peer, or the connection is gone: nothing more goes out
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
        if self._unacked >= _STREAM_WINDOW // 4:
            self._connection.credit(self, self._unacked)
            self._unacked = 0
        return chunk

    def send_headers(self, headers: Headers) -> None:
        self._connection.send_headers(self, headers, end_stream=False)

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
        self._on_stream = on_stream
        self._h2 = Protocol(H2Configuration(client_side=False, header_encoding=None))
        # Advertised in our first SETTINGS and enforced from the first frame on: a
        # peer may open streams before it has seen them.
        self._h2.local_settings = Settings(
            client=False,
            initial_values={
                SettingCodes.MAX_CONCURRENT_STREAMS: MAX_CONCURRENT_STREAMS,
                SettingCodes.MAX_HEADER_LIST_SIZE: MAX_HEADER_LIST,
                SettingCodes.INITIAL_WINDOW_SIZE: _STREAM_WINDOW,
            },
        )
        self._h2.decoder.max_header_list_size = MAX_HEADER_LIST
        self._recv_unacked = 0
        self._peer_gone = False
        self._streams: dict[int, Stream] = {}
        self._blocked: dict[int, Stream] = {}  # streams with data waiting for a window
        self._out = bytearray()
        self._writing = 0  # bytes handed to send() and not yet through it
        self._out_ready = anyio.Event()
        self._out_room = anyio.Event()

    async def run(self, receive: AsyncIterable[bytes], send: Send) -> None:
        """Serve until the peer ends the byte stream; then every handler is cancelled.

        A peer that breaks the protocol gets a GOAWAY saying why, and h2's
        ProtocolError is raised."""
        self._h2.initiate_connection()
        self._h2.increment_flow_control_window(_CONNECTION_WINDOW - _DEFAULT_WINDOW)
        self._pull()
        error: ProtocolError | None = None
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._write_loop, send)
            try:
                async for data in receive:
                    if self._peer_gone:
                        continue  # h2 takes nothing after the peer's GOAWAY
                    try:
                        happened = self._h2.receive_data(data)
                    finally:
                        self._pull()  # h2's answers, or its GOAWAY
                    for event in happened:
                        self._dispatch(event, tg)
                    self._pull()
            except ProtocolError as exc:
                error = exc
                self._drop_all()
                with anyio.move_on_after(1):  # best effort: tell the peer why
                    await self.room(0)
            finally:
                tg.cancel_scope.cancel()
        if error is not None:
            raise error

    async def room(self, high: int = _OUT_HIGH) -> None:
        """Wait until at most ``high`` bytes are queued or being written."""
        while len(self._out) + self._writing > high:
            if self._out_room.is_set():
                self._out_room = anyio.Event()
            await self._out_room.wait()

    async def _write_loop(self, send: Send) -> None:
        while True:
            if not self._out:
                if self._out_ready.is_set():
                    self._out_ready = anyio.Event()
                await self._out_ready.wait()
                continue
            chunk = bytes(self._out[:_OUT_MESSAGE])
            del self._out[:_OUT_MESSAGE]
            self._writing = len(chunk)
            await send(chunk)
            self._writing = 0
            self._out_room.set()

    def _pull(self) -> None:
        """Move what h2 has framed to the queue for the wire."""
        if data := self._h2.data_to_send():
            self._out += data
            self._out_ready.set()

    # Called by streams.
    def credit(self, stream: Stream, consumed: int) -> None:
        """Let the peer send ``consumed`` more bytes on ``stream``."""
        if stream.ended or stream.reset:
            return  # nothing more may come on it
        self._h2.increment_flow_control_window(consumed, stream.id)
        self._pull()

    def send_headers(self, stream: Stream, headers: Headers, *, end_stream: bool) -> None:
        if stream.reset:
            return
        self._h2.send_headers(stream.id, headers, end_stream=end_stream)
        self._pull()

    def frame_data(self, stream: Stream, data: memoryview) -> int:
        """Put as much of ``data`` into DATA frames as the windows allow; how much."""
        window = min(len(data), self._h2.local_flow_control_window(stream.id))
        frame = self._h2.max_outbound_frame_size
        sent = 0
        while sent < window:
            end = min(sent + frame, window)
            self._h2.send_data(stream.id, data[sent:end])
            sent = end
        if sent:
            self._pull()
        return sent

    def flush(self, stream: Stream) -> None:
        """Frame what ``stream`` has queued, as far as the windows allow."""
        if not stream.frame_pending():
            self._blocked[stream.id] = stream
            return
        self._blocked.pop(stream.id, None)
        trailers = stream.take_trailers()
        if trailers is not None:
            self.send_headers(stream, trailers, end_stream=True)
            self._streams.pop(stream.id, None)

    def _flush_blocked(self) -> None:
        for stream in list(self._blocked.values()):
            self.flush(stream)

    def _dispatch(self, event: events.Event, tg: TaskGroup) -> None:
        match event:
            case events.RequestReceived():
                headers = [(_text(key), _text(value)) for key, value in event.headers]
                stream = Stream(self, event.stream_id, headers)
                self._streams[stream.id] = stream
                tg.start_soon(self._serve, stream)
            case events.DataReceived():
                self._on_data(event)
            case events.StreamEnded():
                if (ended := self._streams.get(event.stream_id)) is not None:
                    ended.deliver(b"", True)
            case events.StreamReset():
                self._drop(event.stream_id)
            case events.WindowUpdated() if event.stream_id == 0:
                self._flush_blocked()
            case events.WindowUpdated():
                if (blocked := self._blocked.get(event.stream_id)) is not None:
                    self.flush(blocked)
            case events.RemoteSettingsChanged():
                if SettingCodes.INITIAL_WINDOW_SIZE in event.changed_settings:
                    self._flush_blocked()
            case events.ConnectionTerminated():
                # grpc-go says GOAWAY as it closes the connection; h2 sends nothing
                # after it, so what is still running could not answer anyway.
                self._peer_gone = True
                self._drop_all()
            # Trailers from a client carry nothing we use (their END_STREAM comes as
            # StreamEnded); h2 answers pings and settings; PRIORITY is advisory.

    def _on_data(self, event: events.DataReceived) -> None:
        # The connection window is credited at once: stream windows bound what queues.
        self._recv_unacked += event.flow_controlled_length
        if self._recv_unacked >= _CONNECTION_WINDOW // 4:
            self._h2.increment_flow_control_window(self._recv_unacked)
            self._recv_unacked = 0
        stream = self._streams.get(event.stream_id)
        if stream is None or stream.reset:
            return  # we have answered and finished: the rest is not read
        if (padding := event.flow_controlled_length - len(event.data)) and not stream.ended:
            self._h2.increment_flow_control_window(padding, stream.id)  # never consumed
        stream.deliver(event.data, False)

    def _drop_all(self) -> None:
        for stream_id in list(self._streams):
            self._drop(stream_id)

    def _drop(self, stream_id: int) -> None:
        self._blocked.pop(stream_id, None)
        if (stream := self._streams.pop(stream_id, None)) is not None:
            stream.peer_reset()

    async def _serve(self, stream: Stream) -> None:
        try:
            with stream.scope:
                await self._on_stream(stream)
        finally:
            if not stream.finished and not stream.reset:
                # The handler ended without a status: tell the peer rather than hang it.
                self._streams.pop(stream.id, None)
                self._blocked.pop(stream.id, None)
                with suppress(ProtocolError):  # the connection is failing as well
                    self._h2.reset_stream(stream.id, ErrorCodes.INTERNAL_ERROR)
                self._pull()
