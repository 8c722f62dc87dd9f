"""The threads of a DAP session: one per platform being built, each with its own engine
(or the reason its program did not load), and its build output told apart by platform."""

from __future__ import annotations

from dataclasses import dataclass

from buildg_dap.buildkit.errors import SolveError
from buildg_dap.dap.console import Console
from buildg_dap.dap.inspection import Inspector
from buildg_dap.dap.output import Emit
from buildg_dap.debugger.engine import Engine
from buildg_dap.debugger.errors import EngineError
from buildg_dap.debugger.events import Reason, Stop


class Prefixed:
    """Output of one of several platforms' builds, every line led by its platform."""

    def __init__(self, platform: str, emit: Emit) -> None:
        self._prefix = f"[{platform}] "
        self._emit = emit
        self._fresh: dict[str, bool] = {}  # per category: the next text starts a line

    def __call__(self, category: str, text: str) -> None:
        lines = text.split("\n")
        fresh = self._fresh.get(category, True)
        out = [self._prefix + lines[0] if fresh and lines[0] else lines[0]]
        out += [self._prefix + line if line else line for line in lines[1:]]
        self._fresh[category] = text.endswith("\n")
        self._emit(category, "\n".join(out))


@dataclass
class BuildThread:
    """One platform's build: a DAP thread."""

    id: int
    platform: str  # "" when the launch named no platform
    runnable: bool = True  # the builder runs this platform's programs
    engine: Engine | None = None
    inspector: Inspector | None = None
    console: Console | None = None
    # Why its program did not load: a stop on it, until the client moves on.
    load_failure: SolveError | None = None
    ended: bool = False
    failed: bool = False

    @property
    def name(self) -> str:
        if not self.platform:
            return "build"
        marker = "" if self.runnable else f" (cannot run {self.platform} programs here)"
        return f"build ({self.platform}){marker}"

    @property
    def loaded(self) -> bool:
        return self.engine is not None or self.load_failure is not None

    @property
    def stop(self) -> Stop | None:
        if self.engine is not None:
            return self.engine.stop
        if self.load_failure is None or self.ended:
            return None
        return Stop(Reason.FAILED, None, error=self.load_failure)

    def require(self) -> Engine:
        if self.engine is None:
            if self.load_failure is None:
                raise EngineError("the build is still loading")
            raise EngineError(f"{self.platform}: the build did not load")
        if self.engine.finished is not None:
            raise EngineError("the build has finished")
        return self.engine
