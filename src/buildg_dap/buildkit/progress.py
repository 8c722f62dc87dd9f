"""Build progress from Control.Status: per-vertex state, and a plain-text printer in the
style of ``buildctl --progress=plain`` (``#N [stage 1/2] RUN ...``, ``#N CACHED``, ...)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import anyio
from google.protobuf.timestamp_pb2 import Timestamp

from buildg_dap._proto.buildkit import control_pb2


def _seconds(ts: Timestamp) -> float:
    return ts.seconds + ts.nanos / 1e9


def human_size(n: int) -> str:
    value = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f}{unit}" if unit == "B" else f"{value:.2f}{unit}"
        value /= 1000
    raise AssertionError("unreachable")


@dataclass
class VertexState:
    digest: str
    number: int
    name: str = ""
    cached: bool = False
    started: float | None = None
    completed: float | None = None
    error: str = ""

    @property
    def duration(self) -> float | None:
        if self.started is None or self.completed is None:
            return None
        return self.completed - self.started


@dataclass
class Progress:
    """What buildkitd has told us about every vertex so far."""

    vertices: dict[str, VertexState] = field(default_factory=dict)
    listeners: list[Callable[[control_pb2.StatusResponse], None]] = field(default_factory=list)
    _waiters: dict[str, anyio.Event] = field(default_factory=dict)

    def vertex(self, digest: str) -> VertexState:
        state = self.vertices.get(digest)
        if state is None:
            state = VertexState(digest=digest, number=len(self.vertices) + 1)
            self.vertices[digest] = state
        return state

    def reset(self) -> None:
        """Forget every vertex: a new build reports its own (a step that one build ran
        is CACHED in the next, and the first report would otherwise stand)."""
        self.vertices.clear()
        for event in self._waiters.values():
            event.set()
        self._waiters.clear()

    def update(self, message: control_pb2.StatusResponse) -> None:
        for v in message.vertexes:
            state = self.vertex(v.digest)
            state.name = v.name or state.name
            # The first completion decides: a step executed by one solve is reported
            # CACHED by every later solve that reuses it, and keeps the times it ran.
            reused = state.completed is not None and not state.cached and v.cached
            if state.completed is None or state.cached:
                state.cached = state.cached or v.cached
            if v.HasField("started") and not reused:
                state.started = _seconds(v.started)
            if v.HasField("completed") and not reused:
                state.completed = _seconds(v.completed)
            state.error = v.error or state.error
        for listener in self.listeners:
            listener(message)
        for v in message.vertexes:
            if v.HasField("completed") and v.digest in self._waiters:
                self._waiters.pop(v.digest).set()

    async def completed(self, digest: str, *, within: float) -> VertexState | None:
        """The vertex once buildkitd has reported it done. A solve can return before its
        status arrives; None if it is not reported in time (BuildKit may not report a
        vertex whose result it already had)."""
        state = self.vertices.get(digest)
        if state is None or state.completed is None:
            event = self._waiters.setdefault(digest, anyio.Event())
            with anyio.move_on_after(within):
                await event.wait()
            state = self.vertices.get(digest)
        return state if state is not None and state.completed is not None else None


class TextSink(Protocol):
    def write(self, text: str, /) -> int: ...

    def flush(self) -> None: ...


class PlainPrinter:
    """Renders status messages as buildctl's plain progress does."""

    def __init__(self, progress: Progress, out: TextSink, *, listen: bool = True) -> None:
        self._progress = progress
        self._out = out
        self._headed: set[str] = set()
        self._reported: set[tuple[str, str]] = set()
        self._current = ""
        self._pending: dict[str, dict[str, control_pb2.VertexStatus]] = {}
        if listen:
            progress.listeners.append(self.render)

    def _line(self, digest: str, text: str) -> None:
        state = self._progress.vertex(digest)
        if digest not in self._headed:
            self._headed.add(digest)
            self._out.write(f"\n#{state.number} {state.name}\n")
        elif self._current != digest and text:
            self._out.write(f"\n#{state.number} {state.name}\n")
        self._current = digest
        if text:
            self._out.write(f"#{state.number} {text}\n")

    def _once(self, digest: str, what: str) -> bool:
        key = (digest, what)
        if key in self._reported:
            return False
        self._reported.add(key)
        return True

    def render(self, message: control_pb2.StatusResponse) -> None:
        for v in message.vertexes:
            if v.HasField("started") and self._once(v.digest, "start"):
                self._line(v.digest, "")
            if v.cached and self._once(v.digest, "cached"):
                self._line(v.digest, "CACHED")
        for s in message.statuses:
            self._status(s)
        for log in message.logs:
            state = self._progress.vertex(log.vertex)
            start = state.started if state.started is not None else _seconds(log.timestamp)
            elapsed = max(0.0, _seconds(log.timestamp) - start)
            for line in log.msg.decode("utf-8", "replace").splitlines():
                self._line(log.vertex, f"{elapsed:.3f} {line}")
        for w in message.warnings:
            self._line(w.vertex, f"WARN: {w.short.decode('utf-8', 'replace')}")
        for v in message.vertexes:
            # A vertex can complete, start again and complete again (a local source:
            # its cache key first, then the transfer). Each run ends with its own line,
            # so the one that fails or takes the time is the one shown last.
            run = f"done:{_seconds(v.started)}" if v.HasField("started") else "done"
            if not v.HasField("completed") or not self._once(v.digest, run):
                continue
            for pending in self._pending.pop(v.digest, {}).values():
                self._line(v.digest, _status_text(pending, done=True))
            state = self._progress.vertex(v.digest)
            if v.error:
                self._line(v.digest, f"ERROR: {v.error}")
            elif not state.cached:
                took = _seconds(v.completed) - _seconds(v.started) if v.HasField("started") else 0.0
                self._line(v.digest, f"DONE {max(took, 0.0):.1f}s")
        self._out.flush()

    def _status(self, s: control_pb2.VertexStatus) -> None:
        # Statuses without an explicit end (context transfers) end with their vertex.
        pending = self._pending.setdefault(s.vertex, {})
        first = s.ID not in pending and self._once(s.vertex, f"status:{s.ID}")
        if s.HasField("completed"):
            pending.pop(s.ID, None)
            if self._once(s.vertex, f"done:{s.ID}"):
                self._line(s.vertex, _status_text(s, done=True))
            return
        pending[s.ID] = s
        if first and s.total:
            self._line(s.vertex, _status_text(s, done=False))


def _status_text(s: control_pb2.VertexStatus, *, done: bool) -> str:
    text = s.ID or s.name
    if s.total:
        text += f" {human_size(s.current)} / {human_size(s.total)}"
    elif s.current:
        text += f" {human_size(s.current)}"
    if s.HasField("started") and s.HasField("completed"):
        text += f" {_seconds(s.completed) - _seconds(s.started):.1f}s"
    return text + (" done" if done else "")
