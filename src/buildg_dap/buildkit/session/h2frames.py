"""HTTP/2 frames (RFC 9113 §4 and §6): reading them from a byte stream, writing them.

Only what the server side of a session connection needs; the frame and settings
numbers are the RFC's.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from enum import IntEnum

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DEFAULT_WINDOW = 65_535
DEFAULT_MAX_FRAME = 16_384
MAX_WINDOW = (1 << 31) - 1

# Flags; ACK shares END_STREAM's bit on SETTINGS and PING.
END_STREAM = 0x1
ACK = 0x1
END_HEADERS = 0x4
PADDED = 0x8
PRIORITY = 0x20

_HEADER = struct.Struct(">BHBBL")  # 24-bit length split in two, type, flags, stream id
_SETTING = struct.Struct(">HL")


class FrameType(IntEnum):
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


class Setting(IntEnum):
    HEADER_TABLE_SIZE = 1
    ENABLE_PUSH = 2
    MAX_CONCURRENT_STREAMS = 3
    INITIAL_WINDOW_SIZE = 4
    MAX_FRAME_SIZE = 5
    MAX_HEADER_LIST_SIZE = 6


class ErrorCode(IntEnum):
    NO_ERROR = 0
    PROTOCOL_ERROR = 1
    INTERNAL_ERROR = 2
    FLOW_CONTROL_ERROR = 3
    STREAM_CLOSED = 5
    FRAME_SIZE_ERROR = 6
    REFUSED_STREAM = 7
    CANCEL = 8
    COMPRESSION_ERROR = 9


class H2Error(Exception):
    """The peer broke the protocol; the connection ends with GOAWAY ``code``."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(slots=True)
class Frame:
    type: int
    flags: int
    stream: int
    payload: bytes


class FrameReader:
    """Cuts frames out of arbitrary chunks of the byte stream, after the client preface."""

    def __init__(self, max_frame: int) -> None:
        self._buffer = bytearray()
        self._max_frame = max_frame
        self._preface = False

    def feed(self, data: bytes) -> Iterator[Frame]:
        buffer = self._buffer
        buffer += data
        if not self._preface:
            if len(buffer) < len(PREFACE):
                if not PREFACE.startswith(buffer):
                    raise H2Error(ErrorCode.PROTOCOL_ERROR, "not an HTTP/2 client")
                return
            if buffer[: len(PREFACE)] != PREFACE:
                raise H2Error(ErrorCode.PROTOCOL_ERROR, "not an HTTP/2 client")
            del buffer[: len(PREFACE)]
            self._preface = True
        while len(buffer) >= _HEADER.size:
            high, low, kind, flags, stream = _HEADER.unpack_from(buffer)
            length = high << 16 | low
            if length > self._max_frame:
                raise H2Error(ErrorCode.FRAME_SIZE_ERROR, f"frame of {length} bytes")
            end = _HEADER.size + length
            if len(buffer) < end:
                return
            payload = bytes(buffer[_HEADER.size : end])
            # CPython deletes from a bytearray's front without moving the rest.
            del buffer[:end]
            yield Frame(kind, flags, stream & MAX_WINDOW, payload)


def frame_header(kind: FrameType, flags: int, stream: int, length: int) -> bytes:
    return _HEADER.pack(length >> 16, length & 0xFFFF, kind, flags, stream)


def encode_frame(kind: FrameType, flags: int, stream: int, payload: bytes = b"") -> bytes:
    return frame_header(kind, flags, stream, len(payload)) + payload


def encode_settings(settings: dict[Setting, int]) -> bytes:
    payload = b"".join(_SETTING.pack(key, value) for key, value in settings.items())
    return encode_frame(FrameType.SETTINGS, 0, 0, payload)


def decode_settings(payload: bytes) -> dict[int, int]:
    if len(payload) % _SETTING.size:
        raise H2Error(ErrorCode.FRAME_SIZE_ERROR, "SETTINGS of a bad length")
    return dict(_SETTING.iter_unpack(payload))


def unpad(frame: Frame) -> bytes:
    """The payload of DATA or HEADERS without padding (and HEADERS' priority fields)."""
    payload = frame.payload
    start, end = 0, len(payload)
    if frame.flags & PADDED:
        if not payload or payload[0] >= len(payload):
            raise H2Error(ErrorCode.PROTOCOL_ERROR, "padding longer than the frame")
        start, end = 1, end - payload[0]
    if frame.type == FrameType.HEADERS and frame.flags & PRIORITY:
        start += 5
    if start > end:
        raise H2Error(ErrorCode.FRAME_SIZE_ERROR, "HEADERS too short")
    return payload[start:end]


def window_increment(payload: bytes) -> int:
    if len(payload) != 4:
        raise H2Error(ErrorCode.FRAME_SIZE_ERROR, "WINDOW_UPDATE of a bad length")
    return int.from_bytes(payload) & MAX_WINDOW
