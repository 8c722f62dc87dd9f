"""Engine events and build output as DAP events, sent in the order they happened.

Engine listeners and progress listeners are plain callbacks; they queue here and one
task sends. ``flush`` waits until everything queued so far has been sent, so a
response can follow the output it belongs with. Each engine is one thread (one per
platform); with several, a stop or a move concerns only its own thread.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import anyio
from pydantic import BaseModel

from buildg_dap._dap import protocol as p
from buildg_dap.dap.channel import Channel
from buildg_dap.debugger.breakpoints import Breakpoint
from buildg_dap.debugger.events import (
    BreakpointChanged,
    BuildEnded,
    BuilderLost,
    Event,
    LogPoint,
    Reason,
    Resumed,
    StepCompleted,
    Stopped,
)

_REASONS = {
    Reason.ENTRY: "entry",
    Reason.BREAKPOINT: "breakpoint",
    Reason.STEP: "step",
    Reason.PAUSE: "pause",
    Reason.FAILED: "exception",
}
Queued = tuple[str, BaseModel | dict[str, Any] | None] | anyio.Event


def dap_breakpoint(bp: Breakpoint, source: p.Source) -> p.Breakpoint:
    message = bp.problem or (f"moved from line {bp.requested_line}" if bp.moved else None)
    return p.Breakpoint(
        id=bp.id,
        verified=bp.verified,
        line=bp.line if bp.line is not None else bp.requested_line,
        source=source,
        message=message,
    )


class EventRelay:
    def __init__(self, channel: Channel) -> None:
        self._channel = channel
        self._send, self._receive = anyio.create_memory_object_stream[Queued](math.inf)
        self.source = p.Source(name="Dockerfile")
        self.progress_reporting = False
        # Thread id → its platform, when the session has several threads.
        self.platforms: dict[int, str] = {}
        self._progress_id = 0
        self._in_progress: dict[int, str] = {}
        # Every complete console line, for the console's ``log`` command.
        self.lines: list[str] = []
        self._partial = ""  # console text after its last newline

    def set_dockerfile(self, path: Path) -> None:
        self.source = p.Source(name=path.name, path=str(path))

    async def pump(self) -> None:
        async with self._receive:
            async for item in self._receive:
                if isinstance(item, anyio.Event):
                    item.set()
                else:
                    await self._channel.event(*item)

    def queue(self, name: str, body: BaseModel | dict[str, Any] | None = None) -> None:
        self._send.send_nowait((name, body))

    async def flush(self) -> None:
        done = anyio.Event()
        self._send.send_nowait(done)
        await done.wait()

    def output(self, category: str, text: str) -> None:
        if category == "console":
            # Text may come in pieces (print writes the newline on its own).
            *complete, self._partial = (self._partial + text).split("\n")
            self.lines.extend(complete)
        self.queue("output", p.OutputEventBody(category=category, output=text))

    # --- engine events ----------------------------------------------------------------

    def engine_event(self, event: Event, thread: int) -> None:
        if isinstance(event, Stopped):
            self._end_progress(thread)
            stop = event.stop
            body = p.StoppedEventBody(
                reason=_REASONS[stop.reason],
                threadId=thread,
                allThreadsStopped=not self.platforms,
                hitBreakpointIds=[bp.id for bp in stop.breakpoints] or None,
                description=stop.error.message if stop.error is not None else None,
                text=stop.error.message if stop.error is not None else None,
            )
            self.queue("stopped", body)
        elif isinstance(event, Resumed):
            self.queue(
                "continued",
                p.ContinuedEventBody(threadId=thread, allThreadsContinued=not self.platforms),
            )
            self._start_progress(thread)
        elif isinstance(event, StepCompleted):
            self._update_progress(thread, event)
        elif isinstance(event, LogPoint):
            self.queue(
                "output",
                p.OutputEventBody(
                    category="console", output=event.message + "\n", source=self.source,
                    line=event.step.line,
                ),
            )  # fmt: skip
        elif isinstance(event, BreakpointChanged):
            self.queue(
                "breakpoint",
                p.BreakpointEventBody(
                    reason="changed", breakpoint=dap_breakpoint(event.breakpoint, self.source)
                ),
            )
        elif isinstance(event, BuildEnded):
            self._end_progress(thread)
            error = event.finished.error
            if error is not None:
                self.output("stderr", f"build failed: {error.message}\n")
            self.finish(0 if error is None else 1)
        elif isinstance(event, BuilderLost):
            for started in list(self._in_progress):
                self._end_progress(started)
            self.output("important", event.message + "\n")
            self.queue("terminated", p.TerminatedEventBody())

    def thread_exited(self, thread: int) -> None:
        """One platform's build ended while others go on."""
        self._end_progress(thread)
        self.queue("thread", p.ThreadEventBody(reason="exited", threadId=thread))

    def thread_started(self, thread: int) -> None:
        self.queue("thread", p.ThreadEventBody(reason="started", threadId=thread))

    def finish(self, exit_code: int) -> None:
        """The whole build (every platform's) has ended."""
        self.queue("exited", p.ExitedEventBody(exitCode=exit_code))
        self.queue("terminated", p.TerminatedEventBody())

    # --- progress (only for clients that asked for it) ------------------------------

    def _start_progress(self, thread: int) -> None:
        if not self.progress_reporting or thread in self._in_progress:
            return
        self._progress_id += 1
        progress_id = self._in_progress[thread] = f"build-{self._progress_id}"
        title = f"Building {self.platforms[thread]}" if thread in self.platforms else "Building"
        self.queue("progressStart", p.ProgressStartEventBody(progressId=progress_id, title=title))

    def _update_progress(self, thread: int, event: StepCompleted) -> None:
        progress_id = self._in_progress.get(thread)
        if progress_id is None:
            return
        state = "failed" if event.error else (event.origin.describe() if event.origin else "done")
        self.queue(
            "progressUpdate",
            p.ProgressUpdateEventBody(
                progressId=progress_id, message=f"{event.step.label()} {state}"
            ),
        )

    def _end_progress(self, thread: int) -> None:
        progress_id = self._in_progress.pop(thread, None)
        if progress_id is not None:
            self.queue("progressEnd", p.ProgressEndEventBody(progressId=progress_id))
