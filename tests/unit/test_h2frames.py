"""HTTP/2 frame reading and writing (RFC 9113 §4, §6)."""

from __future__ import annotations

import pytest

from buildg_dap.buildkit.session.h2frames import (
    END_HEADERS,
    PADDED,
    PREFACE,
    PRIORITY,
    ErrorCode,
    Frame,
    FrameReader,
    FrameType,
    H2Error,
    Setting,
    decode_settings,
    encode_frame,
    encode_settings,
    unpad,
    window_increment,
)


def test_frames_are_cut_from_arbitrary_chunks_after_the_preface() -> None:
    wire = (
        PREFACE
        + encode_settings({Setting.INITIAL_WINDOW_SIZE: 1 << 20, Setting.MAX_FRAME_SIZE: 32768})
        + encode_frame(FrameType.DATA, 1, 3, b"x" * 300)
        + encode_frame(FrameType.PING, 0, 0, b"12345678")
    )
    reader = FrameReader(max_frame=16384)
    frames: list[Frame] = []
    for start in range(0, len(wire), 7):  # seven bytes at a time
        frames += reader.feed(wire[start : start + 7])
    assert [(f.type, f.flags, f.stream) for f in frames] == [(4, 0, 0), (0, 1, 3), (6, 0, 0)]
    assert decode_settings(frames[0].payload) == {4: 1 << 20, 5: 32768}
    assert frames[1].payload == b"x" * 300
    assert frames[2].payload == b"12345678"


def test_the_stream_id_reserved_bit_is_ignored() -> None:
    wire = PREFACE + encode_frame(FrameType.DATA, 0, 0x80000005, b"")
    (frame,) = FrameReader(max_frame=16384).feed(wire)
    assert frame.stream == 5


@pytest.mark.parametrize("wire", [b"GET / HTTP/1.1\r\n", b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n"])
def test_a_client_that_is_not_http2_is_refused(wire: bytes) -> None:
    with pytest.raises(H2Error, match="not an HTTP/2 client") as raised:
        list(FrameReader(max_frame=16384).feed(wire))
    assert raised.value.code == ErrorCode.PROTOCOL_ERROR


def test_a_frame_over_the_advertised_size_is_a_frame_size_error() -> None:
    wire = PREFACE + encode_frame(FrameType.DATA, 0, 1, b"x" * 101)
    with pytest.raises(H2Error) as raised:
        list(FrameReader(max_frame=100).feed(wire))
    assert raised.value.code == ErrorCode.FRAME_SIZE_ERROR


def test_padding_and_priority_fields_are_stripped() -> None:
    data = Frame(FrameType.DATA, PADDED, 1, bytes([3]) + b"body" + b"\0\0\0")
    assert unpad(data) == b"body"
    headers = Frame(
        FrameType.HEADERS, PADDED | PRIORITY | END_HEADERS, 1,
        bytes([2]) + b"\0\0\0\1\x10" + b"block" + b"\0\0",
    )
    assert unpad(headers) == b"block"


@pytest.mark.parametrize(
    "frame",
    [
        Frame(FrameType.DATA, PADDED, 1, bytes([5]) + b"abc"),
        Frame(FrameType.DATA, PADDED, 1, b""),
        Frame(FrameType.HEADERS, PRIORITY, 1, b"\0\0"),
    ],
)
def test_impossible_padding_is_an_error(frame: Frame) -> None:
    with pytest.raises(H2Error):
        unpad(frame)


def test_settings_and_window_updates_of_bad_length_are_errors() -> None:
    with pytest.raises(H2Error) as raised:
        decode_settings(b"\0\4\0\0\0")
    assert raised.value.code == ErrorCode.FRAME_SIZE_ERROR
    with pytest.raises(H2Error):
        window_increment(b"\0\0\1")
    assert window_increment(b"\x80\0\1\0") == 256  # the reserved bit is ignored
