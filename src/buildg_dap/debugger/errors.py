"""The engine's errors, apart so that every debugger module can raise them."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from buildg_dap.debugger.events import Finished


class EngineError(Exception):
    """A request the engine cannot honour in its current state."""


class BuilderGone(EngineError):
    """buildkitd went away (killed, restarted, connection dropped): the session is over."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Exited(Exception):
    """The build ran to its end (successfully or not); no more stops."""

    def __init__(self, finished: Finished) -> None:
        super().__init__("build finished")
        self.finished = finished


class Paused(Exception):
    """A running move was paused before its solve finished."""
