"""Every stop of a session, in order, and which one is being looked at.

Stops keep their result ids, which stay alive in buildkitd for the whole build, so a
stop gone back to is exactly as it was and costs no solve. Moving forward from an
earlier stop walks the history again before anything new is evaluated.
"""

from __future__ import annotations

from collections.abc import Callable

from buildg_dap.debugger.events import Stop


class History:
    def __init__(self) -> None:
        self._stops: list[Stop] = []
        self._view = -1

    def reset(self, first: Stop) -> None:
        self._stops = [first]
        self._view = 0

    def append(self, stop: Stop) -> None:
        self._stops.append(stop)
        self._view = len(self._stops) - 1

    @property
    def stops(self) -> list[Stop]:
        return list(self._stops)

    @property
    def current(self) -> Stop | None:
        return self._stops[self._view] if self._stops else None

    @property
    def live(self) -> Stop | None:
        """The newest stop: where the build itself is."""
        return self._stops[-1] if self._stops else None

    @property
    def at_live(self) -> bool:
        return self._view == len(self._stops) - 1

    def back(self) -> Stop | None:
        if self._view <= 0:
            return None
        self._view -= 1
        return self._stops[self._view]

    def back_to(self, wanted: Callable[[Stop], bool]) -> Stop | None:
        """The nearest earlier stop that is ``wanted``, else the first stop."""
        if self._view <= 0:
            return None
        for index in range(self._view - 1, 0, -1):
            if wanted(self._stops[index]):
                self._view = index
                return self._stops[index]
        self._view = 0
        return self._stops[0]

    def forward(self) -> Stop | None:
        """The next recorded stop when looking at an earlier one; None at the live one."""
        if self.at_live:
            return None
        self._view += 1
        return self._stops[self._view]

    def forward_to(self, wanted: Callable[[Stop], bool]) -> Stop | None:
        """The next recorded stop that is ``wanted``; when none is, the live stop (None
        if already there, so the caller moves the build on)."""
        if self.at_live:
            return None
        for index in range(self._view + 1, len(self._stops)):
            if wanted(self._stops[index]):
                self._view = index
                return self._stops[index]
        self._view = len(self._stops) - 1
        return self._stops[-1]
