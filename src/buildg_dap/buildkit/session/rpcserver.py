"""gRPC calls served on our HTTP/2 streams (the gRPC over HTTP/2 wire format).

``h2`` covers HTTP/2 itself; the gRPC layer on top (length-prefixed messages, status
in trailers, metadata) is here.

A service is offered as an :class:`Attachable`: its descriptor and a servicer whose
methods have the grpc.aio shape (``(request, context)``; coroutines, or async generators
for streamed replies). :class:`CallContext` provides the part of grpc.aio's servicer
context the session services use, so they read like ordinary grpc.aio servicers.
"""

from __future__ import annotations

import base64
import inspect
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

import grpc
from google.protobuf.descriptor import ServiceDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from grpc import aio

from buildg_dap.buildkit.session.h2server import Stream

_RESPONSE_HEADERS = (("content-type", "application/grpc"),)
_SMALL = 64 * 1024  # below this a message and its prefix go out as one piece
MAX_MESSAGE = 64 * 1024 * 1024  # what one request message may be


@dataclass(frozen=True)
class Attachable:
    """One service offered to buildkitd. With ``raw``, its methods read and write bytes
    (a method that carries more than one message type parses them itself)."""

    descriptor: ServiceDescriptor
    servicer: object
    raw: bool = False

    def method_urls(self) -> list[str]:
        return [f"/{self.descriptor.full_name}/{m.name}" for m in self.descriptor.methods]


@dataclass(frozen=True)
class Method:
    handler: Callable[[Any, CallContext], Any] | None  # None: the servicer lacks it
    request_streaming: bool
    response_streaming: bool
    deserialize: Callable[[bytes], Any] | None
    serialize: Callable[[Any], bytes] | None


def _serialize(message: Message) -> bytes:
    return message.SerializeToString()


def method_table(attachables: Sequence[Attachable]) -> dict[str, Method]:
    """Every method of ``attachables`` by its URL path (``/package.Service/Method``)."""
    table: dict[str, Method] = {}
    for attachable in attachables:
        for method, url in zip(
            attachable.descriptor.methods, attachable.method_urls(), strict=True
        ):
            message = GetMessageClass(method.input_type)
            table[url] = Method(
                handler=getattr(attachable.servicer, method.name, None),
                request_streaming=method.client_streaming,
                response_streaming=method.server_streaming,
                deserialize=None if attachable.raw else message.FromString,
                serialize=None if attachable.raw else _serialize,
            )
    return table


class Abort(Exception):
    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(details)
        self.code = code
        self.details = details


class CallContext:
    """One call: its metadata, its request messages, and the replies written to it."""

    def __init__(self, stream: Stream, method: Method | None) -> None:
        self._stream = stream
        self._method = method
        self._buffer = bytearray()
        self.headers_sent = False

    def invocation_metadata(self) -> tuple[tuple[str, str | bytes], ...]:
        metadata: list[tuple[str, str | bytes]] = []
        for key, value in self._stream.headers:
            if key.startswith(":") or key in ("content-type", "te"):
                continue
            if key.endswith("-bin"):
                metadata.append((key, base64.b64decode(value + "=" * (-len(value) % 4))))
            else:
                metadata.append((key, value))
        return tuple(metadata)

    async def read(self) -> Any:
        """The next request message, or ``grpc.aio.EOF`` after the last."""
        buffer = self._buffer
        while True:
            if len(buffer) >= 5:
                length = int.from_bytes(buffer[1:5])
                if length > MAX_MESSAGE:
                    raise Abort(grpc.StatusCode.RESOURCE_EXHAUSTED, f"message of {length} bytes")
                if len(buffer) >= 5 + length:
                    compressed = buffer[0]
                    payload = bytes(buffer[5 : 5 + length])
                    del buffer[: 5 + length]
                    if compressed:
                        raise Abort(grpc.StatusCode.UNIMPLEMENTED, "compressed messages")
                    method = self._method
                    if method is None or method.deserialize is None:
                        return payload
                    return method.deserialize(payload)
            chunk = await self._stream.receive()
            if chunk is None:
                if buffer:
                    raise Abort(grpc.StatusCode.INTERNAL, "request ended inside a message")
                return aio.EOF
            buffer += chunk

    async def write(self, message: Any) -> None:
        method = self._method
        payload: bytes = method.serialize(message) if method and method.serialize else message
        await self.write_serialized(payload)

    async def write_serialized(self, payload: bytes) -> None:
        """Write a reply already in its wire form."""
        if not self.headers_sent:
            self._stream.send_headers(((":status", "200"), *_RESPONSE_HEADERS))
            self.headers_sent = True
        prefix = b"\x00" + len(payload).to_bytes(4)
        if len(payload) < _SMALL:
            self._stream.send_data(prefix + payload)
        else:
            self._stream.send_data(prefix)
            self._stream.send_data(payload)
        await self._stream.flushed()

    async def abort(self, code: grpc.StatusCode, details: str = "") -> NoReturn:
        raise Abort(code, details)


async def _requests(context: CallContext) -> AsyncIterator[Any]:
    while (message := await context.read()) is not aio.EOF:
        yield message


async def _invoke(method: Method, context: CallContext) -> None:
    if method.handler is None:
        raise Abort(grpc.StatusCode.UNIMPLEMENTED, "method not implemented")
    if method.request_streaming:
        request: Any = _requests(context)
    elif (request := await context.read()) is aio.EOF:
        raise Abort(grpc.StatusCode.INTERNAL, "no request message")
    result = method.handler(request, context)
    if inspect.isasyncgen(result):
        async for reply in result:
            await context.write(reply)
        return
    reply = await result
    if not method.response_streaming:
        if reply is None:
            raise Abort(grpc.StatusCode.INTERNAL, "the handler returned no reply")
        await context.write(reply)


def _percent_encode(text: str) -> str:
    # grpc-message: printable ASCII except '%' as is, every other byte as %XX.
    return "".join(
        chr(b) if 0x20 <= b <= 0x7E and b != 0x25 else f"%{b:02X}" for b in text.encode()
    )


async def serve_call(stream: Stream, methods: Mapping[str, Method]) -> None:
    """Run the call on ``stream`` and end it with its status."""
    path = stream.path
    method = methods.get(path)
    context = CallContext(stream, method)
    code, details = grpc.StatusCode.OK, ""
    try:
        if method is None:
            raise Abort(grpc.StatusCode.UNIMPLEMENTED, f"unknown method {path}")
        await _invoke(method, context)
    except Abort as exc:
        code, details = exc.code, exc.details
    except Exception as exc:
        code, details = grpc.StatusCode.UNKNOWN, f"unexpected {type(exc).__name__}: {exc}"
    trailers = [("grpc-status", str(code.value[0]))]
    if details:
        trailers.append(("grpc-message", _percent_encode(details)))
    if not context.headers_sent:  # a trailers-only response
        trailers = [(":status", "200"), *_RESPONSE_HEADERS, *trailers]
    stream.send_trailers(trailers)
