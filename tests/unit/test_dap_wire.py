"""DAP base protocol framing: MessageReader, MessageWriter, the stdio and TCP transports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections import deque
from collections.abc import Iterable, Mapping
from pathlib import Path

import anyio
import anyio.lowlevel
import pytest
from anyio.abc import ByteReceiveStream, ByteSendStream
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from buildg_dap.dap.transport import serve_tcp
from buildg_dap.dap.wire import (
    MAX_HEADER_LINE,
    MAX_HEADER_SECTION,
    FramingError,
    MessageReader,
    MessageWriter,
    wrap_stream,
)


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


pytestmark = pytest.mark.anyio


class ChunkStream(ByteReceiveStream):
    """Gives the chunks, then ends, or with ``hang`` waits forever for more."""

    def __init__(self, chunks: Iterable[bytes], *, hang: bool = False) -> None:
        self._chunks = deque(c for c in chunks if c)
        self._hang = hang
        self.received = 0

    async def receive(self, max_bytes: int = 65536) -> bytes:
        await anyio.lowlevel.checkpoint()
        if not self._chunks:
            if self._hang:
                await anyio.sleep_forever()
            raise anyio.EndOfStream
        chunk = self._chunks.popleft()
        if len(chunk) > max_bytes:
            self._chunks.appendleft(chunk[max_bytes:])
            chunk = chunk[:max_bytes]
        self.received += len(chunk)
        return chunk

    async def aclose(self) -> None:
        pass


class SlowSink(ByteSendStream):
    """Stores what is sent a byte at a time, yielding between bytes, so sends that
    overlap would interleave."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.sends = 0

    async def send(self, item: bytes) -> None:
        self.sends += 1
        for byte in item:
            self.data.append(byte)
            await anyio.lowlevel.checkpoint()

    async def aclose(self) -> None:
        pass


def frame(body: bytes | str, *extra: str) -> bytes:
    raw = body.encode() if isinstance(body, str) else body
    header = "".join(f"{line}\r\n" for line in (*extra, f"Content-Length: {len(raw)}"))
    return f"{header}\r\n".encode() + raw


def message(seq: int, **fields: object) -> dict[str, object]:
    return {"seq": seq, "type": "request", "command": "evaluate", **fields}


def frames(*messages: Mapping[str, object]) -> bytes:
    return b"".join(frame(json.dumps(m)) for m in messages)


def reader_of(
    data: bytes | Iterable[bytes], *, hang: bool = False, max_body: int = 1 << 20
) -> MessageReader:
    chunks = [data] if isinstance(data, bytes) else data
    return MessageReader(ChunkStream(chunks, hang=hang), max_body=max_body)


async def read_all(reader: MessageReader) -> list[dict[str, object]]:
    got = []
    while (m := await reader.read()) is not None:
        got.append(m)
    return got


async def framing_error(reader: MessageReader) -> FramingError:
    with pytest.raises(FramingError) as caught:
        await reader.read()
    return caught.value


# Reading -----------------------------------------------------------------------------

MESSAGES = [message(1), message(2, arguments={"expression": "x" * 300}), message(3, n=None)]


async def test_messages_in_one_chunk() -> None:
    assert await read_all(reader_of(frames(*MESSAGES))) == MESSAGES


async def test_messages_byte_by_byte() -> None:
    data = frames(*MESSAGES)
    assert await read_all(reader_of(data[i : i + 1] for i in range(len(data)))) == MESSAGES


async def test_a_complete_message_is_returned_without_waiting_for_more() -> None:
    # The stream never ends: each read has to stop at the announced length.
    data = frames(*MESSAGES)
    for chunks in ([data], [data[i : i + 1] for i in range(len(data))]):
        reader = reader_of(chunks, hang=True)
        with anyio.fail_after(2):
            assert [await reader.read() for _ in MESSAGES] == MESSAGES


class MemoryByteReceiveStream(ByteReceiveStream):
    def __init__(self) -> None:
        self.sender, self._receiver = anyio.create_memory_object_stream[bytes](10)

    async def receive(self, max_bytes: int = 65536) -> bytes:
        return await self._receiver.receive()

    async def wait_for_reader(self) -> None:
        while self._receiver.statistics().tasks_waiting_receive == 0:
            await anyio.lowlevel.checkpoint()

    async def aclose(self) -> None:
        await self._receiver.aclose()


@pytest.mark.parametrize("split_at", [5, 30])  # in the header, in the body
async def test_a_cancelled_read_resumes_where_it_stopped(split_at: int) -> None:
    stream = MemoryByteReceiveStream()
    reader = MessageReader(stream)
    data = frames(message(1), message(2))
    await stream.sender.send(data[:split_at])

    async def cancel_when_waiting(scope: anyio.CancelScope) -> None:
        await stream.wait_for_reader()
        scope.cancel()

    with anyio.CancelScope() as scope:
        async with anyio.create_task_group() as group:
            group.start_soon(cancel_when_waiting, scope)
            await reader.read()
    assert scope.cancelled_caught
    await stream.sender.send(data[split_at:])
    assert [await reader.read(), await reader.read()] == [message(1), message(2)]


async def test_other_header_fields_are_ignored() -> None:
    body = json.dumps(message(1))
    data = frame(body, "Content-Type: application/vscode-jsonrpc; charset=utf-8", "X-A:b")
    data += frame(body).replace(b"Content-Length", b"content-LENGTH") + frame(body, "x:")
    assert await read_all(reader_of(data)) == [message(1)] * 3


async def test_non_ascii_bodies() -> None:
    sent = message(1, text="héllo wörld ✓ 𝄞 日本", path="/tmp/ü")
    body = json.dumps(sent, ensure_ascii=False).encode()
    assert len(body) > len(json.dumps(sent, ensure_ascii=False))
    assert await read_all(reader_of(frame(body))) == [sent]


async def test_clean_eof() -> None:
    assert await reader_of(b"").read() is None
    reader = reader_of(frames(message(1)))
    assert await reader.read() == message(1)
    assert await reader.read() is None
    assert await reader.read() is None


@pytest.mark.parametrize(
    ("data", "text"),
    [
        (b"Content-Len", "inside the header"),
        (b"Content-Length: 10\r\n", "inside the header"),
        (b"Content-Length: 10\r\n\r", "inside the header"),
        (b"Content-Length: 10\r\n\r\n{}", "2 of 10 body bytes"),
        (b"Content-Length: 10\r\n\r\n", "0 of 10 body bytes"),
    ],
)
async def test_eof_mid_message(data: bytes, text: str) -> None:
    reader = reader_of(frames(message(1)) + data)
    assert await reader.read() == message(1)
    error = await framing_error(reader)
    assert not error.recoverable
    assert "stream ended mid-message" in str(error)
    assert text in str(error)


@pytest.mark.parametrize(
    ("header", "text"),
    [
        (b"\r\n", "no Content-Length"),
        (b"Content-Type: json\r\n\r\n", "no Content-Length"),
        (b"Content-Length: -5\r\n\r\n", "negative Content-Length"),
        (b"Content-Length: abc\r\n\r\n", "invalid Content-Length"),
        (b"Content-Length: +5\r\n\r\n", "invalid Content-Length"),
        (b"Content-Length: 1_0\r\n\r\n", "invalid Content-Length"),
        (b"Content-Length: \r\n\r\n", "invalid Content-Length"),
        (b"Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}", "conflicting"),
        (b"Content-Length 2\r\n\r\n{}", "malformed header line"),
        (b"garbage\r\n\r\n", "malformed header line"),
        # A body without a header: its text is taken for a header field.
        (b'{"seq":1}\r\n\r\n', "no Content-Length"),
        (b"Content-Length: 1025\r\n\r\n", "exceeds the limit of 1024"),
        (b"Content-Length: " + b"9" * 5000 + b"\r\n\r\n", "exceeds the limit"),
        (b"Content-Length: " + b"0" * 5000 + b"1025\r\n\r\n", "exceeds the limit"),
    ],
)
async def test_bad_headers_are_unrecoverable(header: bytes, text: str) -> None:
    reader = reader_of(header + frames(message(1)), hang=True, max_body=1024)
    with anyio.fail_after(2):
        error = await framing_error(reader)
    assert not error.recoverable
    assert text in str(error)
    # Out of sync: later reads fail too rather than parse garbage.
    with anyio.fail_after(2):
        again = await framing_error(reader)
    assert not again.recoverable
    assert "out of sync" in str(again)


async def test_leading_zeros_within_the_limit_are_accepted() -> None:
    body = b'{"seq":1}'
    data = b"Content-Length: " + b"0" * 5000 + b"9\r\n\r\n" + body
    assert await read_all(reader_of(data, max_body=1024)) == [{"seq": 1}]


async def test_body_at_the_limit_is_accepted() -> None:
    sent = {"pad": "x" * 1000}
    body = json.dumps(sent).encode()
    assert await read_all(reader_of(frame(body), max_body=len(body))) == [sent]
    error = await framing_error(reader_of(frame(body), max_body=len(body) - 1))
    assert not error.recoverable


async def test_header_line_limit() -> None:
    longest = b"X-Pad: " + b"p" * (MAX_HEADER_LINE - 7)
    assert await read_all(reader_of(longest + b"\r\n" + frames(message(1)))) == [message(1)]
    # Detected without waiting for the line's end, which may never come.
    reader = reader_of([longest + b"pp"], hang=True)
    with anyio.fail_after(2):
        error = await framing_error(reader)
    assert not error.recoverable
    assert "header line longer" in str(error)
    error = await framing_error(reader_of(longest + b"p\r\n" + frames(message(1))))
    assert "header line longer" in str(error)


async def test_header_section_limit() -> None:
    line = b"X-Pad: " + b"p" * 1000 + b"\r\n"
    count = MAX_HEADER_SECTION // len(line)
    ok = line * (count - 1)
    assert await read_all(reader_of(ok + frames(message(1)))) == [message(1)]
    reader = reader_of([line * (count + 1)], hang=True)
    with anyio.fail_after(2):
        error = await framing_error(reader)
    assert not error.recoverable
    assert "header section longer" in str(error)


@pytest.mark.parametrize(
    ("body", "seq", "text"),
    [
        (b'{"seq": 7, "type": "request", "command": ', 7, "not valid JSON"),
        (b'{"seq":8,"arguments":{"x":"\xff"}}', 8, "not valid UTF-8"),
        (b'{"arguments": {"seq": 3}, "seq": 9, ', 9, "not valid JSON"),
        (b'{"arguments": {"seq": 3}, "command": "seq", ', None, "not valid JSON"),
        (b'{"text": "\\"seq\\": 4", "seq": 10', 10, "not valid JSON"),
        (b"[1, 2]", None, "JSON array, not an object"),
        (b'"seq"', None, "JSON string, not an object"),
        (b"null", None, "JSON null, not an object"),
        (b"1.5", None, "JSON number, not an object"),
        (b'{"seq": 1, "x": NaN}', 1, "NaN is not JSON"),
        (b"\xef\xbb\xbf{}", None, "not valid JSON"),
        (b"", None, "not valid JSON"),
        (b"[" * 100_000, None, "not valid JSON"),
        (b'{"seq": 5, "n": ' + b"1" * 5000 + b"}", 5, "not valid JSON"),
    ],
)
async def test_bad_bodies_are_recoverable(body: bytes, seq: int | None, text: str) -> None:
    reader = reader_of(frame(body) + frames(message(2)))
    error = await framing_error(reader)
    assert error.recoverable
    assert error.seq == seq
    assert text in str(error)
    assert await read_all(reader) == [message(2)]


async def test_trace_sees_messages_read() -> None:
    seen: list[tuple[str, dict[str, object]]] = []
    reader = MessageReader(
        ChunkStream([frames(message(1)) + frame("[]") + frames(message(2))]),
        trace=lambda direction, m: seen.append((direction, m)),
    )
    assert await reader.read() == message(1)
    await framing_error(reader)
    assert await reader.read() == message(2)
    assert seen == [("<-", message(1)), ("<-", message(2))]


# Writing -----------------------------------------------------------------------------


async def test_write_is_compact_utf8_in_one_send() -> None:
    sink = SlowSink()
    seen: list[tuple[str, dict[str, object]]] = []
    writer = MessageWriter(sink, trace=lambda direction, m: seen.append((direction, m)))
    sent = message(1, text="ünï ✓")
    await writer.write(sent)
    body = '{"seq":1,"type":"request","command":"evaluate","text":"ünï ✓"}'.encode()
    assert bytes(sink.data) == b"Content-Length: %d\r\n\r\n" % len(body) + body
    assert sink.sends == 1
    assert seen == [("->", sent)]


async def test_lone_surrogates_are_written_as_escapes() -> None:
    # json accepts "\ud800" from a peer; UTF-8 cannot carry it, a JSON escape can.
    received = await reader_of(frame(b'{"text": "a\\ud800b"}')).read()
    assert received == {"text": "a\ud800b"}
    sink = SlowSink()
    await MessageWriter(sink).write(received)
    assert await reader_of(bytes(sink.data)).read() == received


async def test_unserializable_messages_raise() -> None:
    writer = MessageWriter(SlowSink())
    with pytest.raises(ValueError):
        await writer.write({"x": float("nan")})
    with pytest.raises(TypeError):
        await writer.write({"x": object()})
    await writer.write({"x": 1})


async def test_concurrent_writers_do_not_interleave() -> None:
    sink = SlowSink()
    writer = MessageWriter(sink)
    sent = [message(i, body="é" * (i * 7)) for i in range(50)]
    async with anyio.create_task_group() as group:
        for m in sent:
            group.start_soon(writer.write, m)
    assert sink.sends == 50
    got = await read_all(reader_of(bytes(sink.data)))
    assert sorted(got, key=lambda m: int(str(m["seq"]))) == sent


async def test_a_cancelled_write_breaks_the_writer() -> None:
    sink = SlowSink()
    writer = MessageWriter(sink)
    with anyio.CancelScope() as scope:
        async with anyio.create_task_group() as group:
            group.start_soon(writer.write, message(1, pad="x" * 1000))
            await anyio.lowlevel.checkpoint()
            await anyio.lowlevel.checkpoint()
            scope.cancel()
    assert 0 < len(sink.data) < 1000
    with pytest.raises(anyio.BrokenResourceError):
        await writer.write(message(2))


# Fuzzing -----------------------------------------------------------------------------

FUZZ = settings(max_examples=700, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FUZZ_MAX_BODY = 512

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
json_objects = st.dictionaries(st.text(max_size=8), json_values, max_size=5)


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


ERROR_KINDS = (
    "stream ended mid-message",
    "no Content-Length",
    "negative Content-Length",
    "invalid Content-Length",
    "exceeds the limit",
    "conflicting Content-Length",
    "malformed header line",
    "header line longer",
    "header section longer",
)


async def drain(reader: MessageReader) -> None:
    """Reads until the end or an unrecoverable error; anything but a message, None or a
    FramingError fails the test."""
    with anyio.fail_after(2):
        while True:
            try:
                got = await reader.read()
            except FramingError as error:
                assert isinstance(error.recoverable, bool)
                assert error.seq is None or isinstance(error.seq, int)
                if error.recoverable:
                    event("recoverable error")
                    continue
                kinds = [k for k in ERROR_KINDS if k in str(error)]
                event(f"ends with: {kinds[0] if kinds else error}")
                with pytest.raises(FramingError):
                    await reader.read()
                return
            if got is None:
                event("ends with: clean end")
                return
            assert isinstance(got, dict)
            event("message")


# Random bytes seldom look like a header; pieces of headers and bodies do.
TOKENS = st.sampled_from(
    [
        *(b"Content-Length", b"content-length", b": ", b":", b" ", b"\r\n", b"\r", b"\n"),
        *(b"-", b"0", b"7", b"42", b"{", b"}", b"[", b'"seq"', b'"a"', b",", b"\xff"),
        *(b"\xc3\xa9", b"X-Other: 1"),
    ]
)
soup = st.lists(TOKENS | st.binary(min_size=1, max_size=4), max_size=12).map(b"".join)
framed_soup = st.lists(
    st.tuples(st.lists(soup, max_size=4), soup).map(
        lambda parts: b"".join(line + b"\r\n" for line in parts[0]) + b"\r\n" + parts[1]
    ),
    max_size=4,
).map(b"".join)


@FUZZ
@given(data=st.binary(max_size=300) | framed_soup, cuts=st.lists(st.integers(0, 300), max_size=8))
async def test_fuzz_random_bytes(data: bytes, cuts: list[int]) -> None:
    await drain(reader_of(split(data, cuts), max_body=FUZZ_MAX_BODY))


@st.composite
def mutated_streams(draw: st.DrawFn) -> bytes:
    messages = draw(st.lists(json_objects, min_size=1, max_size=4))
    data = bytearray(frames(*messages))
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["truncate", "flip", "length", "garbage", "insert", "delete"]))
        at = draw(st.integers(0, len(data)))
        if kind == "truncate":
            del data[at:]
        elif kind == "flip" and data:
            data[min(at, len(data) - 1)] ^= 1 << draw(st.integers(0, 7))
        elif kind == "length":
            value = draw(
                st.sampled_from(["-1", "-99999", "99999999999", "1" * 30, "0", "", "x", "1e3"])
                | st.integers(-(1 << 70), 1 << 70).map(str)
            )
            data[:] = data.replace(b"Content-Length: ", f"Content-Length: {value}".encode(), 1)
        elif kind == "garbage":
            line = draw(st.binary(max_size=40))
            data[at:at] = line + draw(st.sampled_from([b"\r\n", b"\n", b"\r", b""]))
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=20))
        else:
            del data[at : at + draw(st.integers(1, 20))]
    return bytes(data)


@FUZZ
@given(data=mutated_streams(), cuts=st.lists(st.integers(0, 2000), max_size=8))
async def test_fuzz_mutated_frames(data: bytes, cuts: list[int]) -> None:
    await drain(reader_of(split(data, cuts), max_body=FUZZ_MAX_BODY))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    messages=st.lists(json_objects, max_size=5),
    extra=st.lists(st.sampled_from(["A: b", "Content-Type: x", "z:"]), max_size=2),
    cuts=st.lists(st.integers(0, 2000), max_size=10),
)
async def test_fuzz_round_trip(
    messages: list[dict[str, object]], extra: list[str], cuts: list[int]
) -> None:
    sink = SlowSink()
    writer = MessageWriter(sink)
    for m in messages:
        await writer.write(m)
    data = bytes(sink.data)
    if extra:
        data = data.replace(b"Content-Length", "\r\n".join([*extra, "Content-Length"]).encode())
    # The stream never ends: every message must come back without waiting for more.
    reader = reader_of(split(data, cuts), hang=True)
    with anyio.fail_after(2):
        assert [await reader.read() for _ in messages] == messages


# Transports --------------------------------------------------------------------------


async def echo(reader_: MessageReader, writer: MessageWriter) -> None:
    while (m := await reader_.read()) is not None:
        await writer.write({**m, "echo": True})


class BoundPort:
    """Takes the port serve_tcp reports through ``ready``; a client waits for it."""

    def __init__(self) -> None:
        self.number = 0
        self._known = anyio.Event()

    def ready(self, port: int) -> None:
        self.number = port
        self._known.set()

    async def wait(self) -> int:
        await self._known.wait()
        return self.number


async def test_serve_tcp_once() -> None:
    bound = BoundPort()

    async def client() -> None:
        async with await anyio.connect_tcp("127.0.0.1", await bound.wait()) as stream:
            reader_, writer = wrap_stream(stream)
            await writer.write(message(1, text="ü"))
            assert await reader_.read() == {**message(1, text="ü"), "echo": True}
            await writer.write(message(2))
            assert await reader_.read() == {**message(2), "echo": True}

    with anyio.fail_after(5):
        async with anyio.create_task_group() as group:
            group.start_soon(client)
            await serve_tcp("127.0.0.1", 0, echo, ready=bound.ready, once=True)
    assert bound.number > 0


async def test_serve_tcp_serves_connections_concurrently() -> None:
    bound = BoundPort()

    with anyio.fail_after(5):
        async with anyio.create_task_group() as group:
            group.start_soon(lambda: serve_tcp("127.0.0.1", 0, echo, ready=bound.ready))
            port = await bound.wait()
            first = await anyio.connect_tcp("127.0.0.1", port)
            second = await anyio.connect_tcp("127.0.0.1", port)
            async with first, second:
                (r1, w1), (r2, w2) = wrap_stream(first), wrap_stream(second)
                # The second is answered while the first connection stays open.
                await w2.write(message(2))
                assert await r2.read() == {**message(2), "echo": True}
                await w1.write(message(1))
                assert await r1.read() == {**message(1), "echo": True}
            group.cancel_scope.cancel()


STDIO_ECHO = textwrap.dedent(
    """
    import anyio, os, sys
    from buildg_dap.dap.transport import stdio_transport

    async def main():
        async with stdio_transport() as (reader, writer):
            print("stray output", flush=True)
            os.system("echo child output")
            while (m := await reader.read()) is not None:
                await writer.write({**m, "echo": True})
        print("stdout restored", flush=True)

    anyio.run(main)
    """
)


def test_stdio_over_pipes() -> None:
    sent = [message(1, text="ü"), message(2, pad="x" * 200_000)]
    done = subprocess.run(
        [sys.executable, "-c", STDIO_ECHO],
        input=frames(*sent),
        capture_output=True,
        timeout=30,
        check=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2] / "src")},
    )
    protocol, _, rest = done.stdout.rpartition(b"stdout restored\n")
    assert rest == b""
    assert anyio.run(read_all, reader_of(protocol)) == [{**m, "echo": True} for m in sent]
    assert b"stray output" in done.stderr
    assert b"child output" in done.stderr


def test_stdio_over_regular_files(tmp_path: Path) -> None:
    sent = [message(1), message(2, text="ü")]
    (tmp_path / "in").write_bytes(frames(*sent))
    with (tmp_path / "in").open("rb") as stdin, (tmp_path / "out").open("wb") as stdout:
        subprocess.run(
            [sys.executable, "-c", STDIO_ECHO],
            stdin=stdin,
            stdout=stdout,
            stderr=subprocess.PIPE,
            timeout=30,
            check=True,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2] / "src")},
        )
    protocol, _, rest = (tmp_path / "out").read_bytes().rpartition(b"stdout restored\n")
    assert rest == b""
    assert anyio.run(read_all, reader_of(protocol)) == [{**m, "echo": True} for m in sent]
