"""The DAP requests the adapter answers, one ``on_<command>`` method each."""

from __future__ import annotations

from collections.abc import Awaitable
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from buildg_dap._dap import protocol as p
from buildg_dap.dap.channel import Channel
from buildg_dap.dap.console import Console, ConsoleError
from buildg_dap.dap.events import THREAD_ID, EventRelay, dap_breakpoint
from buildg_dap.dap.inspection import Inspector, thread
from buildg_dap.dap.launch import LaunchError, parse_launch
from buildg_dap.dap.session import DebugSession
from buildg_dap.dap.terminal import TerminalLauncher
from buildg_dap.debugger.breakpoints import ON_FAIL, LineSpec
from buildg_dap.debugger.engine import Engine
from buildg_dap.debugger.errors import EngineError
from buildg_dap.debugger.events import Stopped

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

    def _engine(self) -> Engine:
        return self._session().require()

    def _inspector(self) -> Inspector:
        inspector = self._session().inspector
        if inspector is None:
            raise EngineError("the build is still loading")
        return inspector

    def _console(self) -> Console:
        console = self._session().console
        if console is None:
            raise EngineError("the build is still loading")
        return console

    def _stopped(self) -> Engine:
        engine = self._engine()
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
            terminal = TerminalLauncher(self.channel, self._engine, self.start).open
        session = DebugSession(launch, command, self.relay, terminal)
        self.session = session
        self.start(session.run)
        await session.ready.wait()
        if session.failure is not None or session.engine is None:
            await self.channel.fail(request, f"cannot start the build: {session.failure}")
            self.relay.queue("terminated", p.TerminatedEventBody())
            return
        self.relay.queue("initialized")
        await session.configured.wait()
        await self.relay.flush()
        await self.respond(request)
        await self._begin(session)

    async def _begin(self, session: DebugSession) -> None:
        """After launch or restart: stop at entry, or run to the first breakpoint."""
        engine = session.require()
        if session.args.stopOnEntry and engine.stop is not None:
            session._engine_event(Stopped(engine.stop))
        else:
            await session.move(lambda e: e.continue_())

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
        engine = self._engine()
        source = self.relay.source
        wanted = self.cwd / parsed.source.path if parsed.source.path else None
        if wanted is not None and wanted != engine.request.dockerfile:
            message = f"{wanted.name} is not the Dockerfile being debugged"
            body = [p.Breakpoint(verified=False, line=s.line, message=message) for s in specs]
        else:
            bps = engine.breakpoints.set_lines(engine.prog, specs)
            body = [dap_breakpoint(bp, source) for bp in bps]
        await self.respond(request, p.SetBreakpointsResponseBody(breakpoints=body))

    async def on_setExceptionBreakpoints(self, request: Message, args: Message) -> None:
        parsed = p.SetExceptionBreakpointsArguments.model_validate(args)
        unknown = [f for f in parsed.filters if f != ON_FAIL]
        if unknown:
            raise EngineError(f"unknown exception filter {unknown[0]!r}: only {ON_FAIL!r}")
        self._engine().breakpoints.on_fail = ON_FAIL in parsed.filters
        await self.respond(request, {"breakpoints": [{"verified": True}] * len(parsed.filters)})

    async def on_breakpointLocations(self, request: Message, args: Message) -> None:
        parsed = p.BreakpointLocationsArguments.model_validate(args)
        last = parsed.endLine or parsed.line
        lines = sorted({s.line for s in self._engine().prog.steps if parsed.line <= s.line <= last})
        locations = [p.BreakpointLocation(line=line) for line in lines]
        await self.respond(request, p.BreakpointLocationsResponseBody(breakpoints=locations))

    # --- state ---------------------------------------------------------------------

    async def on_threads(self, request: Message, args: Message) -> None:
        engine = self.session.engine if self.session is not None else None
        threads = [thread(engine)] if engine is not None else []
        await self.respond(request, p.ThreadsResponseBody(threads=threads))

    async def on_stackTrace(self, request: Message, args: Message) -> None:
        p.StackTraceArguments.model_validate(args)
        engine = self._stopped()
        stop = engine.stop
        if stop is None:
            raise EngineError("the build has finished")
        frames = self._inspector().stack(stop)
        await self.respond(
            request, p.StackTraceResponseBody(stackFrames=frames, totalFrames=len(frames))
        )

    async def on_scopes(self, request: Message, args: Message) -> None:
        parsed = p.ScopesArguments.model_validate(args)
        self._stopped()
        await self.respond(
            request, p.ScopesResponseBody(scopes=self._inspector().scopes(parsed.frameId))
        )

    async def on_variables(self, request: Message, args: Message) -> None:
        parsed = p.VariablesArguments.model_validate(args)
        self._stopped()
        variables = await self._inspector().variables(parsed.variablesReference)
        start = parsed.start or 0
        if parsed.count:
            variables = variables[start : start + parsed.count]
        await self.respond(request, p.VariablesResponseBody(variables=variables))

    async def on_source(self, request: Message, args: Message) -> None:
        text = self._engine().prog.source.data.decode("utf-8", "replace")
        body = p.SourceResponseBody(content=text, mimeType="text/x-dockerfile")
        await self.respond(request, body)

    async def on_exceptionInfo(self, request: Message, args: Message) -> None:
        stop = self._stopped().stop
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

    async def _move(self, request: Message, how: Any) -> None:
        session = self._session()
        self._stopped()
        await self.respond(request, {"allThreadsContinued": True})
        await session.move(how)

    async def on_continue(self, request: Message, args: Message) -> None:
        await self._move(request, lambda e: e.continue_())

    async def on_next(self, request: Message, args: Message) -> None:
        await self._move(request, lambda e: e.next(same_stage=True))

    async def on_stepIn(self, request: Message, args: Message) -> None:
        await self._move(request, lambda e: e.next())

    async def on_stepOut(self, request: Message, args: Message) -> None:
        await self._move(request, lambda e: e.step_out())

    async def on_stepBack(self, request: Message, args: Message) -> None:
        engine = self._stopped()
        await self.respond(request)
        engine.step_back()

    async def on_reverseContinue(self, request: Message, args: Message) -> None:
        engine = self._stopped()
        await self.respond(request)
        engine.reverse_continue()

    async def on_pause(self, request: Message, args: Message) -> None:
        self._engine().pause()
        await self.respond(request)

    async def on_restart(self, request: Message, args: Message) -> None:
        session = self._session()
        engine = self._stopped()
        try:
            await engine.reload()
        except Exception as error:
            raise EngineError(
                f"the build did not reload ({error}); the session goes on with the "
                "previous Dockerfile: fix it and restart"
            ) from None
        await self.respond(request)
        await self._begin(session)

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
        engine = self._stopped()
        frames = self._inspector()
        step = frames.frame_step(parsed.frameId) if parsed.frameId else None
        if step is None and engine.stop is not None:
            step = engine.stop.step
        console = self._console()
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


__all__ = ["THREAD_ID", "RequestsMixin"]
