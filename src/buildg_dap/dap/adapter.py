"""The debug adapter: one DAP connection, one debug session of one Dockerfile build.

Requests are read in order; those that move the build (continue, next, …), start it
(launch, restart) or run a process (evaluate ``exec``) run as tasks, so threads,
stackTrace, pause or disconnect are answered while a step is being solved. Engine
events become DAP events through one queue, in the order they happened. The adapter
holds no build logic: everything it shows or does comes from the engine.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import TaskGroup
from pydantic import ValidationError

from buildg_dap._dap import protocol as p
from buildg_dap.dap.channel import Channel
from buildg_dap.dap.console import ConsoleError
from buildg_dap.dap.events import EventRelay
from buildg_dap.dap.launch import LaunchError
from buildg_dap.dap.requests import RequestsMixin
from buildg_dap.dap.session import DebugSession
from buildg_dap.dap.wire import FramingError, MessageReader, MessageWriter
from buildg_dap.debugger.breakpoints import BreakpointError
from buildg_dap.debugger.errors import EngineError
from buildg_dap.debugger.process import ExecFailed

log = logging.getLogger("buildg_dap.dap")
Message = dict[str, Any]
Handler = Callable[[Message, dict[str, Any]], Awaitable[None]]
# Errors a request may end with that are the user's to read, not a fault of ours.
USER_ERRORS = (EngineError, ConsoleError, LaunchError, BreakpointError, ExecFailed)


class Adapter(RequestsMixin):
    def __init__(self, reader: MessageReader, writer: MessageWriter, *, cwd: Path) -> None:
        self.reader = reader
        self.channel = Channel(writer)
        self.cwd = cwd
        self.client = p.InitializeRequestArguments(adapterID="")
        self.initialized = False
        self.session: DebugSession | None = None
        self.relay = EventRelay(self.channel)
        self._tg: TaskGroup | None = None

    # --- the connection ------------------------------------------------------------

    async def run(self) -> None:
        """Serve until the client disconnects or goes away; every build, container and
        task of the session is released before this returns."""
        async with anyio.create_task_group() as tg:
            self._tg = tg
            tg.start_soon(self.relay.pump)
            try:
                await self._read_loop()
            finally:
                tg.cancel_scope.cancel()

    async def _read_loop(self) -> None:
        while True:
            try:
                message = await self.reader.read()
            except FramingError as error:
                if not error.recoverable:
                    log.warning("closing the connection: %s", error)
                    return
                request = {"seq": error.seq or 0, "command": ""}
                await self.channel.fail(request, f"invalid message: {error}", show=False)
                continue
            except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError):
                return
            if message is None:
                return  # the client went away: cancel everything
            kind = message.get("type")
            if kind == "response":
                self.channel.answered(message)
            elif kind == "request":
                if await self._dispatch(message):
                    return
            else:
                log.warning("ignoring a message of type %r", kind)

    async def _dispatch(self, request: Message) -> bool:
        """Handle one request; True when the connection is over (disconnect)."""
        command = request.get("command")
        arguments = request.get("arguments")
        seq = request.get("seq")
        if not isinstance(command, str) or not isinstance(seq, int) or isinstance(seq, bool):
            await self.channel.fail(request, "a request needs an integer seq and a command")
            return False
        if arguments is None:
            arguments = {}
        if not isinstance(arguments, dict):
            await self.channel.fail(request, f"{command}: arguments must be an object")
            return False
        handler: Handler | None = getattr(self, f"on_{command}", None)
        if handler is None:
            await self.channel.fail(request, f"unsupported request {command!r}")
            return False
        if not self.initialized and command != "initialize":
            await self.channel.fail(request, f"{command}: send initialize first")
            return False
        if self.initialized and command == "initialize":
            await self.channel.fail(request, "initialize: this connection is initialized already")
            return False
        if command in self.BACKGROUND:
            assert self._tg is not None
            self._tg.start_soon(self._guarded, handler, request, arguments)
        else:
            await self._guarded(handler, request, arguments)
        return command == "disconnect"

    async def _guarded(self, handler: Handler, request: Message, arguments: Message) -> None:
        try:
            await handler(request, arguments)
        except USER_ERRORS as error:
            await self.channel.fail(request, str(error))
        except ValidationError as error:
            await self.channel.fail(request, _invalid(str(request.get("command")), error))
        except Exception as error:  # a fault of ours: answer, log, keep serving
            log.exception("request %s failed", request.get("command"))
            await self.channel.fail(request, f"internal error: {error}")

    def start(self, work: Callable[..., Coroutine[Any, Any, None]], *args: Any) -> None:
        assert self._tg is not None
        self._tg.start_soon(self._task, work, *args)

    async def _task(self, work: Callable[..., Coroutine[Any, Any, None]], *args: Any) -> None:
        """A background task that fails says so and leaves the connection serving."""
        try:
            await work(*args)
        except Exception as error:
            log.exception("background task failed")
            self.relay.output("important", f"internal error: {error}\n")


def _invalid(command: str, error: ValidationError) -> str:
    problems = []
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"])
        problems.append(f"{field}: {item['msg']}")
    return f"{command}: invalid arguments ({'; '.join(problems)})"


__all__ = ["Adapter"]
