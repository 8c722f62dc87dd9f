"""The debugger engine: drives one build step by step and keeps the state of each stop.

A stop at a step means the step has been evaluated (its result exists). Each move is a
gateway solve of a sub-definition whose result is the target step, carrying the cache
imports, so BuildKit runs (or loads from cache) exactly the target and its ancestors.
It knows nothing of DAP or terminals.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from dataclasses import dataclass, field
from enum import Enum
from typing import NoReturn

from buildg_dap._proto.buildkit import gateway_pb2, ops_pb2
from buildg_dap.buildkit.build import BuildRequest, RunningBuild, running_build
from buildg_dap.buildkit.connection import Connection
from buildg_dap.buildkit.control import has_local_results
from buildg_dap.buildkit.errors import SolveError
from buildg_dap.buildkit.llb import Graph, op_bytes, op_digest
from buildg_dap.buildkit.progress import Progress
from buildg_dap.buildkit.session.rpcserver import Attachable
from buildg_dap.cache.attribution import CacheTally, StepOrigin, step_origin
from buildg_dap.cache.reference import InvalidReference, Reference
from buildg_dap.debugger.breakpoints import Breakpoint, Breakpoints
from buildg_dap.debugger.program import Program, Step

# How long a stop waits for buildkitd's status of the step it just solved.
_STATUS_WAIT = 2.0


class Reason(Enum):
    ENTRY = "entry"
    BREAKPOINT = "breakpoint"
    STEP = "step"
    FAILED = "failed"


class EngineError(Exception):
    """A request the engine cannot honour in its current state."""


@dataclass
class Stop:
    reason: Reason
    step: Step | None  # None at entry
    breakpoint: Breakpoint | None = None
    result_id: str | None = None
    error: SolveError | None = None
    cached: bool | None = None
    duration: float | None = None

    @property
    def exit_code(self) -> int | None:
        return self.error.exit_code if self.error is not None else None


@dataclass
class Finished:
    error: SolveError | None = None
    exporter_response: dict[str, str] = field(default_factory=dict)


class Engine:
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
        self.cache_names = list(cache_names) or [
            c.attrs.get("ref") or c.attrs.get("src", c.type) for c in request.cache_imports
        ]
        self.local_results_possible = True
        self.request = request
        self.attachables = list(attachables)
        self.progress = progress
        self.breakpoints = Breakpoints()
        self._stack = AsyncExitStack()
        self._build: RunningBuild | None = None
        self._frontend: gateway_pb2.Result | None = None
        self.program: Program | None = None
        self.position = -1  # index of the last step stopped at; -1 at entry
        self.stop: Stop | None = None
        self.finished: Finished | None = None
        self._results: dict[tuple[str, int], str] = {}

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
    ) -> AsyncIterator[Engine]:
        engine = cls(conn, request, attachables, progress or Progress(), cache_names)
        try:
            engine.local_results_possible = await has_local_results(conn)
            await engine._start()
            yield engine
        finally:
            await engine._stack.aclose()

    async def _start(self) -> None:
        self._build = await self._stack.enter_async_context(
            running_build(self.conn, self.request, self.attachables, self.progress)
        )
        self._frontend = await self._build.solve_frontend()
        if self._frontend.WhichOneof("result") != "ref":
            raise EngineError("multi-platform builds cannot be debugged: pass one --platform")
        self.program = Program(Graph(getattr(self._frontend.ref, "def")))
        self.breakpoints.rebind(self.program)
        self.position = -1
        self._results.clear()
        self.finished = None
        self.stop = Stop(Reason.ENTRY, None)

    async def reload(self) -> None:
        """Re-read context and Dockerfile and start over, keeping breakpoints."""
        await self._stack.aclose()
        self._stack = AsyncExitStack()
        await self._start()

    # --- where results came from ---------------------------------------------------

    def origin(self, step: Step) -> StepOrigin | None:
        """Executed, or loaded from which cache; None if the step has not been evaluated."""
        state = self.progress.vertices.get(step.digest)
        if state is None or state.completed is None:
            return None
        return step_origin(
            cached=state.cached,
            local_cache_hit_possible=self.local_results_possible,
            imports=self.cache_names,
        )

    def tally(self) -> CacheTally:
        tally = CacheTally()
        for step in self.prog.steps if self.program is not None else []:
            found = self.origin(step)
            if found is not None:
                tally.record(f"{step.digest}@{step.line}", found)
        return tally

    # --- properties ------------------------------------------------------------

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

    # --- solving -------------------------------------------------------------------

    async def resolve(self, target: ops_pb2.Input) -> str:
        """The live result id of one op output, solved (and cached) on demand."""
        key = (target.digest, target.index)
        if key not in self._results:
            definition = self.prog.graph.sub_definition(target)
            ref = await self.build.gateway.solve_definition(
                definition, self.request.cache_imports
            )
            self._results[key] = ref.id
        return self._results[key]

    async def image_result(self, image: str, platform: ops_pb2.Platform | None) -> str:
        """A debugger image (``exec --image``) as a live result id."""
        try:
            name = str(Reference.parse(image))
        except InvalidReference as exc:
            raise EngineError(f"invalid debugger image {image!r}: {exc}") from None
        source = ops_pb2.Op(source=ops_pb2.SourceOp(identifier=f"docker-image://{name}"))
        if platform is not None:
            source.platform.CopyFrom(platform)
        raw = source.SerializeToString(deterministic=True)
        head = ops_pb2.Op(inputs=[ops_pb2.Input(digest=op_digest(raw), index=0)])
        definition = ops_pb2.Definition()
        op_bytes(definition).extend([raw, head.SerializeToString(deterministic=True)])
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
        if not self.breakpoints.on_fail:
            await self._return(error)
        failed = self._failed_step(error, fallback)
        self.position = failed.index
        self.stop = Stop(Reason.FAILED, failed, error=error, cached=False)
        return self.stop

    async def _evaluate(self, step: Step, reason: Reason, bp: Breakpoint | None) -> Stop:
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
        self.stop = Stop(
            reason,
            step,
            breakpoint=bp,
            result_id=result_id,
            cached=state.cached if state is not None else None,
            duration=(state.duration if state is not None else None)
            or time.monotonic() - started,
        )
        return self.stop

    async def _return(self, error: SolveError | None) -> NoReturn:
        """Hand the outcome back to buildkitd (exports run on success) and exit."""
        assert self._frontend is not None
        build = self.build
        if error is None:
            await build.finish(self._frontend)
        else:
            await build.fail(error)
        self.finished = Finished(error=error)
        self.stop = None
        raise Exited(self.finished)

    async def _run_to_end(self) -> Stop:
        try:
            await self.build.gateway.solve_definition(
                self.prog.graph.definition, self.request.cache_imports
            )
        except SolveError as error:
            return await self._fail_or_stop(error, self.prog.steps[-1])
        await self._return(None)

    async def wait_exported(self) -> Finished:
        """Let Control.Solve end (exports run) and collect its response."""
        finished = self.finished or Finished()
        await self._stack.aclose()
        if self._build is not None:
            finished.exporter_response = self._build.exporter_response
        return finished

    # --- moving ------------------------------------------------------------------

    async def _leave_failure(self) -> None:
        """Moving on from a failed step ends the build with that failure."""
        if self.finished is not None:
            raise EngineError("the build has finished; use reload to start again")
        if self.stop is not None and self.stop.error is not None:
            await self._return(self.stop.error)

    async def next(self) -> Stop:
        await self._leave_failure()
        steps = self.prog.steps
        if self.position + 1 >= len(steps):
            return await self._run_to_end()
        step = steps[self.position + 1]
        return await self._evaluate(step, Reason.STEP, self.breakpoints.hit(step))

    async def continue_(self, key: str | None = None) -> Stop:
        """Run to the next breakpoint (or only to breakpoint ``key``) or to the end."""
        if key is not None and self.breakpoints.get(key) is None:
            raise EngineError(f"no breakpoint with key {key!r}")
        await self._leave_failure()
        for step in self.prog.steps[self.position + 1 :]:
            bp = self.breakpoints.hit(step, only=key)
            if bp is not None:
                return await self._evaluate(step, Reason.BREAKPOINT, bp)
        return await self._run_to_end()


class Exited(Exception):
    """The build ran to its end (successfully or not); no more stops."""

    def __init__(self, finished: Finished) -> None:
        super().__init__("build finished")
        self.finished = finished
