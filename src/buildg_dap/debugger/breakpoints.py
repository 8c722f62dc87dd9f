"""Line breakpoints and the on-fail breakpoint.

Each line breakpoint has an integer id (shown as buildg's key ``0``, ``1``, …) that stays
the same while its requested line is kept, across ``reload`` and across DAP
``setBreakpoints`` batches. A batch gives one result per line: verified, moved to the
next step line, or unverified with the reason; one bad line never aborts the others.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from buildg_dap.debugger.conditions import ConditionError, check_condition, check_hit_condition
from buildg_dap.debugger.program import Program, Step

ON_FAIL = "on-fail"


class BreakpointError(ValueError):
    pass


@dataclass(frozen=True)
class LineSpec:
    """What a client asks for at one line."""

    line: int
    condition: str = ""
    hit_condition: str = ""
    log_message: str = ""


@dataclass
class Breakpoint:
    id: int
    requested_line: int
    line: int | None  # where it is effective; None when unverified
    condition: str = ""
    hit_condition: str = ""
    log_message: str = ""
    problem: str = ""  # why it is unverified
    hits: int = 0

    @property
    def key(self) -> str:
        return str(self.id)

    @property
    def verified(self) -> bool:
        return self.line is not None

    @property
    def moved(self) -> bool:
        return self.line is not None and self.line != self.requested_line

    @property
    def is_logpoint(self) -> bool:
        return bool(self.log_message)

    def state(self) -> tuple[int | None, str]:
        return self.line, self.problem


def _problem(program: Program, spec: LineSpec) -> str:
    if spec.line < 1:
        return f"invalid line number {spec.line}: lines start at 1"
    total = len(program.source.lines())
    if spec.line > total:
        return f"line {spec.line} is beyond the end of {program.filename} ({total} lines)"
    try:
        if spec.condition:
            check_condition(spec.condition)
        if spec.hit_condition:
            check_hit_condition(spec.hit_condition)
    except ConditionError as exc:
        return f"invalid condition: {exc}"
    return ""


def _resolve(program: Program, line: int) -> int | None:
    at = program.steps_at(line)
    if at:
        return at[0].line
    return program.next_step_line(line)


def _id(key: str) -> int | None:
    # isdigit() alone also takes "²", which int() refuses.
    return int(key) if key.isascii() and key.isdigit() else None


class Breakpoints:
    """Breakpoints survive reloads: they are re-resolved against each new program."""

    def __init__(self) -> None:
        self._items: dict[int, Breakpoint] = {}
        self._next = 0
        self.on_fail = True

    def _bind(self, program: Program, bp: Breakpoint) -> None:
        spec = LineSpec(bp.requested_line, bp.condition, bp.hit_condition, bp.log_message)
        bp.problem = _problem(program, spec)
        bp.line = None if bp.problem else _resolve(program, bp.requested_line)
        if not bp.problem and bp.line is None:
            bp.problem = f"no step at or after line {bp.requested_line}"

    def _new(self, program: Program, spec: LineSpec, reuse: Breakpoint | None) -> Breakpoint:
        if reuse is None:
            reuse = Breakpoint(self._next, spec.line, None)
            self._next += 1
        reuse.condition, reuse.hit_condition = spec.condition, spec.hit_condition
        reuse.log_message = spec.log_message
        self._bind(program, reuse)
        self._items[reuse.id] = reuse
        return reuse

    def add(self, program: Program, line: int) -> Breakpoint:
        """One more line breakpoint (the REPL's ``break``); a bad line is an error."""
        problem = _problem(program, LineSpec(line))
        if problem:
            raise BreakpointError(problem)
        for existing in self._items.values():
            if existing.requested_line == line:
                return existing
        return self._new(program, LineSpec(line), None)

    def set_lines(self, program: Program, specs: Sequence[LineSpec]) -> list[Breakpoint]:
        """Set exactly these line breakpoints (the DAP setBreakpoints contract), keeping
        the ids of lines that were already set; one result per spec, in order."""
        old = {bp.requested_line: bp for bp in self._items.values()}
        self._items.clear()
        made: dict[int, Breakpoint] = {}
        for spec in specs:
            # A line given twice is one breakpoint; the last spec for it wins.
            reuse = made.get(spec.line) or old.pop(spec.line, None)
            made[spec.line] = self._new(program, spec, reuse)
        return [made[spec.line] for spec in specs]

    def rebind(self, program: Program) -> list[Breakpoint]:
        """Re-resolve against a new program; returns those whose place or state changed."""
        changed = []
        for bp in self._items.values():
            before = bp.state()
            self._bind(program, bp)
            bp.hits = 0
            if bp.state() != before:
                changed.append(bp)
        return changed

    def clear(self, key: str) -> Breakpoint | None:
        """Remove breakpoint ``key`` and return it; ``on-fail`` turns that one off and
        returns None (it is no line breakpoint)."""
        if key == ON_FAIL:
            self.on_fail = False
            return None
        ident = _id(key)
        bp = self._items.pop(ident, None) if ident is not None else None
        if bp is None:
            raise BreakpointError(f"no breakpoint with key {key!r}")
        return bp

    def clear_all(self) -> None:
        self._items.clear()
        self.on_fail = False

    def items(self) -> list[Breakpoint]:
        return list(self._items.values())

    def at(self, step: Step, only: str | None = None) -> list[Breakpoint]:
        """The verified breakpoints on ``step``'s lines (only ``only`` if given)."""
        return [
            bp
            for bp in self._items.values()
            if (only is None or bp.key == only) and bp.line is not None and step.covers(bp.line)
        ]

    def get(self, key: str) -> Breakpoint | None:
        ident = _id(key)
        return self._items.get(ident) if ident is not None else None
