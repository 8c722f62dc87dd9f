"""The DAP adapter in-process, over memory streams, with no builder: a scripted session,
then random and malformed input. Every well-framed request gets exactly one response,
the adapter never raises, and it ends cleanly when the client leaves or the framing
breaks. No request here can start a build (see ``no_builds``)."""

from __future__ import annotations

import json
import math
import sys
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import anyio
import pytest
from anyio.abc import ByteReceiveStream, ByteSendStream
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from buildg_dap.dap import requests as requests_module
from buildg_dap.dap.adapter import Adapter
from buildg_dap.dap.wire import MessageReader, MessageWriter

pytestmark = pytest.mark.anyio

Message = dict[str, Any]

# Every command the adapter has a handler for.
COMMANDS = sorted(name[3:] for name in dir(Adapter) if name.startswith("on_"))
# What may succeed with no build launched; everything else needs one.
WITHOUT_A_BUILD = {"initialize", "threads", "completions", "disconnect"}
# A context that does not exist, so no launch gets past its arguments.
MISSING_CONTEXT = "/nonexistent/buildg-dap-adapter-fuzz/context"


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Empty: a launch that falls back to ./Dockerfile finds none.
    return tmp_path_factory.mktemp("workspace")


def test_the_command_list_is_the_adapters() -> None:
    assert {"initialize", "launch", "restart", "threads", "disconnect", "evaluate"} <= set(COMMANDS)
    assert not Path(MISSING_CONTEXT).exists()


# --- plumbing -----------------------------------------------------------------------


class _Receive(ByteReceiveStream):
    def __init__(self, chunks: MemoryObjectReceiveStream[bytes]) -> None:
        self._chunks = chunks
        self._rest = b""

    async def receive(self, max_bytes: int = 65536) -> bytes:
        if not self._rest:
            self._rest = await self._chunks.receive()  # EndOfStream passes through
        chunk, self._rest = self._rest[:max_bytes], self._rest[max_bytes:]
        return chunk

    async def aclose(self) -> None:
        await self._chunks.aclose()


class _Send(ByteSendStream):
    def __init__(self, chunks: MemoryObjectSendStream[bytes]) -> None:
        self._chunks = chunks

    async def send(self, item: bytes) -> None:
        await self._chunks.send(item)

    async def aclose(self) -> None:
        await self._chunks.aclose()


def pipe() -> tuple[_Send, _Receive]:
    send, receive = anyio.create_memory_object_stream[bytes](math.inf)
    return _Send(send), _Receive(receive)


def frame(body: bytes) -> bytes:
    return b"Content-Length: %d\r\n\r\n%b" % (len(body), body)


def encode(message: object) -> bytes:
    return json.dumps(message).encode()


def key(seq: object) -> str:
    # Compared as JSON, so that 1, 1.0 and true stay apart.
    return json.dumps(seq, sort_keys=True)


class NoBuilds(Exception):
    pass


@contextmanager
def no_builds() -> Iterator[list[object]]:
    """Fails any launch that gets as far as starting a session (and so a builder)."""
    started: list[object] = []

    def refuse(*args: object, **kwargs: object) -> None:
        started.append(args)
        raise NoBuilds("a launch reached the builder")

    with mock.patch.object(requests_module, "DebugSession", refuse):
        yield started
    assert started == [], "a launch reached the builder"


@dataclass
class Client:
    """The client's end: raw bytes or messages in, every message out recorded."""

    raw: _Send
    writer: MessageWriter
    reader: MessageReader
    done: anyio.Event
    received: list[Message] = field(default_factory=list)
    crash: BaseException | None = None
    last_seq: int = 0

    def next_seq(self) -> int:
        self.last_seq += 1
        return self.last_seq

    async def send(self, message: Message) -> None:
        await self.writer.write(message)

    async def read(self) -> Message | None:
        message = await self.reader.read()
        if message is not None:
            self.received.append(message)
        return message

    def responses(self) -> list[Message]:
        return [m for m in self.received if m.get("type") == "response"]

    def responses_to(self, seq: object) -> list[Message]:
        return [m for m in self.responses() if key(m.get("request_seq")) == key(seq)]

    async def request(self, command: str, arguments: object = None) -> Message:
        """Sends a request and reads until its response arrives."""
        seq = self.next_seq()
        message: Message = {"seq": seq, "type": "request", "command": command}
        if arguments is not None:
            message["arguments"] = arguments
        await self.send(message)
        with anyio.fail_after(5):
            while not self.responses_to(seq):
                assert await self.read() is not None, f"the adapter left before answering {seq}"
        [response] = self.responses_to(seq)
        return response

    async def finished(self) -> None:
        """Waits for run() to return, then reads what is left."""
        with anyio.fail_after(5):
            await self.done.wait()
            while await self.read() is not None:
                pass
        assert self.crash is None


@asynccontextmanager
async def adapter(cwd: Path) -> AsyncIterator[Client]:
    to_adapter, adapter_in = pipe()
    adapter_out, from_adapter = pipe()
    server = Adapter(MessageReader(adapter_in), MessageWriter(adapter_out), cwd=cwd)
    client = Client(
        to_adapter, MessageWriter(to_adapter), MessageReader(from_adapter), anyio.Event()
    )

    async def run() -> None:
        try:
            await server.run()
        except BaseException as error:
            client.crash = error
            raise
        finally:
            client.done.set()
            await adapter_out.aclose()  # the client reads to the end

    async with anyio.create_task_group() as group:
        group.start_soon(run)
        try:
            yield client
        finally:
            # A test that failed midway must not wait for the adapter.
            group.cancel_scope.cancel()


# --- a scripted session -------------------------------------------------------------


async def test_a_scripted_session(workspace: Path) -> None:
    with no_builds():
        async with adapter(workspace) as client:
            for command in ("threads", "launch", "setBreakpoints", "disconnect"):
                response = await client.request(command, {})
                assert not response["success"]
                assert response["message"] == f"{command}: send initialize first"
                assert response["command"] == command

            response = await client.request("initialize", {"clientID": "x"})
            assert not response["success"]
            assert response["message"].startswith("initialize: invalid arguments (adapterID")

            response = await client.request("initialize", {"adapterID": "test"})
            assert response["success"]
            capabilities = response["body"]
            assert capabilities["supportsConfigurationDoneRequest"] is True
            assert capabilities["supportsStepBack"] is True
            assert capabilities["supportsConditionalBreakpoints"] is True
            again = await client.request("initialize", {"adapterID": "test"})
            assert not again["success"]
            assert again["message"] == "initialize: this connection is initialized already"
            assert [f["filter"] for f in capabilities["exceptionBreakpointFilters"]] == ["on-fail"]

            response = await client.request("frobnicate", {})
            assert not response["success"]
            assert response["message"] == "unsupported request 'frobnicate'"

            response = await client.request("threads")
            assert response["success"]
            assert response["body"] == {"threads": []}

            response = await client.request("launch", {"contextPath": ".", "dockerFile": "D"})
            assert not response["success"]
            assert "unknown launch field 'dockerFile' (allowed: " in response["message"]
            # the message is also the one shown to the user
            assert response["body"]["error"]["format"] == response["message"]
            assert response["body"]["error"]["showUser"] is True

            response = await client.request("launch", {"stopOnEntry": "sometimes"})
            assert not response["success"]
            assert "launch field 'stopOnEntry'" in response["message"]

            response = await client.request("launch", {"contextPath": MISSING_CONTEXT})
            assert not response["success"]
            assert response["message"] == f"build context {MISSING_CONTEXT} is not a directory"

            response = await client.request("launch", {})  # ./Dockerfile, which is not there
            assert not response["success"]
            assert response["message"] == f"Dockerfile {workspace / 'Dockerfile'} not found"

            for command in ("stackTrace", "continue", "restart", "configurationDone", "source"):
                response = await client.request(command, {"threadId": 1})
                assert not response["success"]
                assert "no build launched yet" in response["message"], command

            response = await client.request("threads")
            assert response["body"] == {"threads": []}

            response = await client.request("disconnect", {})
            assert response["success"]
            await client.finished()

    responses = client.responses()
    assert [m for m in client.received if m not in responses] == []  # no events without a build
    # the adapter numbers what it sends
    assert [m["seq"] for m in client.received] == list(range(1, len(client.received) + 1))
    assert len({m["request_seq"] for m in responses}) == len(responses)


async def test_requests_with_a_bad_seq_command_or_arguments_are_answered(workspace: Path) -> None:
    async with adapter(workspace) as client:
        await client.request("initialize", {"adapterID": "test"})
        for seq in ("7", 1.5, None, [1], True, {"seq": 1}):
            await client.send({"seq": seq, "type": "request", "command": "threads"})
            with anyio.fail_after(5):
                response = await client.read()
            assert response is not None
            # A response's request_seq is a number: 0 when the request had none.
            assert response["request_seq"] == 0 and response["request_seq"] is not False
            assert not response["success"]
            assert response["message"] == "a request needs an integer seq and a command"
        response = await client.request("threads", [])
        assert response["message"] == "threads: arguments must be an object"
        response = await client.request(5)  # type: ignore[arg-type]
        assert response["message"] == "a request needs an integer seq and a command"
        await client.raw.aclose()
        await client.finished()


async def test_a_seq_nested_as_deep_as_json_allows_is_answered(workspace: Path) -> None:
    # Some of these decode but would not encode again inside a response; the depth
    # where that happens depends on the stack, so every depth up to the limit is sent.
    limit = sys.getrecursionlimit()
    depths = range(limit - 150, limit + 10)
    async with adapter(workspace) as client:
        for depth in depths:
            seq = b"[" * depth + b"]" * depth
            await client.raw.send(frame(b'{"seq": %b, "type": "request", "command": "x"}' % seq))
        with anyio.fail_after(5):
            while len(client.responses()) < len(depths):
                assert await client.read() is not None, "the adapter ended early"
        await client.raw.aclose()
        await client.finished()
    assert [m["request_seq"] for m in client.responses()] == [0] * len(depths)


async def test_messages_that_are_not_requests_are_not_answered(workspace: Path) -> None:
    async with adapter(workspace) as client:
        await client.send({"seq": 1, "type": "response", "request_seq": 1, "success": True})
        await client.send({"seq": 2, "type": "event", "event": "stopped"})
        await client.send({"seq": 3, "command": "threads"})  # no type
        await client.send({"seq": 4, "type": "Request", "command": "threads"})
        client.last_seq = 10
        response = await client.request("threads")
        assert response["request_seq"] == 11
        await client.raw.aclose()
        await client.finished()
    assert client.received == [response]


@pytest.mark.parametrize(
    ("body", "seq", "problem"),
    [
        (b'{"seq": 12, "type": "request", "command": "thr', 12, "not valid JSON"),
        (b'{"seq": 13, "x": NaN}', 13, "not valid JSON"),
        (b'{"seq": 14, "command": "\xff"}', 14, "not valid UTF-8"),
        (b"[1, 2]", 0, "a JSON array"),
        (b"", 0, "not valid JSON"),
    ],
)
async def test_a_broken_body_is_answered_and_the_session_goes_on(
    workspace: Path, body: bytes, seq: int, problem: str
) -> None:
    async with adapter(workspace) as client:
        await client.raw.send(frame(body))
        with anyio.fail_after(5):
            while not client.responses():
                await client.read()
        [response] = client.responses()
        assert response["request_seq"] == seq
        assert not response["success"]
        assert response["message"].startswith("invalid message: ")
        assert problem in response["message"]
        assert (await client.request("initialize", {"adapterID": "x"}))["success"]
        await client.raw.aclose()
        await client.finished()


@pytest.mark.parametrize(
    "data",
    [
        b"Content-Length: -1\r\n\r\n",
        b"Content-Length: 99999999999999\r\n\r\n",
        b"no colon here\r\n\r\n",
        b"X-Other: 1\r\n\r\n",
        b"Content-Length: 2\r\nContent-Length: 3\r\n\r\n",
        b"x" * 70000,
    ],
)
async def test_a_framing_error_ends_the_session_without_waiting_for_the_client(
    workspace: Path, data: bytes
) -> None:
    async with adapter(workspace) as client:
        await client.request("initialize", {"adapterID": "x"})
        await client.raw.send(data)  # and the stream stays open
        await client.finished()


async def test_the_session_ends_when_the_client_goes_away_mid_message(workspace: Path) -> None:
    async with adapter(workspace) as client:
        await client.raw.send(b'Content-Length: 50\r\n\r\n{"seq": 1')
        await client.raw.aclose()
        await client.finished()
    assert client.received == []


async def test_the_session_ends_when_the_client_goes_away(workspace: Path) -> None:
    async with adapter(workspace) as client:
        await client.request("initialize", {"adapterID": "x"})
        await client.raw.aclose()
        await client.finished()


# --- fuzzing ------------------------------------------------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)
not_objects = json_scalars | st.lists(json_values, max_size=3)

# Field names of the arguments of the requests the adapter knows, and of launch.
FIELDS = [
    *("adapterID", "clientID", "linesStartAt1", "supportsRunInTerminalRequest"),
    *("supportsProgressReporting", "source", "breakpoints", "lines", "line", "endLine"),
    *("filters", "threadId", "frameId", "variablesReference", "start", "count"),
    *("expression", "context", "text", "column", "restart", "terminateDebuggee"),
    *("dockerfile", "target", "buildArgs", "cacheFrom", "cacheTo", "secrets", "ssh"),
    *("platform", "image", "builder", "builderTLS", "stopOnEntry", "noCache"),
    *("type", "name", "request", "__sessionId", "preLaunchTask"),
]
field_names = st.sampled_from(FIELDS) | st.text(max_size=6)
any_arguments = json_values | st.dictionaries(field_names, json_values, max_size=4)
lines = st.integers(-3, 40)
source = st.fixed_dictionaries({}, optional={"path": st.text(max_size=12), "name": st.text()})
# Arguments that pass validation, so the handler gets as far as needing a build.
PLAUSIBLE: dict[str, st.SearchStrategy[Any]] = {
    "initialize": st.fixed_dictionaries(
        {"adapterID": st.text(max_size=6)},
        optional={
            "supportsRunInTerminalRequest": st.booleans(),
            "supportsProgressReporting": st.booleans(),
            "linesStartAt1": st.booleans(),
        },
    ),
    "setBreakpoints": st.fixed_dictionaries(
        {"source": source},
        optional={
            "breakpoints": st.lists(
                st.fixed_dictionaries(
                    {"line": lines},
                    optional={
                        "condition": st.text(max_size=8),
                        "hitCondition": st.text(max_size=4),
                    },
                ),
                max_size=3,
            ),
            "lines": st.lists(lines, max_size=3),
        },
    ),
    "setExceptionBreakpoints": st.fixed_dictionaries(
        {"filters": st.lists(st.sampled_from(["on-fail", "uncaught"]), max_size=2)}
    ),
    "breakpointLocations": st.fixed_dictionaries({"source": source, "line": lines}),
    "stackTrace": st.fixed_dictionaries({"threadId": st.integers(0, 2)}),
    "scopes": st.fixed_dictionaries({"frameId": st.integers(-1, 5)}),
    "variables": st.fixed_dictionaries({"variablesReference": st.integers(-1, 5)}),
    "evaluate": st.fixed_dictionaries(
        {"expression": st.text(max_size=12)},
        optional={"context": st.sampled_from(["repl", "hover", "watch", "variables"])},
    ),
    "completions": st.fixed_dictionaries({"text": st.text(max_size=8), "column": st.integers()}),
}
texts = st.text(max_size=12)
# Launch arguments of the right types, so launch gets as far as checking the paths,
# the builder address and the specs.
WELL_TYPED_LAUNCH = st.fixed_dictionaries(
    {},
    optional={
        "dockerfile": texts,
        "target": texts,
        "buildArgs": st.dictionaries(texts, texts, max_size=2),
        "platform": texts | st.lists(texts, max_size=2),
        "cacheFrom": st.lists(texts, max_size=2),
        "secrets": st.lists(texts, max_size=2),
        "ssh": st.lists(texts, max_size=2),
        "builder": texts | st.sampled_from(["tcp://127.0.0.1:1", "unix:///nonexistent.sock"]),
        "builderTLS": st.fixed_dictionaries({}, optional={"ca": texts, "serverName": texts}),
        "stopOnEntry": st.booleans(),
        "noCache": st.booleans(),
        "name": texts,
        "__sessionId": texts,
    },
)
# Any launch arguments, but an object always names a context that does not exist: one
# without would use the (empty) workspace, one with a real directory could reach the
# builder.
LAUNCH_ARGUMENTS = not_objects | (
    st.dictionaries(field_names, json_values | texts, max_size=4) | WELL_TYPED_LAUNCH
).map(lambda args: {**args, "contextPath": MISSING_CONTEXT})
ABSENT = object()  # no "arguments" in the request


def arguments_for(command: str) -> st.SearchStrategy[Any]:
    if command == "launch":
        return LAUNCH_ARGUMENTS | st.just(ABSENT)
    return any_arguments | PLAUSIBLE.get(command, st.just({})) | st.just(ABSENT)


# disconnect only ends a session; see ENDINGS.
REAL_COMMANDS = st.sampled_from([c for c in COMMANDS if c != "disconnect"])
# Mostly real commands, so most requests reach a handler.
COMMAND_NAMES = st.one_of(
    REAL_COMMANDS, REAL_COMMANDS, st.sampled_from(["launch", "restart"]), st.text(max_size=8)
)
WEIRD_SEQS = (
    st.integers(max_value=0)
    | st.text(max_size=4)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.none()
    | st.booleans()
    | st.lists(st.integers(), max_size=2)
    | st.just(ABSENT)
)
NOT_REQUEST = st.sampled_from(["response", "event", "Request", ""]) | json_values.filter(
    lambda v: v != "request"
)


@dataclass
class Sent:
    """One frame sent, and what the adapter must answer to it."""

    data: bytes
    answered: bool = False  # with exactly one response, to ``seq``
    seq: object = None
    # seq is unique among the requests: the response is checked against what was sent
    mine: bool = False
    command: object = None
    arguments: object = ABSENT
    garbage: bool = False  # a body that is not a JSON object


def request(draw: st.DrawFn, seq: int) -> Sent:
    command = draw(COMMAND_NAMES)
    arguments = draw(arguments_for(command))
    message: Message = {"seq": seq, "type": "request", "command": command}
    if arguments is not ABSENT:
        message["arguments"] = arguments
    event(f"request: {command if command in COMMANDS else 'junk'}")
    return Sent(encode(message), True, seq, True, command, arguments)


def weird_request(draw: st.DrawFn) -> Sent:
    # Never initialize: whether the session is initialized must stay known.
    command = draw(COMMAND_NAMES.filter(lambda c: c != "initialize") | json_values)
    seq = draw(WEIRD_SEQS)
    message: Message = {"type": "request", "command": command}
    if seq is not ABSENT:
        message["seq"] = seq
    if draw(st.booleans()):
        message["arguments"] = draw(any_arguments)
    event("request: odd seq or command")
    # Answered to its seq if that is an integer, else to 0.
    answer = seq if isinstance(seq, int) and not isinstance(seq, bool) else 0
    return Sent(encode(message), True, answer)


def not_a_request(draw: st.DrawFn) -> Sent:
    message = draw(st.dictionaries(field_names, json_values, max_size=3))
    for name in ("seq", "command", "type"):
        if draw(st.booleans()):
            message[name] = draw(NOT_REQUEST if name == "type" else json_values)
    event("not a request")
    return Sent(encode(message))


def garbage(draw: st.DrawFn, seq: int) -> Sent:
    """A well-framed body that is not a JSON object: answered with an error response to
    the seq found in it, else to seq 0."""
    kind = draw(st.sampled_from(["truncated", "nan", "utf-8", "not an object", "binary", "empty"]))
    event(f"garbage: {kind}")
    if kind == "truncated":
        tail = draw(st.sampled_from([b'"thr', b'"threads", "arguments": {', b"", b'"a" "b"}']))
        body = b'{"seq": %d, "type": "request", "command": %b' % (seq, tail)
        return Sent(body, True, seq, mine=True, garbage=True)
    if kind == "nan":
        return Sent(b'{"seq": %d, "x": NaN}' % seq, True, seq, mine=True, garbage=True)
    if kind == "utf-8":
        body = b'{"seq": %d, "command": "\xc3"}' % seq
        return Sent(body, True, seq, mine=True, garbage=True)
    if kind == "not an object":
        return Sent(encode(draw(not_objects)), True, 0, garbage=True)
    if kind == "binary":
        # Without "seq" in it, no seq can be found.
        data = b"\xff" + draw(st.binary(max_size=30).filter(lambda b: b'"seq"' not in b))
        return Sent(data, True, 0, garbage=True)
    return Sent(b"", True, 0, garbage=True)


@st.composite
def sent_frames(draw: st.DrawFn) -> list[Sent]:
    out: list[Sent] = []
    if draw(st.integers(0, 3)):
        # Initialized first, mostly: before that every request is refused alike.
        arguments = {"adapterID": "fuzz"}
        message = {"seq": 1, "type": "request", "command": "initialize", "arguments": arguments}
        out.append(Sent(encode(message), True, 1, True, "initialize", arguments))
    for seq in range(2, draw(st.integers(2, 17)) + 1):
        kind = draw(st.sampled_from(["request"] * 5 + ["weird", "not a request", "garbage"]))
        if kind == "request":
            out.append(request(draw, seq))
        elif kind == "weird":
            out.append(weird_request(draw))
        elif kind == "not a request":
            out.append(not_a_request(draw))
        else:
            out.append(garbage(draw, seq))
    for sent in out:
        sent.data = frame(sent.data)
    return out


ENDINGS = st.sampled_from(["eof", "disconnect", "bad header", "cut off", "no header end"])


def check_response(sent: Sent, response: Message, initialized: bool) -> bool:
    """Checks the response to a request with a unique seq, in the order of _dispatch's
    checks; returns whether the session is initialized after it."""
    assert response["type"] == "response"
    assert isinstance(response["success"], bool)
    message = response.get("message", "")
    if sent.garbage:
        assert not response["success"]
        assert message.startswith("invalid message: ")
        return initialized
    command, arguments = sent.command, sent.arguments
    assert response["command"] == command
    if response["success"]:
        assert command in WITHOUT_A_BUILD, (sent, response)
    else:
        assert message, response
    if arguments is not ABSENT and arguments is not None and not isinstance(arguments, dict):
        assert message == f"{command}: arguments must be an object"
    elif command not in COMMANDS:
        assert message == f"unsupported request {command!r}"
    elif command == "initialize":
        return initialized or response["success"]
    elif not initialized:
        assert message == f"{command}: send initialize first"
    elif command == "threads":
        assert response["success"] and response["body"] == {"threads": []}
    elif command == "launch":
        assert not response["success"]
        event(f"launch refused: {' '.join(message.split()[:2])}")
    return initialized


FUZZ = settings(
    max_examples=600,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@FUZZ
@given(frames=sent_frames(), ending=ENDINGS)
async def test_fuzz_every_request_is_answered_exactly_once(
    workspace: Path, frames: list[Sent], ending: str
) -> None:
    expected = Counter(key(s.seq) for s in frames if s.answered)
    with no_builds(), anyio.fail_after(5):
        async with adapter(workspace) as client:
            client.last_seq = 1_000_000  # clear of the seqs in frames
            for sent in frames:
                await client.raw.send(sent.data)
            # every answer, before the session ends
            while len(client.responses()) < expected.total():
                assert await client.read() is not None, "the adapter ended early"

            if ending == "eof":
                await client.raw.aclose()
            elif ending == "disconnect":
                response = await client.request("disconnect", {"restart": False})
                expected[key(response["request_seq"])] += 1
                if not response["success"]:  # not initialized: the session goes on
                    assert response["message"] == "disconnect: send initialize first"
                    await client.raw.aclose()
            elif ending == "bad header":
                await client.raw.send(b"Content-Length: nope\r\n\r\n")
            elif ending == "cut off":
                await client.raw.send(b'Content-Length: 40\r\n\r\n{"seq": 1, "type"')
                await client.raw.aclose()
            else:
                await client.raw.send(b"Content-Length: 10\r\n")
                await client.raw.aclose()
            event(f"ending: {ending}")
            await client.finished()

    assert Counter(key(m.get("request_seq")) for m in client.responses()) == expected
    assert all(m.get("type") in ("response", "event") for m in client.received)
    assert all(type(m["request_seq"]) is int for m in client.responses())
    for response in client.responses():
        assert not response.get("message", "").startswith("internal error"), response
    initialized = False
    for sent in frames:
        if sent.mine:
            [response] = client.responses_to(sent.seq)
            initialized = check_response(sent, response, initialized)
    event(f"initialized: {initialized}")
