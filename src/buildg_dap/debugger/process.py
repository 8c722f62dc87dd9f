"""Run one process in a fresh gateway container and release the container afterwards.

The ExecProcess stream: Init, then Started from the daemon; stdin as fd 0 File messages
closed by EOF; stdout/stderr come back as File messages; Exit carries the code; Done is
the last message for the process. Resize and Signal may be sent at any time.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field

import anyio
import grpc
from anyio.abc import ObjectReceiveStream
from grpc import aio

from buildg_dap._proto.buildkit import gateway_pb2, ops_pb2
from buildg_dap.buildkit.errors import SolveError, from_status
from buildg_dap.buildkit.gateway import ExecCall, Gateway

Output = Callable[[bytes], Awaitable[None]]
# BuildKit's code when a process ended without an exit status (e.g. it could not start).
UNKNOWN_EXIT = 255


@dataclass(frozen=True)
class Resize:
    rows: int
    cols: int


@dataclass(frozen=True)
class Signal:
    name: str  # "INT", "TERM", ...


Control = Resize | Signal


@dataclass
class ProcessIO:
    """Where a process's streams go. ``stdin`` None means an empty stdin."""

    stdout: Output
    stderr: Output
    stdin: AsyncIterator[bytes] | None = None
    tty: bool = False
    control: ObjectReceiveStream[Control] | None = None


@dataclass
class ProcessSpec:
    args: list[str]
    env: list[str] = field(default_factory=list)
    cwd: str = "/"
    user: str = ""
    security: int = ops_pb2.SANDBOX
    secret_env: list[ops_pb2.SecretEnv] = field(default_factory=list)

    def meta(self) -> ops_pb2.Meta:
        return ops_pb2.Meta(args=self.args, env=self.env, cwd=self.cwd or "/", user=self.user)


class ExecFailed(Exception):
    """The process could not be run at all (bad executable, container error, ...)."""


@asynccontextmanager
async def container(
    gateway: Gateway, request: gateway_pb2.NewContainerRequest
) -> AsyncIterator[str]:
    """A container that exists exactly for the duration of the block."""
    container_id = secrets.token_hex(12)
    request.ContainerID = container_id
    await gateway.new_container(request)
    try:
        yield container_id
    finally:
        # A gone build has already taken its containers with it.
        with anyio.CancelScope(shield=True), anyio.move_on_after(30), suppress(SolveError):
            await gateway.release_container(container_id)


class _Stream:
    """Serialises writes to one ExecProcess call."""

    def __init__(self, call: ExecCall, pid: str) -> None:
        self.call = call
        self.pid = pid
        self._lock = anyio.Lock()

    async def send(self, **kind: object) -> None:
        async with self._lock:
            await self.call.write(gateway_pb2.ExecMessage(ProcessID=self.pid, **kind))  # type: ignore[arg-type]


class _Stdin:
    """Feeds stdin until it ends or the process exits; either way fd 0 gets its EOF,
    which BuildKit waits for before it reports the process Done."""

    def __init__(self, stream: _Stream, source: AsyncIterator[bytes] | None) -> None:
        self._stream = stream
        self._source = source
        self._scope = anyio.CancelScope()
        self._closed = False

    async def feed(self) -> None:
        with self._scope:
            if self._source is not None:
                async for chunk in self._source:
                    if chunk:
                        await self._stream.send(File=gateway_pb2.FdMessage(Fd=0, Data=chunk))
        await self.close()

    async def close(self) -> None:
        self._scope.cancel()
        if not self._closed:
            self._closed = True
            await self._stream.send(File=gateway_pb2.FdMessage(Fd=0, EOF=True))


async def _forward_control(stream: _Stream, control: ObjectReceiveStream[Control]) -> None:
    async for event in control:
        if isinstance(event, Resize):
            await stream.send(Resize=gateway_pb2.ResizeMessage(Rows=event.rows, Cols=event.cols))
        else:
            await stream.send(Signal=gateway_pb2.SignalMessage(Name=event.name))


async def _read(call: ExecCall) -> gateway_pb2.ExecMessage | None:
    message = await call.read()
    return None if message is aio.EOF else message  # type: ignore[return-value]


async def run_process(
    gateway: Gateway, container_id: str, spec: ProcessSpec, io: ProcessIO
) -> int:
    """Run ``spec`` in the container and return its exit code."""
    pid = f"{container_id}:{secrets.token_hex(8)}"
    call = gateway.exec_process()
    stream = _Stream(call, pid)
    init = gateway_pb2.InitMessage(
        ContainerID=container_id,
        Meta=spec.meta(),
        Fds=[0, 1] if io.tty else [0, 1, 2],
        Tty=io.tty,
        Security=spec.security,  # type: ignore[arg-type]
        secretenv=spec.secret_env,
    )
    try:
        await stream.send(Init=init)
        first = await _read(call)
        if first is None or first.WhichOneof("Input") != "Started":
            raise ExecFailed(f"process did not start in container {container_id}")
        code = UNKNOWN_EXIT
        stdin = _Stdin(stream, io.stdin)
        async with anyio.create_task_group() as tg:
            tg.start_soon(stdin.feed)
            if io.control is not None:
                tg.start_soon(_forward_control, stream, io.control)
            while True:
                message = await _read(call)
                if message is None:
                    break
                kind = message.WhichOneof("Input")
                if kind == "File":
                    sink = io.stderr if message.File.Fd == 2 else io.stdout
                    if message.File.Data:
                        await sink(message.File.Data)
                elif kind == "Exit":
                    await stdin.close()
                    code = message.Exit.Code
                    if message.Exit.HasField("Error") and message.Exit.Error.code and code == 0:
                        raise ExecFailed(from_status(message.Exit.Error).message)
                    if code == UNKNOWN_EXIT and message.Exit.Error.message:
                        raise ExecFailed(message.Exit.Error.message)
                elif kind == "Done":
                    break
            tg.cancel_scope.cancel()
        return code
    except aio.AioRpcError as exc:
        if exc.code() == grpc.StatusCode.CANCELLED:
            raise
        raise ExecFailed(exc.details() or exc.code().name) from None
    finally:
        call.cancel()
