"""The debugger engine: moves a debugged build step by step (next, step out, continue
to a breakpoint, pause, back through the history). It knows nothing of DAP or
terminals; front ends call it and hear its events."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio

from buildg_dap.debugger.breakpoints import Breakpoint
from buildg_dap.debugger.conditions import evaluate_condition, format_log_message, hit_matches
from buildg_dap.debugger.errors import EngineError, Exited, Paused
from buildg_dap.debugger.events import Finished, LogPoint, Reason, Resumed, Stop, Stopped
from buildg_dap.debugger.program import Step
from buildg_dap.debugger.state import BuildState
from buildg_dap.debugger.stepconfig import env_map, step_config

__all__ = ["Engine", "EngineError", "Exited", "Finished", "Reason", "Stop"]


class Engine(BuildState):
    async def variables(self, step: Step) -> dict[str, str]:
        """ENV and ARG values in effect at ``step`` (the process env holds both)."""
        return env_map((await step_config(self, step)).env)

    # --- breakpoints with conditions --------------------------------------------------

    async def _stopping(self, step: Step, only: str | None = None) -> list[Breakpoint]:
        """The breakpoints at ``step`` that stop there: conditions true, hit counts
        reached. Log points print their message (an event) and never stop."""
        found = self.breakpoints.at(step, only)
        if not found:
            return []
        # Only conditions and log messages read values (asking may mean a frontend solve).
        values: dict[str, str] = {}
        if any(bp.condition or bp.log_message for bp in found):
            values = await self.variables(step)
        stopping = []
        for bp in found:
            if bp.condition and not evaluate_condition(bp.condition, values):
                continue
            bp.hits += 1
            if bp.hit_condition and not hit_matches(bp.hit_condition, bp.hits):
                continue
            if bp.log_message:
                self._emit(LogPoint(step, bp, format_log_message(bp.log_message, values)))
                continue
            stopping.append(bp)
        return stopping

    # --- moving ------------------------------------------------------------------

    async def _leave_failure(self) -> None:
        """Moving on from a failed step ends the build with that failure."""
        if self.finished is not None:
            raise EngineError("the build has finished; use reload to start again")
        live = self.history.live
        if live is not None and live.error is not None:
            await self._return(live.error)

    @asynccontextmanager
    async def _move(self) -> AsyncIterator[None]:
        if self._pause is not None:
            raise EngineError("the build is already running")
        self._pause = anyio.Event()
        self._emit(Resumed())
        try:
            yield
        finally:
            self._pause = None

    def pause(self) -> bool:
        """Ask a running move to stop at the latest step evaluated so far; False if
        nothing is running. What buildkitd is running goes on in the background."""
        if self._pause is None:
            return False
        self._pause.set()
        return True

    async def _paused(self) -> Stop:
        """After a pause: the latest step (in program order) whose result exists."""
        done = [
            s
            for s in self.prog.steps[self.position + 1 :]
            if (state := self.progress.vertices.get(s.digest)) is not None
            and state.completed is not None
            and not state.error
        ]
        if not done:
            current = self.history.live
            step = current.step if current is not None else None
            return self._stopped(
                Stop(Reason.PAUSE, step, result_id=current.result_id if current else None)
            )
        return await self._evaluate(done[-1], Reason.PAUSE, [])

    async def _advance(self, target: int | None, only: str | None = None) -> Stop:
        """Evaluate up to step ``target`` (None: the end of the build), stopping early at
        a step with a breakpoint that stops. Only the stopping step is solved: BuildKit
        evaluates its ancestors, independent stages in parallel."""
        await self._leave_failure()
        try:
            async with self._move():
                steps = self.prog.steps
                last = len(steps) - 1 if target is None else target
                for step in steps[self.position + 1 : last + 1]:
                    bps = await self._stopping(step, only)
                    if bps:
                        return await self._evaluate(step, Reason.BREAKPOINT, bps)
                    if step.index == target:
                        return await self._evaluate(step, Reason.STEP, [])
                return await self._run_to_end()
        except Paused:
            return await self._paused()

    def _current_stage(self) -> int | None:
        live = self.history.live
        return live.step.stage.index if live is not None and live.step is not None else None

    async def next(self, *, same_stage: bool = False) -> Stop:
        """One step on: the next step the build evaluates, or with ``same_stage`` the next
        step of the current stage (stages it needs are evaluated without stopping)."""
        forward = self.history.forward()
        if forward is not None:
            self._emit(Stopped(forward))
            return forward
        ahead = self.prog.steps[self.position + 1 :]
        stage = self._current_stage()
        if same_stage and stage is not None:
            ahead = [s for s in ahead if s.stage.index == stage] or ahead
        return await self._advance(ahead[0].index if ahead else None)

    async def step_out(self) -> Stop:
        """To the last step of the current stage (or one step on, at its last step)."""
        stage = self._current_stage()
        ahead = self.prog.steps[self.position + 1 :]
        rest = [s for s in ahead if s.stage.index == stage]
        target = rest[-1] if rest else (ahead[0] if ahead else None)
        return await self._advance(target.index if target is not None else None)

    async def continue_(self, key: str | None = None) -> Stop:
        """Run to the next breakpoint (or only to breakpoint ``key``) or to the end."""
        if key is not None and self.breakpoints.get(key) is None:
            raise EngineError(f"no breakpoint with key {key!r}")
        forward = self.history.forward_to(lambda s: bool(s.breakpoints) or s.error is not None)
        if forward is not None:
            self._emit(Stopped(forward))
            return forward
        return await self._advance(None, only=key)

    def step_back(self) -> Stop:
        """The previous stop of the session, exactly as it was."""
        stop = self.history.back()
        if stop is None:
            raise EngineError("already at the first stop of the session")
        self._emit(Stopped(stop))
        return stop

    def reverse_continue(self) -> Stop:
        """Back to the previous stop made at a breakpoint, else to the entry."""
        stop = self.history.back_to(lambda s: bool(s.breakpoints))
        if stop is None:
            raise EngineError("already at the first stop of the session")
        self._emit(Stopped(stop))
        return stop
