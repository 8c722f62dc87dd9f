"""Line breakpoints and the on-fail breakpoint, keyed like buildg (``0``, ``1``, ``on-fail``)."""

from __future__ import annotations

from dataclasses import dataclass

from buildg_dap.debugger.program import Program, Step

ON_FAIL = "on-fail"


class BreakpointError(ValueError):
    pass


@dataclass
class Breakpoint:
    key: str
    requested_line: int
    line: int | None  # where it is effective; None when no step is at or after the line

    @property
    def verified(self) -> bool:
        return self.line is not None

    @property
    def moved(self) -> bool:
        return self.line is not None and self.line != self.requested_line

    def describe(self) -> str:
        if self.line is None:
            return f"[{self.key}]: line {self.requested_line} (no step here; unverified)"
        if self.moved:
            return f"[{self.key}]: line {self.line} (moved from line {self.requested_line})"
        return f"[{self.key}]: line {self.line}"


class Breakpoints:
    """Breakpoints survive reloads: they are re-resolved against each new program."""

    def __init__(self) -> None:
        self._items: dict[str, Breakpoint] = {}
        self._next = 0
        self.on_fail = True

    def add(self, program: Program, line: int) -> Breakpoint:
        if line < 1:
            raise BreakpointError(f"invalid line number {line}: lines start at 1")
        total = len(program.source.lines())
        if line > total:
            raise BreakpointError(
                f"line {line} is beyond the end of {program.filename} ({total} lines)"
            )
        for existing in self._items.values():
            if existing.requested_line == line:
                return existing
        bp = Breakpoint(str(self._next), line, self._resolve(program, line))
        self._items[bp.key] = bp
        self._next += 1
        return bp

    @staticmethod
    def _resolve(program: Program, line: int) -> int | None:
        if program.steps_at(line):
            return program.steps_at(line)[0].line
        return program.next_step_line(line)

    def rebind(self, program: Program) -> None:
        for bp in self._items.values():
            bp.line = self._resolve(program, bp.requested_line)

    def clear(self, key: str) -> Breakpoint:
        if key == ON_FAIL:
            self.on_fail = False
            return Breakpoint(ON_FAIL, 0, None)
        try:
            return self._items.pop(key)
        except KeyError:
            raise BreakpointError(f"no breakpoint with key {key!r}") from None

    def clear_all(self) -> None:
        self._items.clear()
        self.on_fail = False

    def replace_lines(self, program: Program, lines: list[int]) -> list[Breakpoint]:
        """Set exactly these line breakpoints (the DAP setBreakpoints contract)."""
        self._items.clear()
        return [self.add(program, line) for line in lines]

    def items(self) -> list[Breakpoint]:
        return list(self._items.values())

    def hit(self, step: Step, only: str | None = None) -> Breakpoint | None:
        for bp in self._items.values():
            if only is not None and bp.key != only:
                continue
            if bp.line is not None and step.covers(bp.line):
                return bp
        return None

    def get(self, key: str) -> Breakpoint | None:
        return self._items.get(key)
