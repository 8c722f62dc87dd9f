"""The Debug Adapter Protocol's base protocol: ``Content-Length``-framed JSON messages.

The framing is a few lines of parsing, and no maintained Python library offers it on
its own (debugpy's comes with its debugger), so it is written here on anyio byte
streams: :class:`MessageReader` and :class:`MessageWriter`. ``transport`` opens the
byte streams a client uses (stdin/stdout, TCP).
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable

import anyio
from anyio.abc import (
    ByteReceiveStream,
    ByteSendStream,
    ByteStream,
)

__all__ = [
    "DEFAULT_MAX_BODY",
    "MAX_HEADER_LINE",
    "MAX_HEADER_SECTION",
    "FramingError",
    "Handler",
    "MessageReader",
    "MessageWriter",
    "Trace",
    "wrap_stream",
]

MAX_HEADER_LINE = 8 * 1024
MAX_HEADER_SECTION = 64 * 1024
DEFAULT_MAX_BODY = 64 * 1024 * 1024

Trace = Callable[[str, dict[str, object]], None]
"""Called with ``"<-"`` and each message read, ``"->"`` and each message written."""

Handler = Callable[["MessageReader", "MessageWriter"], Awaitable[None]]

READ_CHUNK = 64 * 1024
_LENGTH_DIGITS = re.compile(r"[0-9]+")
# Enough for any request's seq, which real clients put first; scanning a whole
# 64 MiB body in Python would stall the server on every malformed message.
_SEQ_SCAN_LIMIT = 64 * 1024
_SEQ_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[{}\[\]]', re.DOTALL)
_SEQ_VALUE = re.compile(rb"\s*:\s*([0-9]{1,18})(?![0-9.eE])")


class FramingError(Exception):
    """A message that could not be read.

    ``recoverable`` is true when the header was well formed and the whole body was
    consumed, but the body is not a UTF-8 JSON object: the stream is still in sync and
    the next :meth:`MessageReader.read` returns the next message. ``seq`` is then the
    request's ``seq`` if it could be found in the broken body. Otherwise the stream is
    out of sync and every later read raises again.
    """

    def __init__(self, message: str, recoverable: bool, seq: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.recoverable = recoverable
        self.seq = seq


class MessageReader:
    """Reads framed messages from a byte stream. What a received chunk holds beyond a
    message is kept for the next read, so a read never waits for bytes past the end of
    the message it returns."""

    def __init__(
        self,
        stream: ByteReceiveStream,
        *,
        max_body: int = DEFAULT_MAX_BODY,
        trace: Trace | None = None,
    ) -> None:
        self._stream = stream
        self._max_body = max_body
        self._trace = trace
        self._buffer = bytearray()
        self._at_eof = False
        self._failure: FramingError | None = None
        # The length of a message whose header is consumed but whose body is not:
        # set while a read waits for the body, so a read cancelled there resumes it.
        self._body_length: int | None = None

    async def read(self) -> dict[str, object] | None:
        """The next message; None when the stream ends between messages.

        Raises FramingError; transport errors of the stream (such as
        anyio.BrokenResourceError) pass through.
        """
        if self._failure is not None:
            raise FramingError(
                f"stream is out of sync after an earlier error: {self._failure.message}",
                recoverable=False,
            )
        try:
            if self._body_length is None:
                self._body_length = await self._read_header()
                if self._body_length is None:
                    return None
            length = self._body_length
            while len(self._buffer) < length:
                if not await self._fill():
                    raise FramingError(
                        f"stream ended mid-message: {len(self._buffer)} of {length} body "
                        "bytes received",
                        recoverable=False,
                    )
        except FramingError as error:
            self._failure = error
            raise
        body = bytes(self._buffer[:length])
        del self._buffer[:length]
        self._body_length = None
        message = _decode(body)
        if self._trace is not None:
            self._trace("<-", message)
        return message

    async def _fill(self) -> bool:
        """Appends the next chunk to the buffer; False at the end of the stream."""
        if self._at_eof:
            return False
        try:
            chunk = await self._stream.receive(READ_CHUNK)
        except anyio.EndOfStream:
            chunk = b""
        # An empty chunk breaks the ByteReceiveStream contract; taking it as the end
        # keeps a faulty stream from spinning this loop forever.
        if not chunk:
            self._at_eof = True
            return False
        self._buffer += chunk
        return True

    async def _read_header(self) -> int | None:
        """Parses and consumes one header section; its Content-Length, or None at a
        clean end of stream."""
        length: int | None = None
        start = 0  # where the current line starts in the buffer
        search = 0  # where to look for its CRLF: earlier bytes were already searched
        while True:
            end = self._buffer.find(b"\r\n", search)
            if end < 0:
                pending = len(self._buffer) - start
                # The last byte may be the CR of the line's CRLF.
                if pending > MAX_HEADER_LINE + 1:
                    raise FramingError(
                        f"header line longer than {MAX_HEADER_LINE} bytes", recoverable=False
                    )
                if len(self._buffer) > MAX_HEADER_SECTION:
                    raise FramingError(
                        f"header section longer than {MAX_HEADER_SECTION} bytes",
                        recoverable=False,
                    )
                search = max(start, len(self._buffer) - 1)
                if not await self._fill():
                    if not self._buffer:
                        return None
                    raise FramingError(
                        "stream ended mid-message: inside the header", recoverable=False
                    )
                continue
            if end + 2 > MAX_HEADER_SECTION:
                raise FramingError(
                    f"header section longer than {MAX_HEADER_SECTION} bytes", recoverable=False
                )
            line = bytes(self._buffer[start:end])
            if len(line) > MAX_HEADER_LINE:
                raise FramingError(
                    f"header line longer than {MAX_HEADER_LINE} bytes", recoverable=False
                )
            start = search = end + 2
            if not line:
                break
            found = self._parse_field(line)
            if found is not None:
                if length is not None and found != length:
                    raise FramingError(
                        f"conflicting Content-Length values {length} and {found}",
                        recoverable=False,
                    )
                length = found
        if length is None:
            raise FramingError("header has no Content-Length", recoverable=False)
        del self._buffer[:start]
        return length

    def _parse_field(self, line: bytes) -> int | None:
        """The Content-Length a header line gives; None for other fields."""
        name, colon, value = line.decode("latin-1").partition(":")
        if not colon:
            raise FramingError(f"malformed header line {_excerpt(line)}", recoverable=False)
        if name.strip(" \t").lower() != "content-length":
            return None
        value = value.strip(" \t")
        if value.startswith("-") and _LENGTH_DIGITS.fullmatch(value[1:]):
            raise FramingError(f"negative Content-Length {_excerpt(value)}", recoverable=False)
        # int() alone would also take "+5", "1_0" and non-ASCII digits.
        if not _LENGTH_DIGITS.fullmatch(value):
            raise FramingError(f"invalid Content-Length {_excerpt(value)}", recoverable=False)
        # int() refuses strings over 4300 digits, leading zeros included; a length with
        # more significant digits than the limit is over it anyway.
        significant = value.lstrip("0") or "0"
        if len(significant) > len(str(self._max_body)) or int(significant) > self._max_body:
            raise FramingError(
                f"Content-Length {_excerpt(significant)} exceeds the limit of "
                f"{self._max_body} bytes",
                recoverable=False,
            )
        return int(significant)


class MessageWriter:
    """Writes framed messages; concurrent writes go out whole, one after another."""

    def __init__(self, stream: ByteSendStream, *, trace: Trace | None = None) -> None:
        self._stream = stream
        self._trace = trace
        self._lock = anyio.Lock()
        self._broken = False

    async def write(self, message: dict[str, object]) -> None:
        """Sends one message as a single ``send`` of header and body.

        Raises ValueError or TypeError for a message JSON cannot represent. A write
        interrupted mid-send (cancelled, or the stream failed) may have left half a
        frame on the stream, so every later write raises anyio.BrokenResourceError.
        """
        body = _encode(message)
        frame = b"Content-Length: %d\r\n\r\n%b" % (len(body), body)
        async with self._lock:
            if self._broken:
                raise anyio.BrokenResourceError(
                    "an earlier write was interrupted and may have left half a message"
                )
            if self._trace is not None:
                self._trace("->", message)
            self._broken = True
            await self._stream.send(frame)
            self._broken = False

    async def aclose(self) -> None:
        await self._stream.aclose()


def wrap_stream(
    stream: ByteStream, *, max_body: int = DEFAULT_MAX_BODY, trace: Trace | None = None
) -> tuple[MessageReader, MessageWriter]:
    """A reader and a writer on the two directions of one byte stream."""
    return MessageReader(stream, max_body=max_body, trace=trace), MessageWriter(stream, trace=trace)


def _encode(message: dict[str, object]) -> bytes:
    try:
        text = json.dumps(message, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        return text.encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate (a peer's "\ud800" escape, echoed back) has no UTF-8 form;
        # JSON's \u escapes represent it.
        text = json.dumps(message, ensure_ascii=True, separators=(",", ":"), allow_nan=False)
        return text.encode("ascii")


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def _decode(body: bytes) -> dict[str, object]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise FramingError(
            f"body is not valid UTF-8: {error.reason} at byte {error.start}",
            recoverable=True,
            seq=_find_seq(body),
        ) from None
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    # ValueError also covers integers beyond Python's digit limit; RecursionError,
    # deeply nested arrays.
    except (ValueError, RecursionError) as error:
        raise FramingError(
            f"body is not valid JSON: {error}", recoverable=True, seq=_find_seq(body)
        ) from None
    if not isinstance(value, dict):
        kind = _JSON_KINDS.get(type(value), "number")
        raise FramingError(f"body is a JSON {kind}, not an object", recoverable=True)
    return value


_JSON_KINDS: dict[type, str] = {list: "array", str: "string", bool: "boolean", type(None): "null"}


def _find_seq(body: bytes) -> int | None:
    """Best effort: the integer value of a ``"seq"`` key of the outermost object, in a
    body that does not parse."""
    head = body[:_SEQ_SCAN_LIMIT]
    depth = 0
    for token in _SEQ_TOKENS.finditer(head):
        text = token.group()
        if text in (b"{", b"["):
            depth += 1
        elif text in (b"}", b"]"):
            depth -= 1
        elif depth == 1 and text == b'"seq"':
            value = _SEQ_VALUE.match(head, token.end())
            if value is not None:
                return int(value.group(1))
    return None


def _excerpt(text: str | bytes) -> str:
    shown = repr(text)
    return shown if len(shown) <= 60 else shown[:57] + "..."
