"""A debugged build and its stops: the build in buildkitd, its program, the results
solved so far, the session's history of stops, and the events front ends hear.

A stop at a step means the step has been evaluated (its result exists). Each solve is a
gateway solve of a sub-definition whose result is the target step, carrying the cache
imports, so BuildKit runs (or loads from cache) exactly the target and its ancestors,
independent stages in parallel. Every stop stays in the history with its result
referenced, so going back is exact and costs no solve. ``engine.Engine`` adds moving.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager, suppress
from typing import NoReturn, Self, TypeVar

import anyio
from anyio.abc import TaskGroup
from grpc import aio

from buildg_dap._proto.buildkit import control_pb2, gateway_pb2, ops_pb2
from buildg_dap.buildkit.build import BuildRequest, RunningBuild
from buildg_dap.buildkit.connection import Connection
from buildg_dap.buildkit.control import has_local_results
from buildg_dap.buildkit.errors import SolveError
from buildg_dap.buildkit.llb import image_definition, op_digest
from buildg_dap.buildkit.progress import Progress
from buildg_dap.buildkit.session.rpcserver import Attachable
from buildg_dap.cache.attribution import CacheTally, StepOrigin
from buildg_dap.cache.reference import InvalidReference, Reference
from buildg_dap.debugger.breakpoints import Breakpoint, Breakpoints
from buildg_dap.debugger.errors import BuilderGone, EngineError, Exited, Paused
from buildg_dap.debugger.events import (
    BreakpointChanged,
    BuildEnded,
    BuilderLost,
    Event,
    Finished,
    Listener,
    Reason,
    StepCompleted,
    Stop,
    Stopped,
)
from buildg_dap.debugger.history import History
from buildg_dap.debugger.holder import HeldBuild
from buildg_dap.debugger.origins import Origins
from buildg_dap.debugger.program import Program, Step

_T = TypeVar("_T")
# How long a stop waits for buildkitd's status of the step it just solved.
_STATUS_WAIT = 2.0
# How long a liveness check of the builder may take before it counts as gone.
_PING_WAIT = 3.0


class BuildState:
    def __init__(
        self,
        conn: Connection,
        request: BuildRequest,
        attachables: Sequence[Attachable],
        progress: Progress,
        cache_names: Sequence[str] = (),
    ) -> None:
        self.conn = conn
        # Human names of the imported caches, for saying where a step came from.
        self.origins = Origins(
            progress,
            list(cache_names)
            or [c.attrs.get("ref") or c.attrs.get("src", c.type) for c in request.cache_imports],
        )
        self.request = request
        self.attachables = list(attachables)
        self.progress = progress
        self.breakpoints = Breakpoints()
        self.history = History()
        self._listeners: list[Listener] = []
        self._tg: TaskGroup | None = None
        self._held: HeldBuild | None = None
        self._build: RunningBuild | None = None
        self._frontend: gateway_pb2.Result | None = None
        self.program: Program | None = None
        self.position = -1  # index of the last step evaluated live; -1 at entry
        self.finished: Finished | None = None
        self._results: dict[tuple[str, int], str] = {}
        # Set while a move runs; setting it pauses the move.
        self._pause: anyio.Event | None = None
        self._completed: set[str] = set()
        progress.listeners.append(self._on_status)

    # --- events --------------------------------------------------------------------

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def _emit(self, event: Event) -> None:
        for listener in list(self._listeners):
            listener(event)

    def _on_status(self, message: control_pb2.StatusResponse) -> None:
        if self.program is None:
            return
        for vertex in message.vertexes:
            if not vertex.HasField("completed"):
                continue
            steps = self.program.steps_for_digest(vertex.digest)
            # Every solve that reuses a step reports it again: one event per build.
            if not steps or vertex.digest in self._completed:
                continue
            self._completed.add(vertex.digest)
            state = self.progress.vertices.get(vertex.digest)
            origin = self.origin(steps[0]) if not vertex.error else None
            for step in steps:
                self._emit(
                    StepCompleted(step, origin, state.duration if state else None, vertex.error)
                )

    # --- lifecycle -------------------------------------------------------------

    @classmethod
    @asynccontextmanager
    async def launch(
        cls,
        conn: Connection,
        request: BuildRequest,
        attachables: Sequence[Attachable] = (),
        progress: Progress | None = None,
        cache_names: Sequence[str] = (),
    ) -> AsyncIterator[Self]:
        engine = cls(conn, request, attachables, progress or Progress(), cache_names)
        engine.origins.local_results_possible = await has_local_results(conn)
        async with anyio.create_task_group() as tg:
            engine._tg = tg
            try:
                await engine._start()
                yield engine
            finally:
                if engine._held is not None:
                    with suppress(Exception):  # already reported, or nobody to tell
                        await engine._held.close()

    async def _start(self) -> None:
        """Start a build and load its program; the engine's state changes only once the
        frontend has produced a program (else the new build is ended again)."""
        assert self._tg is not None
        held = await HeldBuild.open(
            self._tg, self.conn, self.request, self.attachables, self.progress
        )
        assert held.build is not None
        try:
            frontend = await held.build.solve_frontend()
            program = Program.from_frontend(frontend)
        except BaseException:
            with suppress(Exception):
                await held.close()
            raise
        old, self._held = self._held, held
        self._build, self._frontend, self.program = held.build, frontend, program
        self.position = -1
        self._results.clear()
        self._completed.clear()
        self.finished = None
        for bp in self.breakpoints.rebind(program):
            self._emit(BreakpointChanged(bp))
        self.history.reset(Stop(Reason.ENTRY, None))
        if old is not None:
            with suppress(Exception):  # the old build is cancelled on purpose
                await old.close()
            # What the old build reported is not the new build's state; where each
            # step's result first came from is kept by ``origins``.
            self.progress.reset()

    async def reload(self) -> None:
        """Re-read context and Dockerfile and start over, keeping breakpoints. If the new
        Dockerfile does not load, the session stays on the old build and program."""
        await self._start()

    # --- where results came from ---------------------------------------------------

    def origin(self, step: Step) -> StepOrigin | None:
        """Executed, or loaded from which cache; None if the step has not been evaluated."""
        return self.origins.of(step)

    def tally(self) -> CacheTally:
        return self.origins.tally(self.program.steps if self.program is not None else [])

    # --- properties ------------------------------------------------------------

    @property
    def stop(self) -> Stop | None:
        """The stop being looked at (an earlier one after stepping back)."""
        return None if self.finished is not None else self.history.current

    @property
    def build(self) -> RunningBuild:
        if self._build is None or self.finished is not None:
            raise EngineError("the build has finished")
        return self._build

    @property
    def prog(self) -> Program:
        if self.program is None:
            raise EngineError("no program loaded")
        return self.program

    @property
    def running(self) -> bool:
        return self._pause is not None

    # --- the builder ---------------------------------------------------------------

    async def builder_alive(self) -> bool:
        try:
            await self.conn.control.Info(control_pb2.InfoRequest(), timeout=_PING_WAIT)
        except aio.AioRpcError:
            return False
        return True

    async def check_builder(self, error: BaseException) -> None:
        """Raise BuilderGone when ``error`` came from losing buildkitd, not from a step.
        Asked on every failure: a dying daemon may fail its running steps first."""
        if await self.builder_alive():
            return
        detail = error.message if isinstance(error, SolveError) else str(error)
        gone = BuilderGone(
            f"lost the connection to buildkitd at {self.conn.address}: {detail}"
        )
        self.finished = Finished(error=SolveError(gone.message))
        self._emit(BuilderLost(gone.message))
        raise gone

    # --- solving -------------------------------------------------------------------

    async def _pausable(self, work: Callable[[], Awaitable[_T]]) -> _T:
        """``work`` (a solve) as part of a move that ``pause`` may interrupt: it runs in
        a task of its own, and a pause returns at once (raising Paused) while buildkitd
        goes on, rather than cancelling a gRPC call halfway."""
        pause = self._pause
        if pause is None or self._tg is None:
            return await work()
        outcome: list[_T] = []
        failure: list[Exception] = []
        done = anyio.Event()

        async def run() -> None:
            try:
                outcome.append(await work())
            except Exception as error:  # handed to the waiting move, if still waiting
                failure.append(error)
            finally:
                done.set()

        self._tg.start_soon(run)
        async with anyio.create_task_group() as waiting:

            async def until(event: anyio.Event) -> None:
                await event.wait()
                waiting.cancel_scope.cancel()

            waiting.start_soon(until, done)
            waiting.start_soon(until, pause)
        if not done.is_set():
            raise Paused
        if failure:
            raise failure[0]
        return outcome[0]

    async def resolve(self, target: ops_pb2.Input) -> str:
        """The live result id of one op output, solved (and cached) on demand."""
        key = (target.digest, target.index)
        if key not in self._results:
            definition = self.prog.graph.sub_definition(target)
            gateway = self.build.gateway
            try:
                ref = await self._pausable(
                    lambda: gateway.solve_definition(definition, self.request.cache_imports)
                )
            except SolveError as error:
                await self.check_builder(error)
                raise
            self._results[key] = ref.id
        return self._results[key]

    async def image_result(self, image: str, platform: ops_pb2.Platform | None) -> str:
        """A debugger image (``exec --image``) as a live result id."""
        try:
            name = str(Reference.parse(image))
        except InvalidReference as exc:
            raise EngineError(f"invalid debugger image {image!r}: {exc}") from None
        definition = image_definition(name, platform)
        ref = await self.build.gateway.solve_definition(definition, self.request.cache_imports)
        return ref.id

    def _failed_step(self, error: SolveError, fallback: Step) -> Step:
        """The step whose op failed, from the error details (first one not yet passed)."""
        if error.failed_op is not None:
            wanted = error.failed_op
            digest = op_digest(wanted.SerializeToString(deterministic=True))
            candidates = self.prog.steps_for_digest(digest) or [
                s for s in self.prog.steps if s.node.op == wanted
            ]
            ahead = [s for s in candidates if s.index > self.position]
            if ahead or candidates:
                return (ahead or candidates)[0]
        return fallback

    async def _fail_or_stop(self, error: SolveError, fallback: Step) -> Stop:
        await self.check_builder(error)
        if not self.breakpoints.on_fail:
            await self._return(error)
        failed = self._failed_step(error, fallback)
        self.position = failed.index
        return self._stopped(Stop(Reason.FAILED, failed, error=error, cached=False))

    def _stopped(self, stop: Stop) -> Stop:
        self.history.append(stop)
        self._emit(Stopped(stop))
        return stop

    async def _evaluate(self, step: Step, reason: Reason, bps: list[Breakpoint]) -> Stop:
        started = time.monotonic()
        try:
            result_id = await self.resolve(step.result_input)
        except SolveError as error:
            return await self._fail_or_stop(error, step)
        if result_id:
            # A stop shows the step ready to look at, as buildg's does: layers a cache
            # provides lazily are fetched now, their progress before the stop, rather
            # than in the middle of the first exec's output. The step itself succeeded:
            # a fetch that fails is not its failure, and exec reports the error if the
            # files are wanted.
            with suppress(SolveError):
                await self.build.gateway.stat_file(result_id, "/")
        state = await self.progress.completed(step.digest, within=_STATUS_WAIT)
        self.position = step.index
        return self._stopped(
            Stop(
                reason,
                step,
                breakpoints=bps,
                result_id=result_id,
                cached=state.cached if state is not None else None,
                duration=(state.duration if state is not None else None)
                or time.monotonic() - started,
            )
        )

    async def _return(self, error: SolveError | None) -> NoReturn:
        """Hand the outcome back to buildkitd and exit. On success the build's exports
        (outputs, cache export) run before this returns, and their failure is the
        build's."""
        assert self._frontend is not None
        build = self.build
        try:
            if error is None:
                await build.finish(self._frontend)
            else:
                await build.fail(error)
        except SolveError as failure:
            await self.check_builder(failure)
            raise
        held, self._held = self._held, None
        if held is not None:
            try:
                await held.close()
            except SolveError as failure:
                error = error or failure
        self.finished = Finished(error=error, exporter_response=build.exporter_response)
        self._emit(BuildEnded(self.finished))
        raise Exited(self.finished)

    async def _run_to_end(self) -> Stop:
        gateway = self.build.gateway
        try:
            await self._pausable(
                lambda: gateway.solve_definition(
                    self.prog.graph.definition, self.request.cache_imports
                )
            )
        except SolveError as error:
            return await self._fail_or_stop(error, self.prog.steps[-1])
        await self._return(None)

