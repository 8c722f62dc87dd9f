"""The step records the inlay hints show, read off the event loop and only when changed.

Editors ask for hints on every scroll and edit; the record changes once per build.
"""

from __future__ import annotations

from pathlib import Path

import anyio.to_thread

from buildg_dap.debugger.steprecord import StepRecord, load_record, record_path

_Known = tuple[int, StepRecord | None]


class Records:
    def __init__(self) -> None:
        self._known: dict[Path, _Known] = {}

    async def get(self, dockerfile: Path) -> StepRecord | None:
        """The last build's record of ``dockerfile``; None when there is none."""
        known = await anyio.to_thread.run_sync(
            _read_changed, dockerfile, self._known.get(dockerfile)
        )
        if known is None:
            self._known.pop(dockerfile, None)
            return None
        self._known[dockerfile] = known
        return known[1]


def _read_changed(dockerfile: Path, known: _Known | None) -> _Known | None:
    try:
        stamp = record_path(dockerfile).stat().st_mtime_ns
    except OSError:
        return None
    if known is not None and known[0] == stamp:
        return known
    return stamp, load_record(dockerfile)
