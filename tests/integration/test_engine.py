"""The engine driven directly, as any front end does: events, per-line breakpoints
across reloads, a reload that fails, origins that survive a reload, exact history."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from buildg_dap.cache.attribution import Origin
from buildg_dap.debugger.breakpoints import LineSpec
from buildg_dap.debugger.engine import Exited, Reason
from buildg_dap.debugger.errors import EngineError
from buildg_dap.debugger.events import (
    BreakpointChanged,
    BuildEnded,
    Event,
    Resumed,
    StepCompleted,
    Stopped,
)
from tests.dockerfiles import TWO_STAGES
from tests.integration.cliutil import write_context
from tests.integration.engineutil import open_engine, request_for
from tests.lab import Buildkitd


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module", autouse=True)
async def one_event_loop() -> AsyncIterator[None]:
    """One event loop for the module: grpc.aio may finish a test's cancelled calls late."""
    yield


@pytest.mark.anyio
async def test_events_tell_every_front_end_what_happens(
    tmp_path: Path, builder_a: Buildkitd
) -> None:
    context = write_context(tmp_path / "ctx", TWO_STAGES.replace("two", "events"))
    heard: list[Event] = []
    async with open_engine(builder_a, request_for(context)) as engine:
        engine.subscribe(heard.append)
        engine.breakpoints.set_lines(engine.prog, [LineSpec(5)])
        stop = await engine.continue_()
        assert isinstance(heard[0], Resumed)
        stopped = [e for e in heard if isinstance(e, Stopped)]
        assert [s.stop for s in stopped] == [stop]
        assert stop.reason is Reason.BREAKPOINT and stop.step is not None
        completed = {e.step.line: e for e in heard if isinstance(e, StepCompleted)}
        # the shared FROM op stands for lines 1 and 4; the other stage is not needed yet
        assert set(completed) == {1, 4, 5}, completed
        assert completed[5].origin is not None and completed[5].duration is not None
        with pytest.raises(Exited):
            await engine.continue_()
        ended = [e for e in heard if isinstance(e, BuildEnded)]
        assert len(ended) == 1 and ended[0].finished.error is None


@pytest.mark.anyio
async def test_breakpoints_keep_their_ids_and_report_moves_on_reload(
    tmp_path: Path, builder_a: Buildkitd
) -> None:
    context = write_context(tmp_path / "ctx", TWO_STAGES)
    heard: list[Event] = []
    async with open_engine(builder_a, request_for(context)) as engine:
        engine.subscribe(heard.append)
        first = engine.breakpoints.set_lines(
            engine.prog, [LineSpec(3), LineSpec(5), LineSpec(0), LineSpec(6, "A ==")]
        )
        assert [bp.line for bp in first] == [4, 5, None, None]
        assert first[0].moved and "lines start at 1" in first[2].problem
        assert "invalid condition" in first[3].problem
        ids = {bp.requested_line: bp.id for bp in first}
        # line 5 becomes a comment: its breakpoint moves to the next step line
        moved = TWO_STAGES.replace("RUN echo two", "# gone\nRUN echo two")
        (context / "Dockerfile").write_text(moved)
        await engine.reload()
        changed = [e.breakpoint for e in heard if isinstance(e, BreakpointChanged)]
        assert [(bp.id, bp.line) for bp in changed] == [(ids[5], 6)]
        again = engine.breakpoints.set_lines(engine.prog, [LineSpec(5), LineSpec(7)])
        assert again[0].id == ids[5]
        assert again[1].id not in ids.values()


@pytest.mark.anyio
async def test_a_reload_that_fails_keeps_the_session(tmp_path: Path, builder_a: Buildkitd) -> None:
    context = write_context(tmp_path / "ctx", TWO_STAGES)
    async with open_engine(builder_a, request_for(context)) as engine:
        engine.breakpoints.set_lines(engine.prog, [LineSpec(5)])
        stop = await engine.continue_()
        program = engine.prog
        (context / "Dockerfile").write_text("FROM busybox\nNOTANINSTRUCTION\n")
        with pytest.raises(Exception, match=r"(?i)unknown instruction"):
            await engine.reload()
        assert engine.prog is program and engine.stop is stop
        # the old build still answers: the stop's files and a move on
        assert await engine.resolve(stop.step.result_input) == stop.result_id  # type: ignore[union-attr]
        after = await engine.next()
        assert after.step is not None and after.step.index > stop.step.index  # type: ignore[union-attr]


@pytest.mark.anyio
async def test_origins_survive_a_reload(tmp_path: Path, fresh_builder: Buildkitd) -> None:
    context = write_context(tmp_path / "ctx", TWO_STAGES.replace("two", "origin"))
    async with open_engine(fresh_builder, request_for(context)) as engine:
        engine.breakpoints.set_lines(engine.prog, [LineSpec(5)])
        stop = await engine.continue_()
        assert stop.step is not None
        assert engine.origin(stop.step).origin is Origin.EXECUTED  # type: ignore[union-attr]
        await engine.reload()
        again = await engine.continue_()
        assert again.cached, "the second build reuses the first one's result"
        assert again.step is not None
        # executed by this session, not loaded from some cache
        assert engine.origin(again.step).origin is Origin.EXECUTED  # type: ignore[union-attr]
        assert engine.tally().executed >= 1


@pytest.mark.anyio
async def test_history_is_exact_and_costs_no_solve(tmp_path: Path, builder_a: Buildkitd) -> None:
    context = write_context(tmp_path / "ctx", TWO_STAGES)
    async with open_engine(builder_a, request_for(context)) as engine:
        first = await engine.next()
        second = await engine.next()
        solved = dict(engine._results)
        assert engine.step_back() is first
        assert engine.stop is first
        assert engine._results == solved
        assert await engine.next() is second, "forward replays the history"
        with pytest.raises(EngineError, match="first stop"):
            for _ in range(5):
                engine.step_back()
        assert engine.stop is not None and engine.stop.reason is Reason.ENTRY
