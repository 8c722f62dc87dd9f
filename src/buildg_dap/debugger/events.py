"""What the engine tells its front ends: stops, step completions, log points, breakpoint
changes, the end of the build and the loss of the builder. Front ends subscribe with a
plain callback and must not block in it (the DAP adapter queues, the REPL prints)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

from buildg_dap.buildkit.errors import SolveError
from buildg_dap.cache.attribution import StepOrigin
from buildg_dap.debugger.breakpoints import Breakpoint
from buildg_dap.debugger.program import Step


class Reason(Enum):
    ENTRY = "entry"
    BREAKPOINT = "breakpoint"
    STEP = "step"
    PAUSE = "pause"
    FAILED = "failed"


@dataclass
class Stop:
    reason: Reason
    step: Step | None  # None at entry
    breakpoints: list[Breakpoint] = field(default_factory=list)
    result_id: str | None = None
    error: SolveError | None = None
    cached: bool | None = None
    duration: float | None = None

    @property
    def breakpoint(self) -> Breakpoint | None:
        return self.breakpoints[0] if self.breakpoints else None

    @property
    def exit_code(self) -> int | None:
        return self.error.exit_code if self.error is not None else None


@dataclass
class Finished:
    error: SolveError | None = None
    exporter_response: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Stopped:
    stop: Stop


@dataclass(frozen=True)
class Resumed:
    """A move started (continue, next, …): the program runs until the next Stopped."""


@dataclass(frozen=True)
class StepCompleted:
    step: Step
    origin: StepOrigin | None  # None when the step failed
    duration: float | None
    error: str = ""


@dataclass(frozen=True)
class LogPoint:
    step: Step
    breakpoint: Breakpoint
    message: str


@dataclass(frozen=True)
class BreakpointChanged:
    breakpoint: Breakpoint


@dataclass(frozen=True)
class BuildEnded:
    finished: Finished


@dataclass(frozen=True)
class BuilderLost:
    message: str


Event = Stopped | Resumed | StepCompleted | LogPoint | BreakpointChanged | BuildEnded | BuilderLost
Listener = Callable[[Event], None]
