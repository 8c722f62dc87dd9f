"""BuildKit's gRPC errors, with the typed details it attaches (failed op, source range)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import grpc
from google.protobuf import any_pb2, json_format
from google.protobuf.message import Message
from grpc import aio

from buildg_dap._proto.buildkit import errdefs_pb2, gateway_pb2, ops_pb2
from buildg_dap._proto.google.rpc import status_pb2

_DETAILS_KEY = "grpc-status-details-bin"
_EXIT_CODE = re.compile(r"exit code: (\d+)")


@dataclass
class SolveError(Exception):
    """A failed gateway or control call.

    ``solve`` is present when an op failed: its inputs and mounts are still alive as
    result ids (usable as container mounts) until the build ends.
    """

    message: str
    code: grpc.StatusCode = grpc.StatusCode.UNKNOWN
    status: status_pb2.Status | None = None
    solve: errdefs_pb2.Solve | None = None
    sources: list[errdefs_pb2.Source] = field(default_factory=list)
    vertex: str = ""
    process_exit: int | None = None

    def __str__(self) -> str:
        return self.message

    @property
    def exit_code(self) -> int | None:
        if self.process_exit is not None:
            return self.process_exit
        match = _EXIT_CODE.search(self.message)
        return int(match.group(1)) if match else None

    @property
    def failed_op(self) -> ops_pb2.Op | None:
        return self.solve.op if self.solve is not None and self.solve.HasField("op") else None


def _type_name(type_url: str) -> str:
    return type_url.rsplit("/", 1)[-1].removesuffix("+json")


def _unpack(detail: any_pb2.Any, message: Message) -> None:
    """Details come as protobuf, or as protojson when the type URL ends in ``+json``."""
    if detail.type_url.endswith("+json"):
        json_format.Parse(detail.value, message, ignore_unknown_fields=True)
    else:
        message.ParseFromString(detail.value)


def from_status(status: status_pb2.Status, code: grpc.StatusCode | None = None) -> SolveError:
    error = SolveError(
        message=status.message,
        code=code or _code(status.code),
        status=status,
    )
    for detail in status.details:
        name = _type_name(detail.type_url)
        if name == "errdefs.Solve":
            error.solve = errdefs_pb2.Solve()
            _unpack(detail, error.solve)
        elif name == "errdefs.Source":
            source = errdefs_pb2.Source()
            _unpack(detail, source)
            error.sources.append(source)
        elif name == "errdefs.Vertex":
            vertex = errdefs_pb2.Vertex()
            _unpack(detail, vertex)
            error.vertex = vertex.digest
        elif name == "gatewayapi.ExitMessage":
            exit_message = gateway_pb2.ExitMessage()
            _unpack(detail, exit_message)
            error.process_exit = exit_message.Code
    return error


def _code(value: int) -> grpc.StatusCode:
    for code in grpc.StatusCode:
        if code.value[0] == value:
            return code
    return grpc.StatusCode.UNKNOWN


def from_rpc(exc: aio.AioRpcError) -> SolveError:
    for key, value in exc.trailing_metadata() or ():
        if key == _DETAILS_KEY and isinstance(value, bytes):
            status = status_pb2.Status()
            status.ParseFromString(value)
            return from_status(status, exc.code())
    return SolveError(message=exc.details() or exc.code().name, code=exc.code())


def to_status(error: SolveError) -> status_pb2.Status:
    """The status to hand back through Return, keeping BuildKit's details."""
    if error.status is not None:
        return error.status
    return status_pb2.Status(code=error.code.value[0], message=error.message)
