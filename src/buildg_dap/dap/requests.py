"""The DAP requests the adapter answers, one ``on_<command>`` method each."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from buildg_dap._dap import protocol as p
from buildg_dap.dap.channel import Channel
from buildg_dap.dap.console import Console, ConsoleError, Terminal
from buildg_dap.dap.events import EventRelay, dap_breakpoint
from buildg_dap.dap.inspection import Inspector, failure_frames, thread_of
from buildg_dap.dap.launch import LaunchError, parse_launch
from buildg_dap.dap.session import DebugSession
from buildg_dap.dap.terminal import TerminalLauncher
from buildg_dap.dap.threads import BuildThread
from buildg_dap.debugger.breakpoints import ON_FAIL, LineSpec
from buildg_dap.debugger.engine import Engine
from buildg_dap.debugger.errors import EngineError

Message = dict[str, Any]


def capabilities() -> p.Capabilities:
    return p.Capabilities(
        supportsConfigurationDoneRequest=True,
        supportsConditionalBreakpoints=True,
        supportsHitConditionalBreakpoints=True,
        supportsLogPoints=True,
        supportsEvaluateForHovers=True,
        supportsStepBack=True,
        supportsRestartRequest=True,
        supportsTerminateRequest=True,
        supportsBreakpointLocationsRequest=True,
        supportsCompletionsRequest=True,
        supportsExceptionInfoRequest=True,
        exceptionBreakpointFilters=[
            p.ExceptionBreakpointsFilter(
                filter=ON_FAIL,
                label="Failed steps",
                description="Stop at a step that fails, with what it left behind",
                default=True,
            )
        ],
    )


class RequestsMixin:
    # Requests whose work can take long: they run as tasks, the loop reads on.
    BACKGROUND = frozenset(
        {"launch", "continue", "next", "stepIn", "stepOut", "restart", "evaluate",
         "variables", "terminate"}
    )  # fmt: skip

    channel: Channel
    relay: EventRelay
    cwd: Path
    client: p.InitializeRequestArguments
    initialized: bool
    session: DebugSession | None

    def start(self, work: Any, *args: Any) -> None:
        raise NotImplementedError  # the adapter runs tasks in its task group

    def respond(
        self, request: Message, body: BaseModel | dict[str, Any] | None = None
    ) -> Awaitable[None]:
        return self.channel.respond(request, body)

    # --- helpers -------------------------------------------------------------------

    def _session(self) -> DebugSession:
        if self.session is None:
            raise EngineError("no build launched yet: send launch first")
        return self.session

    def _thread(self, thread_id: int | None = None) -> BuildThread:
        return self._session().thread(thread_id)

    def _owner(self, number: int, what: str) -> BuildThread:
        """The thread a frame id or variables reference belongs to."""
        session = self._session()
        thread = session.find(thread_of(number))
        if thread is None:
            session.thread()  # raises why there are no threads, if there are none
            raise EngineError(f"unknown {what} {number}")
        return thread

    @staticmethod
    def _inspector(thread: BuildThread) -> Inspector:
        if thread.inspector is None:
            raise EngineError("the build is still loading")
        return thread.inspector

    @staticmethod
    def _console(thread: BuildThread) -> Console:
        if thread.console is None:
            raise EngineError("the build is still loading")
        return thread.console

    @staticmethod
    def _stopped(thread: BuildThread) -> Engine:
        engine = thread.require()
        if engine.running:
            raise EngineError("the build is running: pause it first")
        return engine

    # --- start-up ------------------------------------------------------------------

    async def on_initialize(self, request: Message, args: Message) -> None:
        self.client = p.InitializeRequestArguments.model_validate(args)
        self.relay.progress_reporting = bool(self.client.supportsProgressReporting)
        self.initialized = True
        await self.respond(request, capabilities())

    async def on_launch(self, request: Message, args: Message) -> None:
        if self.session is not None:
            raise LaunchError("this adapter already runs a build; start another session")
        launch = parse_launch(args)
        command = launch.command(self.cwd)
        terminal = None
        if self.client.supportsRunInTerminalRequest:
            terminal = self._terminal
        session = DebugSession(launch, command, self.relay, terminal)
        self.session = session
        self.start(session.run)
        await session.ready.wait()
        if session.failure is not None or not any(t.engine for t in session.threads):
            await self.channel.fail(request, f"cannot start the build: {session.failure}")
            self.relay.queue("terminated", p.TerminatedEventBody())
            return
        self.relay.queue("initialized")
        await session.configured.wait()
        await self.relay.flush()
        await self.respond(request)
        await session.begin()

    def _terminal(self, engine: Callable[[], Engine]) -> Terminal:
        return TerminalLauncher(self.channel, engine, self.start).open

    async def on_configurationDone(self, request: Message, args: Message) -> None:
        self._session().configured.set()
        await self.respond(request)

    # --- breakpoints ---------------------------------------------------------------

    async def on_setBreakpoints(self, request: Message, args: Message) -> None:
        parsed = p.SetBreakpointsArguments.model_validate(args)
        specs = [
            LineSpec(b.line, b.condition or "", b.hitCondition or "", b.logMessage or "")
            for b in parsed.breakpoints or []
        ] or [LineSpec(line) for line in parsed.lines or []]
        session = self._session()
        engines = session.engines()
        source = self.relay.source
        wanted = self.cwd / parsed.source.path if parsed.source.path else None
        # The editor names the file by the path it opened (a symlinked folder stays as it
        # is); the build's Dockerfile path has its symlinks resolved.
        if wanted is not None and wanted.resolve() != engines[0].request.dockerfile.resolve():
            message = f"{wanted.name} is not the Dockerfile being debugged"
            body = [p.Breakpoint(verified=False, line=s.line, message=message) for s in specs]
        else:
            # Every platform's engine gets the same lines; the client sees each once,
            # verified where any platform's program has a step for it.
            per_engine = [e.breakpoints.set_lines(e.prog, specs) for e in engines]
            bps = [
                next((b for b in same if b.verified), same[0])
                for same in zip(*per_engine, strict=True)
            ]
            for bp in bps:
                session.announce(bp)
            body = [dap_breakpoint(bp, source) for bp in bps]
        await self.respond(request, p.SetBreakpointsResponseBody(breakpoints=body))

    async def on_setExceptionBreakpoints(self, request: Message, args: Message) -> None:
        parsed = p.SetExceptionBreakpointsArguments.model_validate(args)
        unknown = [f for f in parsed.filters if f != ON_FAIL]
        if unknown:
            raise EngineError(f"unknown exception filter {unknown[0]!r}: only {ON_FAIL!r}")
        session = self._session()
        session.on_fail = ON_FAIL in parsed.filters
        for engine in session.engines():
            engine.breakpoints.on_fail = session.on_fail
        await self.respond(request, {"breakpoints": [{"verified": True}] * len(parsed.filters)})

    async def on_breakpointLocations(self, request: Message, args: Message) -> None:
        parsed = p.BreakpointLocationsArguments.model_validate(args)
        last = parsed.endLine or parsed.line
        lines = sorted(
            {
                s.line
                for engine in self._session().engines()
                for s in engine.prog.steps
                if parsed.line <= s.line <= last
            }
        )
        locations = [p.BreakpointLocation(line=line) for line in lines]
        await self.respond(request, p.BreakpointLocationsResponseBody(breakpoints=locations))

    # --- state ---------------------------------------------------------------------

    async def on_threads(self, request: Message, args: Message) -> None:
        visible = self.session.visible() if self.session is not None else []
        threads = [p.Thread(id=t.id, name=t.name) for t in visible]
        await self.respond(request, p.ThreadsResponseBody(threads=threads))

    async def on_stackTrace(self, request: Message, args: Message) -> None:
        parsed = p.StackTraceArguments.model_validate(args)
        thread = self._thread(parsed.threadId)
        if thread.engine is None and thread.load_failure is not None:
            frames = failure_frames(thread.id, thread.load_failure, self.relay.source)
        else:
            stop = self._stopped(thread).stop
            if stop is None:
                raise EngineError("the build has finished")
            frames = self._inspector(thread).stack(stop)
        await self.respond(
            request, p.StackTraceResponseBody(stackFrames=frames, totalFrames=len(frames))
        )

    async def on_scopes(self, request: Message, args: Message) -> None:
        parsed = p.ScopesArguments.model_validate(args)
        thread = self._owner(parsed.frameId, "frame")
        scopes = []
        if thread.engine is not None or thread.load_failure is None:
            self._stopped(thread)
            scopes = self._inspector(thread).scopes(parsed.frameId)
        await self.respond(request, p.ScopesResponseBody(scopes=scopes))

    async def on_variables(self, request: Message, args: Message) -> None:
        parsed = p.VariablesArguments.model_validate(args)
        thread = self._owner(parsed.variablesReference, "variables reference")
        self._stopped(thread)
        variables = await self._inspector(thread).variables(parsed.variablesReference)
        start = parsed.start or 0
        if parsed.count:
            variables = variables[start : start + parsed.count]
        await self.respond(request, p.VariablesResponseBody(variables=variables))

    async def on_source(self, request: Message, args: Message) -> None:
        text = self._session().engines()[0].prog.source.data.decode("utf-8", "replace")
        body = p.SourceResponseBody(content=text, mimeType="text/x-dockerfile")
        await self.respond(request, body)

    async def on_exceptionInfo(self, request: Message, args: Message) -> None:
        parsed = p.ExceptionInfoArguments.model_validate(args)
        thread = self._thread(parsed.threadId)
        stop = self._stopped(thread).stop if thread.engine is not None else thread.stop
        if stop is None or stop.error is None:
            raise EngineError("not stopped at a failed step")
        code = stop.exit_code
        await self.respond(
            request,
            p.ExceptionInfoResponseBody(
                exceptionId="step failed" if code is None else f"exit code {code}",
                description=stop.error.message,
                breakMode="always",
                details=p.ExceptionDetails(
                    message=stop.error.message,
                    typeName="step failed",
                    evaluateName=stop.step.label() if stop.step else None,
                ),
            ),
        )

    # --- moving --------------------------------------------------------------------

    async def _move(self, request: Message, args: Message, how: Any) -> None:
        session = self._session()
        thread = self._thread(args.get("threadId"))
        if thread.engine is not None or thread.load_failure is None:
            self._stopped(thread)
        await self.respond(request, {"allThreadsContinued": not session.several})
        await session.move(thread, how)

    async def on_continue(self, request: Message, args: Message) -> None:
        await self._move(request, args, lambda e: e.continue_())

    async def on_next(self, request: Message, args: Message) -> None:
        await self._move(request, args, lambda e: e.next(same_stage=True))

    async def on_stepIn(self, request: Message, args: Message) -> None:
        await self._move(request, args, lambda e: e.next())

    async def on_stepOut(self, request: Message, args: Message) -> None:
        await self._move(request, args, lambda e: e.step_out())

    async def on_stepBack(self, request: Message, args: Message) -> None:
        engine = self._stopped(self._thread(args.get("threadId")))
        await self.respond(request)
        engine.step_back()

    async def on_reverseContinue(self, request: Message, args: Message) -> None:
        engine = self._stopped(self._thread(args.get("threadId")))
        await self.respond(request)
        engine.reverse_continue()

    async def on_pause(self, request: Message, args: Message) -> None:
        self._thread(args.get("threadId")).require().pause()
        await self.respond(request)

    async def on_restart(self, request: Message, args: Message) -> None:
        session = self._session()
        if any(engine.running for engine in session.engines()):
            raise EngineError("the build is running: pause it first")
        reloaded = await session.restart()
        await self.respond(request)
        await session.begin(reloaded)

    async def on_terminate(self, request: Message, args: Message) -> None:
        session = self._session()
        await self.respond(request)
        session.end()
        await session.ended.wait()
        self.relay.queue("terminated", p.TerminatedEventBody())

    async def on_disconnect(self, request: Message, args: Message) -> None:
        if self.session is not None:
            self.session.end()
        await self.relay.flush()
        await self.respond(request)

    # --- the console ---------------------------------------------------------------

    async def on_evaluate(self, request: Message, args: Message) -> None:
        parsed = p.EvaluateArguments.model_validate(args)
        # A frame names its thread; without one, the thread that stopped last.
        thread = self._owner(parsed.frameId, "frame") if parsed.frameId else self._thread()
        engine = self._stopped(thread)
        frames = self._inspector(thread)
        step = frames.frame_step(parsed.frameId) if parsed.frameId else None
        if step is None and engine.stop is not None:
            step = engine.stop.step
        console = self._console(thread)
        if parsed.context in ("hover", "watch", "variables"):
            if step is None:
                raise ConsoleError("not stopped at a step")
            value = await console.value(step, parsed.expression)
            await self.respond(request, p.EvaluateResponseBody(result=value, variablesReference=0))
            return
        answer = await console.run(parsed.expression, step)
        await self.relay.flush()
        await self.respond(
            request,
            p.EvaluateResponseBody(
                result=answer.result, variablesReference=answer.variables_reference
            ),
        )

    async def on_completions(self, request: Message, args: Message) -> None:
        parsed = p.CompletionsArguments.model_validate(args)
        targets = [p.CompletionItem(label=name) for name in Console.completions(parsed.text)]
        await self.respond(request, p.CompletionsResponseBody(targets=targets))


__all__ = ["RequestsMixin"]
