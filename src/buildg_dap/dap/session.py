"""One launched build under DAP: connect, pin the caches, load the programs, announce
``initialized``, wait for the client's configuration, then run until the build ends,
the client leaves or the builder is lost. Owns the connection and the engines, and
releases them (with every container of the session) on every exit path.

A build for several platforms is one engine per platform, each a DAP thread with its
own build in buildkitd, all on one connection and running side by side: an engine
follows one program, and the Dockerfile frontend makes one program per platform.
The session ends when every platform's build has ended.
"""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import replace

import anyio

from buildg_dap.asyncutil import single_errors
from buildg_dap.buildkit.connection import BuilderError, Connection
from buildg_dap.buildkit.control import worker_platforms
from buildg_dap.buildkit.errors import SolveError
from buildg_dap.buildkit.progress import Progress
from buildg_dap.cache.errors import CacheError
from buildg_dap.command import BuildCommand
from buildg_dap.dap.console import Console, Terminal
from buildg_dap.dap.events import EventRelay
from buildg_dap.dap.inspection import Inspector
from buildg_dap.dap.launch import LaunchArguments, LaunchError
from buildg_dap.dap.output import OutputEvents
from buildg_dap.dap.threads import BuildThread, Prefixed
from buildg_dap.debugger.breakpoints import Breakpoint
from buildg_dap.debugger.engine import Engine
from buildg_dap.debugger.errors import BuilderGone, EngineError, Exited
from buildg_dap.debugger.events import (
    BreakpointChanged,
    BuildEnded,
    BuilderLost,
    Event,
    Finished,
    LogPoint,
    Resumed,
    Stopped,
)
from buildg_dap.debugger.platforms import can_run, support_message
from buildg_dap.debugger.steprecord import write_record

# Given how to reach a thread's engine, the interactive exec of that thread's console.
TerminalFactory = Callable[[Callable[[], Engine]], Terminal]
_STARTUP_ERRORS = (BuilderError, CacheError, LaunchError, EngineError, SolveError)


def _message(error: Exception) -> str:
    return error.message if isinstance(error, SolveError) else str(error)


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
        terminal: TerminalFactory | None,
    ) -> None:  # fmt: skip
        self.args = args
        self.command = command
        self.relay = relay
        self._terminal = terminal
        self.threads: list[BuildThread] = []
        self.current = 1  # the thread that stopped last: where a console command runs
        self.on_fail = True  # the exception filter, for threads that did not load
        self.ready = anyio.Event()  # every program is loaded (or loading failed)
        self.configured = anyio.Event()  # configurationDone arrived
        self.ended = anyio.Event()
        self.failure: str | None = None
        self._scope: anyio.CancelScope | None = None
        self._over = False  # the client was told the build ended
        self._announced: dict[int, tuple[bool, int | None, str | None]] = {}

    @property
    def several(self) -> bool:
        return len(self.threads) > 1

    # --- lifecycle ---------------------------------------------------------------

    async def run(self) -> None:
        """Serve the session until ``end``; sets ``ready`` once every program is loaded
        or loading failed (``failure`` says why when none loaded)."""
        try:
            with anyio.CancelScope() as self._scope:
                conn = await self.command.builder.connect()
                async with conn:
                    names = await self.command.pin_caches(_Lines(self.relay))
                    await self._plan(conn)
                    with single_errors():
                        async with anyio.create_task_group() as tg:
                            for thread in self.threads:
                                tg.start_soon(self._serve, conn, thread, names)
        except _STARTUP_ERRORS as error:
            self.failure = _message(error)
        finally:
            self.ready.set()
            self.ended.set()
            if not self._over:
                # The client left early: the steps completed so far. (A build that ended
                # wrote its record before its exited event.)
                self._record()

    async def _plan(self, conn: Connection) -> None:
        """One thread per platform; say which platforms the builder cannot run."""
        request = self.command.request
        supported: list[str] = []
        if request.platforms:
            # A builder that does not say gets no warning.
            with suppress(SolveError):
                supported = await worker_platforms(conn)
        self.threads = [
            BuildThread(number, platform, can_run(platform, supported))
            for number, platform in enumerate(request.platforms or [""], start=1)
        ]
        if self.several:
            self.relay.platforms = {t.id: t.platform for t in self.threads}
            if request.cache_exports:
                self.relay.output(
                    "important",
                    "each platform is its own build here: every one exports its cache "
                    "(cacheTo) to the same place, and the last to finish wins\n",
                )
        for thread in self.threads:
            if not thread.runnable:
                self.relay.output("important", support_message(thread.platform, supported) + "\n")

    async def _serve(self, conn: Connection, thread: BuildThread, names: list[str]) -> None:
        progress = Progress()
        emit = Prefixed(thread.platform, self.relay.output) if self.several else self.relay.output
        OutputEvents(progress, emit)
        request = self.command.request
        if self.several:
            request = request.model_copy(update={"platforms": [thread.platform]})
        try:
            with single_errors():
                async with Engine.launch(
                    conn, request, self.command.attachables(), progress, names
                ) as engine:
                    self._bind(thread, engine)
                    self._loaded()
                    # Leaving the block ends a build still running in buildkitd (the
                    # client left or terminated), with its containers.
                    await self.ended.wait()
        except (EngineError, SolveError) as error:
            if thread.engine is not None or not self.several:
                raise
            # One platform that does not load (say, its base image lacks it) is that
            # thread's failure; the other platforms go on.
            failure = error if isinstance(error, SolveError) else SolveError(str(error))
            thread.load_failure = failure
            self._loaded()

    def _loaded(self) -> None:
        if not all(t.loaded for t in self.threads):
            return
        if all(t.engine is None for t in self.threads):
            self.failure = "; ".join(
                f"{t.platform}: {t.load_failure.message}"
                for t in self.threads
                if t.load_failure is not None
            )
            self.end()
        self.ready.set()

    def _bind(self, thread: BuildThread, engine: Engine) -> None:
        thread.engine = engine
        self.relay.set_dockerfile(self.command.request.dockerfile)
        thread.inspector = Inspector(engine, self.command.request.dockerfile, thread.id)
        terminal = self._terminal(thread.require) if self._terminal is not None else None
        thread.console = Console(
            engine, self._console_output, terminal, self.args.image,
            lambda: list(self.relay.lines), thread.inspector.hold,
        )  # fmt: skip
        engine.subscribe(lambda event: self.engine_event(thread, event))

    def engine_event(self, thread: BuildThread, event: Event) -> None:
        if isinstance(event, Stopped | Resumed) and thread.inspector is not None:
            thread.inspector.forget()
        if isinstance(event, Stopped):
            self.current = thread.id
        if isinstance(event, BuildEnded):
            self._thread_ended(thread, event.finished)
            return
        if isinstance(event, BuilderLost):
            if not self._over:
                self._over = True
                self.relay.engine_event(event, thread.id)
            return
        if self.several and isinstance(event, LogPoint):
            event = replace(event, message=f"[{thread.platform}] {event.message}")
        if self.several and isinstance(event, BreakpointChanged):
            merged = self.merged([event.breakpoint])[0]
            if not self.announce(merged):
                return
            event = BreakpointChanged(merged)
        self.relay.engine_event(event, thread.id)

    def _thread_ended(self, thread: BuildThread, finished: Finished) -> None:
        if thread.ended or self._over:
            return
        thread.ended, thread.failed = True, finished.error is not None
        if not self.several:
            self._over = True
            self._record()
            self.relay.engine_event(BuildEnded(finished), thread.id)
            return
        if finished.error is not None:
            self.relay.output("stderr", f"{thread.platform}: build failed: {finished.error}\n")
        else:
            self.relay.output("console", f"{thread.platform}: build finished\n")
        self.relay.thread_exited(thread.id)
        if all(t.ended for t in self.threads):
            self._over = True
            self._record()
            self.relay.finish(1 if any(t.failed for t in self.threads) else 0)

    def _record(self) -> None:
        """The per-line step record of every platform's build, for the language server."""
        write_record(
            self.command.request.dockerfile,
            [(t.engine.program, t.engine.origins) for t in self.threads if t.engine is not None],
            lambda message: self.relay.output("console", f"warning: {message}\n"),
        )

    async def _console_output(self, category: str, text: str) -> None:
        self.relay.output(category, text)

    def end(self) -> None:
        self.ended.set()

    def cancel(self) -> None:
        if self._scope is not None:
            self._scope.cancel()

    # --- threads -------------------------------------------------------------------

    def find(self, thread_id: int) -> BuildThread | None:
        return next((t for t in self.threads if t.id == thread_id and t.loaded), None)

    def thread(self, thread_id: int | None = None) -> BuildThread:
        """The thread of that id; without one, the thread that stopped last."""
        wanted = self.current if thread_id is None else thread_id
        thread = self.find(wanted)
        if thread is not None:
            return thread
        if not self.ready.is_set() or self.failure is not None:
            raise EngineError(self.failure or "the build is still loading")
        raise EngineError(f"unknown thread {wanted}")

    def visible(self) -> list[BuildThread]:
        """The threads to list: loaded, and (with several) not ended yet."""
        return [t for t in self.threads if t.loaded and not (self.several and t.ended)]

    def engines(self) -> list[Engine]:
        """Every loaded engine; breakpoints apply to them all."""
        engines = [t.engine for t in self.threads if t.engine is not None]
        if not engines:
            raise EngineError(self.failure or "the build is still loading")
        if all(e.finished is not None for e in engines):
            raise EngineError("the build has finished")
        return engines

    def merged(self, wanted: list[Breakpoint]) -> list[Breakpoint]:
        """Each breakpoint as one line for the client: a breakpoint has the same id in
        every engine (they get the same requests), and counts as verified where any
        engine verified it."""
        out = []
        for bp in wanted:
            same = [
                other
                for thread in self.threads
                if thread.engine is not None
                for other in thread.engine.breakpoints.items()
                if other.id == bp.id
            ]
            out.append(next((b for b in same if b.verified), bp))
        return out

    def announce(self, bp: Breakpoint) -> bool:
        """Record what the client knows of ``bp``; False if it already knows that."""
        state = (bp.verified, bp.line, bp.problem or None)
        if self._announced.get(bp.id) == state:
            return False
        self._announced[bp.id] = state
        return True

    # --- moving the build ---------------------------------------------------------

    async def begin(self, threads: list[BuildThread] | None = None) -> None:
        """After launch or restart: each thread stops at entry or runs to its first
        breakpoint, side by side."""
        async with anyio.create_task_group() as tg:
            for thread in self.threads if threads is None else threads:
                tg.start_soon(self._begin, thread)

    async def _begin(self, thread: BuildThread) -> None:
        if thread.ended:
            return
        stop = thread.stop
        if thread.engine is None:
            if self.on_fail and stop is not None:
                self.engine_event(thread, Stopped(stop))
            else:
                await self.move(thread, lambda e: e.continue_())
        elif self.args.stopOnEntry and stop is not None:
            self.engine_event(thread, Stopped(stop))
        else:
            await self.move(thread, lambda e: e.continue_())

    async def move(self, thread: BuildThread, how: Callable[[Engine], Awaitable[object]]) -> None:
        """Run one engine move; its stop arrives as an event. The build ending, failing
        for good or losing the builder ends the thread (and with the last, the build)."""
        if thread.engine is None and thread.load_failure is not None:
            # Moving on from a platform that did not load ends it with that failure.
            self._thread_ended(thread, Finished(error=thread.load_failure))
            return
        engine = thread.require()
        try:
            await how(engine)
        except Exited:
            pass  # the engine announced the end
        except BuilderGone:
            self.end()
        except (EngineError, SolveError) as error:
            self.relay.output("stderr", f"error: {_message(error)}\n")
            # Nothing moved: say where the program still is.
            stop = engine.stop
            if stop is not None:
                self.relay.engine_event(Stopped(stop), thread.id)

    async def restart(self) -> list[BuildThread]:
        """Reload every platform's build, keeping breakpoints; the threads reloaded. If
        the first does not load, nothing changed."""
        reloaded: list[BuildThread] = []
        for thread in self.threads:
            if thread.engine is None:
                continue
            try:
                await thread.engine.reload()
            except Exception as error:
                where = f"{thread.platform}: " if self.several else ""
                if not reloaded:
                    raise EngineError(
                        f"{where}the build did not reload ({error}); the session goes on "
                        "with the previous Dockerfile: fix it and restart"
                    ) from None
                self.relay.output(
                    "stderr", f"{where}the build did not reload ({error}); this platform "
                    "goes on with the previous Dockerfile\n",
                )  # fmt: skip
                continue
            if thread.ended:
                thread.ended = thread.failed = False
                self.relay.thread_started(thread.id)
            reloaded.append(thread)
        return reloaded
