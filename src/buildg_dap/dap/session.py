"""One launched build under DAP: connect, pin the caches, load the program, announce
``initialized``, wait for the client's configuration, then run until the build ends,
the client leaves or the builder is lost. Owns the connection and the engine, and
releases both (with every container of the session) on every exit path."""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable

import anyio

from buildg_dap.buildkit.connection import BuilderError
from buildg_dap.buildkit.errors import SolveError
from buildg_dap.buildkit.progress import Progress
from buildg_dap.cache.errors import CacheError
from buildg_dap.command import BuildCommand
from buildg_dap.dap.console import Console, Terminal
from buildg_dap.dap.events import EventRelay
from buildg_dap.dap.inspection import Inspector
from buildg_dap.dap.launch import LaunchArguments, LaunchError
from buildg_dap.dap.output import OutputEvents
from buildg_dap.debugger.engine import Engine
from buildg_dap.debugger.errors import BuilderGone, EngineError, Exited
from buildg_dap.debugger.events import Event, Resumed, Stopped


class _Lines(io.StringIO):
    """Text written by the cache pinning, sent on as console output."""

    def __init__(self, relay: EventRelay) -> None:
        super().__init__()
        self._relay = relay

    def write(self, text: str) -> int:
        self._relay.output("console", text)
        return len(text)


class DebugSession:
    def __init__(
        self, args: LaunchArguments, command: BuildCommand, relay: EventRelay,
        terminal: Terminal | None,
    ) -> None:  # fmt: skip
        self.args = args
        self.command = command
        self.relay = relay
        self._terminal = terminal
        self.engine: Engine | None = None
        self.inspector: Inspector | None = None
        self.console: Console | None = None
        self.ready = anyio.Event()  # the program is loaded (or loading failed)
        self.configured = anyio.Event()  # configurationDone arrived
        self.ended = anyio.Event()
        self.failure: str | None = None
        self._scope: anyio.CancelScope | None = None

    # --- lifecycle ---------------------------------------------------------------

    async def run(self) -> None:
        """Serve the session until ``end``; sets ``ready`` once the program is loaded or
        loading failed (``failure`` says why)."""
        progress = Progress()
        OutputEvents(progress, self.relay.output)
        try:
            with anyio.CancelScope() as self._scope:
                conn = await self.command.builder.connect()
                async with conn:
                    names = await self.command.pin_caches(_Lines(self.relay))
                    async with Engine.launch(
                        conn, self.command.request, self.command.attachables(), progress, names
                    ) as engine:
                        self._bind(engine)
                        self.ready.set()
                        # Leaving the block ends a build still running in buildkitd
                        # (the client left or terminated), with its containers.
                        await self.ended.wait()
        except (BuilderError, CacheError, LaunchError, EngineError, SolveError) as error:
            self.failure = error.message if isinstance(error, SolveError) else str(error)
        finally:
            self.ready.set()
            self.ended.set()

    def _bind(self, engine: Engine) -> None:
        self.engine = engine
        self.relay.set_dockerfile(self.command.request.dockerfile)
        self.inspector = Inspector(engine, self.command.request.dockerfile)
        self.console = Console(
            engine, self._console_output, self._terminal, self.args.image,
            lambda: list(self.relay.lines), self.inspector.hold,
        )  # fmt: skip
        engine.subscribe(self._engine_event)

    def _engine_event(self, event: Event) -> None:
        if isinstance(event, Stopped | Resumed) and self.inspector is not None:
            self.inspector.forget()
        self.relay.engine_event(event)

    async def _console_output(self, category: str, text: str) -> None:
        self.relay.output(category, text)

    def end(self) -> None:
        self.ended.set()

    def cancel(self) -> None:
        if self._scope is not None:
            self._scope.cancel()

    # --- moving the build ---------------------------------------------------------

    async def move(self, how: Callable[[Engine], Awaitable[object]]) -> None:
        """Run one engine move; its stop arrives as an event. The build ending, failing
        for good or losing the builder ends the session."""
        engine = self.require()
        try:
            await how(engine)
        except Exited:
            pass  # the engine announced the end (exited + terminated)
        except BuilderGone:
            self.end()
        except (EngineError, SolveError) as error:
            message = error.message if isinstance(error, SolveError) else str(error)
            self.relay.output("stderr", f"error: {message}\n")
            # Nothing moved: say where the program still is.
            stop = engine.stop
            if stop is not None:
                self.relay.engine_event(Stopped(stop))

    def require(self) -> Engine:
        if self.engine is None:
            raise EngineError(self.failure or "the build is still loading")
        if self.engine.finished is not None:
            raise EngineError("the build has finished")
        return self.engine
