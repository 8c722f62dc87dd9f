"""Line breakpoints: one result per requested line, stable ids, re-resolution on reload."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

import pytest

from buildg_dap._dap import protocol as p
from buildg_dap.dap.events import dap_breakpoint
from buildg_dap.debugger.breakpoints import (
    ON_FAIL,
    Breakpoint,
    BreakpointError,
    Breakpoints,
    LineSpec,
)
from buildg_dap.debugger.program import Program, Step


@dataclass(frozen=True)
class FakeStep:
    start: int
    end: int

    @property
    def line(self) -> int:
        return self.start

    def covers(self, line: int) -> bool:
        return self.start <= line <= self.end


@dataclass
class FakeSource:
    text: str

    def lines(self) -> list[str]:
        return self.text.splitlines()


@dataclass
class FakeProgram:
    """What Breakpoints reads of a Program, with Program's own rules for finding steps."""

    source: FakeSource
    steps: list[FakeStep] = field(default_factory=list)
    filename: str = "Dockerfile"

    def steps_at(self, line: int) -> list[FakeStep]:
        return [s for s in self.steps if s.covers(line)]

    def next_step_line(self, line: int) -> int | None:
        candidates = [s.line for s in self.steps if s.end >= line]
        return min(candidates) if candidates else None


def program(text: str, *ranges: tuple[int, int]) -> Program:
    fake = FakeProgram(FakeSource(text), [FakeStep(a, b) for a, b in ranges])
    return cast(Program, fake)


def step(start: int, end: int | None = None) -> Step:
    return cast(Step, FakeStep(start, start if end is None else end))


# 1 FROM, 2 blank, 3-4 a RUN with a continuation, 5 comment, 6 RUN, 7-8 trailing lines.
DOCKERFILE = "FROM busybox\n\nRUN echo a \\\n  b\n# note\nRUN echo c\n\n# end\n"
PROG = program(DOCKERFILE, (1, 1), (3, 4), (6, 6))


def summary(bp: Breakpoint) -> tuple[int, int | None, bool]:
    return bp.requested_line, bp.line, bp.verified


# --- one result per line ------------------------------------------------------------


def test_a_line_with_a_step_is_verified_where_it_is() -> None:
    [bp] = Breakpoints().set_lines(PROG, [LineSpec(6)])
    assert bp.verified and bp.line == 6 and bp.requested_line == 6
    assert not bp.moved
    assert bp.problem == ""


def test_a_line_without_a_step_moves_to_the_next_step() -> None:
    [blank, comment] = Breakpoints().set_lines(PROG, [LineSpec(2), LineSpec(5)])
    assert (blank.line, blank.moved, blank.verified) == (3, True, True)
    assert (comment.line, comment.moved, comment.verified) == (6, True, True)
    assert blank.problem == comment.problem == ""


def test_what_a_client_is_told_about_each_line() -> None:
    # The DAP form of a batch: where each breakpoint is, and why when it is not there.
    source = p.Source(name="Dockerfile")
    batch = Breakpoints().set_lines(PROG, [LineSpec(6), LineSpec(5), LineSpec(7)])
    told = [dap_breakpoint(bp, source) for bp in batch]
    assert [(b.verified, b.line, b.message) for b in told] == [
        (True, 6, None),
        (True, 6, "moved from line 5"),
        (False, 7, "no step at or after line 7"),
    ]
    assert [b.id for b in told] == [bp.id for bp in batch]


def test_a_continuation_line_resolves_to_its_steps_first_line() -> None:
    [bp] = Breakpoints().set_lines(PROG, [LineSpec(4)])
    assert bp.verified and bp.line == 3


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        (0, "invalid line number 0: lines start at 1"),
        (-3, "invalid line number -3"),
        (9, "line 9 is beyond the end of Dockerfile (8 lines)"),
        (100, "beyond the end"),
        (7, "no step at or after line 7"),
        (8, "no step at or after line 8"),
    ],
)
def test_an_unusable_line_is_unverified_with_the_reason(line: int, problem: str) -> None:
    [bp] = Breakpoints().set_lines(PROG, [LineSpec(line)])
    assert not bp.verified and bp.line is None
    assert not bp.moved
    assert problem in bp.problem
    assert bp.requested_line == line


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        (LineSpec(6, condition="A =="), "invalid condition: the expression ends too early"),
        (LineSpec(6, condition="A @ B"), "invalid condition: unexpected '@ B' at column 3"),
        (LineSpec(6, hit_condition="often"), "invalid condition: invalid hit condition 'often'"),
        (LineSpec(6, hit_condition="% 0"), "invalid condition: invalid hit condition '% 0'"),
    ],
)
def test_an_invalid_condition_leaves_the_breakpoint_unverified(
    spec: LineSpec, problem: str
) -> None:
    [bp] = Breakpoints().set_lines(PROG, [spec])
    assert not bp.verified
    assert bp.problem.startswith(problem)


def test_valid_conditions_and_log_messages_are_kept() -> None:
    spec = LineSpec(6, condition='A == "1"', hit_condition=">= 2", log_message="at {A}")
    [bp] = Breakpoints().set_lines(PROG, [spec])
    assert bp.verified
    assert (bp.condition, bp.hit_condition, bp.log_message) == ('A == "1"', ">= 2", "at {A}")
    assert bp.is_logpoint


def test_one_bad_line_never_aborts_the_batch() -> None:
    specs = [
        LineSpec(1),
        LineSpec(0),
        LineSpec(2),
        LineSpec(3, condition="(("),
        LineSpec(99),
        LineSpec(6),
        LineSpec(7),
        LineSpec(4, hit_condition="x"),
    ]
    breakpoints = Breakpoints()
    result = breakpoints.set_lines(PROG, specs)
    # one result per spec, in order
    assert [bp.requested_line for bp in result] == [s.line for s in specs]
    assert [bp.line for bp in result] == [1, None, 3, None, None, 6, None, None]
    assert len({bp.id for bp in result}) == len(specs)
    assert [bp.id for bp in breakpoints.items()] == [bp.id for bp in result]


def test_an_empty_batch_clears_every_line_breakpoint() -> None:
    breakpoints = Breakpoints()
    breakpoints.set_lines(PROG, [LineSpec(1), LineSpec(6)])
    assert breakpoints.set_lines(PROG, []) == []
    assert breakpoints.items() == []


def test_an_empty_program_verifies_nothing() -> None:
    [bp] = Breakpoints().set_lines(program(""), [LineSpec(1)])
    assert not bp.verified
    assert "beyond the end of Dockerfile (0 lines)" in bp.problem


# --- ids ----------------------------------------------------------------------------


def test_ids_are_kept_for_lines_kept_across_batches() -> None:
    breakpoints = Breakpoints()
    first = {
        bp.requested_line: bp.id
        for bp in breakpoints.set_lines(PROG, [LineSpec(1), LineSpec(3), LineSpec(6)])
    }
    second = breakpoints.set_lines(PROG, [LineSpec(6), LineSpec(2), LineSpec(1)])
    assert second[0].id == first[6]
    assert second[2].id == first[1]
    # a new line gets an id never used before, not line 3's freed one
    assert second[1].id not in first.values()
    assert breakpoints.get(str(first[3])) is None


def test_a_kept_line_takes_its_new_condition() -> None:
    breakpoints = Breakpoints()
    [old] = breakpoints.set_lines(PROG, [LineSpec(6, condition="A")])
    [new] = breakpoints.set_lines(PROG, [LineSpec(6, condition="((")])
    assert new.id == old.id
    assert new.condition == "(("
    assert not new.verified
    [again] = breakpoints.set_lines(PROG, [LineSpec(6)])
    assert again.id == old.id and again.verified and again.condition == ""


def test_ids_are_not_reused_after_a_line_is_dropped() -> None:
    breakpoints = Breakpoints()
    [a] = breakpoints.set_lines(PROG, [LineSpec(1)])
    breakpoints.set_lines(PROG, [])
    [b] = breakpoints.set_lines(PROG, [LineSpec(1)])
    assert b.id != a.id


def test_the_key_is_the_id() -> None:
    [bp] = Breakpoints().set_lines(PROG, [LineSpec(1)])
    assert bp.key == str(bp.id)


# --- rebind -------------------------------------------------------------------------


def test_rebind_keeps_ids_and_returns_exactly_the_changed() -> None:
    breakpoints = Breakpoints()
    specs = [LineSpec(1), LineSpec(2), LineSpec(6), LineSpec(7), LineSpec(9), LineSpec(0)]
    before = breakpoints.set_lines(PROG, specs)
    ids = {bp.requested_line: bp.id for bp in before}
    # Line 2 gains a step, line 6 loses its own (the next is on 8), line 7 gains one,
    # and the file grows to 10 lines.
    changed_prog = program("\n".join(["x"] * 10), (1, 1), (2, 2), (8, 8))
    changed = breakpoints.rebind(changed_prog)
    assert sorted(bp.requested_line for bp in changed) == [2, 6, 7, 9]
    by_line = {bp.requested_line: bp for bp in breakpoints.items()}
    assert {line: bp.id for line, bp in by_line.items()} == ids
    assert summary(by_line[1]) == (1, 1, True)
    assert summary(by_line[2]) == (2, 2, True)
    assert summary(by_line[6]) == (6, 8, True)
    assert summary(by_line[7]) == (7, 8, True)
    assert summary(by_line[9]) == (9, None, False)
    assert "no step at or after line 9" in by_line[9].problem
    assert summary(by_line[0]) == (0, None, False)


def test_rebind_to_the_same_program_changes_nothing() -> None:
    breakpoints = Breakpoints()
    breakpoints.set_lines(PROG, [LineSpec(1), LineSpec(5), LineSpec(7), LineSpec(0)])
    assert breakpoints.rebind(PROG) == []


def test_rebind_reports_a_breakpoint_that_becomes_unverified() -> None:
    breakpoints = Breakpoints()
    [bp] = breakpoints.set_lines(PROG, [LineSpec(6)])
    [changed] = breakpoints.rebind(program("FROM a\n", (1, 1)))
    assert changed is bp
    assert not bp.verified
    assert "beyond the end of Dockerfile (1 lines)" in bp.problem
    # and back again
    assert breakpoints.rebind(PROG) == [bp]
    assert bp.verified and bp.problem == ""


def test_rebind_resets_hit_counts() -> None:
    breakpoints = Breakpoints()
    [bp] = breakpoints.set_lines(PROG, [LineSpec(6, hit_condition="3")])
    bp.hits = 5
    breakpoints.rebind(PROG)
    assert bp.hits == 0


def test_a_batch_after_rebind_keeps_the_ids() -> None:
    breakpoints = Breakpoints()
    [bp] = breakpoints.set_lines(PROG, [LineSpec(5)])
    breakpoints.rebind(program(DOCKERFILE, (5, 5)))
    [again] = breakpoints.set_lines(PROG, [LineSpec(5)])
    assert again.id == bp.id


# --- add (the REPL) -----------------------------------------------------------------


def test_add_sets_a_breakpoint_that_moves_like_any_other() -> None:
    breakpoints = Breakpoints()
    bp = breakpoints.add(PROG, 5)
    assert (bp.requested_line, bp.line) == (5, 6)
    assert breakpoints.items() == [bp]


@pytest.mark.parametrize(("line", "message"), [(0, "lines start at 1"), (9, "beyond the end")])
def test_add_refuses_a_bad_line(line: int, message: str) -> None:
    breakpoints = Breakpoints()
    with pytest.raises(BreakpointError, match=message):
        breakpoints.add(PROG, line)
    assert breakpoints.items() == []


def test_add_after_the_last_step_is_kept_unverified() -> None:
    # The line exists, so a later reload may give it a step.
    bp = Breakpoints().add(PROG, 7)
    assert not bp.verified
    assert "no step at or after line 7" in bp.problem


def test_add_returns_the_existing_breakpoint_for_a_repeated_line() -> None:
    breakpoints = Breakpoints()
    first = breakpoints.add(PROG, 6)
    assert breakpoints.add(PROG, 6) is first
    [from_batch] = breakpoints.set_lines(PROG, [LineSpec(3, condition="A")])
    assert breakpoints.add(PROG, 3) is from_batch
    assert len(breakpoints.items()) == 1


def test_add_numbers_after_earlier_batches() -> None:
    breakpoints = Breakpoints()
    [a] = breakpoints.set_lines(PROG, [LineSpec(1)])
    b = breakpoints.add(PROG, 6)
    assert b.id != a.id
    assert len(breakpoints.items()) == 2


# --- clear, clear_all, get, at ------------------------------------------------------


def test_clear_removes_by_key() -> None:
    breakpoints = Breakpoints()
    a, b = breakpoints.set_lines(PROG, [LineSpec(1), LineSpec(6)])
    assert breakpoints.clear(a.key) is a
    assert breakpoints.items() == [b]
    with pytest.raises(BreakpointError, match="no breakpoint with key"):
        breakpoints.clear(a.key)


@pytest.mark.parametrize("key", ["", "x", "-1", "1.0", " 0", "0 ", "\u00b2", "\u0661", "99"])
def test_clear_refuses_an_unknown_key(key: str) -> None:
    breakpoints = Breakpoints()
    breakpoints.set_lines(PROG, [LineSpec(1), LineSpec(6)])
    with pytest.raises(BreakpointError, match="no breakpoint with key"):
        breakpoints.clear(key)
    assert len(breakpoints.items()) == 2


def test_clear_on_fail_turns_it_off_and_keeps_line_breakpoints() -> None:
    breakpoints = Breakpoints()
    breakpoints.set_lines(PROG, [LineSpec(1)])
    assert breakpoints.on_fail
    breakpoints.clear(ON_FAIL)
    assert not breakpoints.on_fail
    assert len(breakpoints.items()) == 1


def test_clear_all_removes_everything_and_on_fail() -> None:
    breakpoints = Breakpoints()
    breakpoints.set_lines(PROG, [LineSpec(1), LineSpec(6)])
    breakpoints.clear_all()
    assert breakpoints.items() == []
    assert not breakpoints.on_fail


@pytest.mark.parametrize("key", ["", "x", "-1", "\u00b2", "\u0661", "99"])
def test_get_unknown_keys_is_none(key: str) -> None:
    breakpoints = Breakpoints()
    breakpoints.set_lines(PROG, [LineSpec(1)])
    assert breakpoints.get(key) is None


def test_get_by_key() -> None:
    breakpoints = Breakpoints()
    a, b = breakpoints.set_lines(PROG, [LineSpec(1), LineSpec(6)])
    assert breakpoints.get(a.key) is a
    assert breakpoints.get(b.key) is b


def test_at_gives_the_verified_breakpoints_on_a_steps_lines() -> None:
    breakpoints = Breakpoints()
    on_from, moved_to_run, on_cont, last, bad = breakpoints.set_lines(
        PROG, [LineSpec(1), LineSpec(2), LineSpec(4), LineSpec(6), LineSpec(7)]
    )
    assert breakpoints.at(step(1)) == [on_from]
    assert breakpoints.at(step(3, 4)) == [moved_to_run, on_cont]
    assert breakpoints.at(step(6)) == [last]
    assert breakpoints.at(step(7, 8)) == []  # the unverified one is never hit
    assert not bad.verified


def test_at_with_only_filters_by_key() -> None:
    breakpoints = Breakpoints()
    a, b = breakpoints.set_lines(PROG, [LineSpec(3), LineSpec(4)])
    assert breakpoints.at(step(3, 4), only=b.key) == [b]
    assert breakpoints.at(step(3, 4), only=a.key) == [a]
    assert breakpoints.at(step(3, 4), only="99") == []
    assert breakpoints.at(step(1), only=a.key) == []


def test_a_line_given_twice_in_one_batch_is_one_breakpoint() -> None:
    bps = Breakpoints()
    first, second = bps.set_lines(PROG, [LineSpec(6), LineSpec(6, condition="A")])
    assert first is second and first.condition == "A"
    assert len(bps.items()) == 1
