"""Build output as DAP ``output`` events: progress in buildctl's plain format as category
``console``, what the steps themselves print as ``stdout``/``stderr``."""

from __future__ import annotations

from collections.abc import Callable

from buildg_dap._proto.buildkit import control_pb2
from buildg_dap.buildkit.progress import PlainPrinter, Progress
from buildg_dap.debugger.stepconfig import is_probe_vertex

# (category, text) → queued as an output event
Emit = Callable[[str, str], None]


class _Console:
    """A text sink that turns the plain printer's writes into console output."""

    def __init__(self, emit: Emit) -> None:
        self._emit = emit
        self._buffer = ""

    def write(self, text: str, /) -> int:
        self._buffer += text
        return len(text)

    def flush(self) -> None:
        if self._buffer:
            self._emit("console", self._buffer)
            self._buffer = ""


class OutputEvents:
    def __init__(self, progress: Progress, emit: Emit) -> None:
        self._emit = emit
        self._plain = PlainPrinter(progress, _Console(emit), listen=False)
        self._seen: set[str] = set()
        progress.listeners.append(self.render)

    def _shown(self, vertex: control_pb2.Vertex) -> bool:
        """Inspecting a step asks the frontend for its configuration: its own vertex and
        the base image lookups it repeats are bookkeeping, not the build's progress."""
        first = vertex.digest not in self._seen
        if vertex.HasField("completed"):
            self._seen.add(vertex.digest)
        if vertex.error or not is_probe_vertex(vertex.name):
            return True
        return first and "load metadata for" in vertex.name

    def render(self, message: control_pb2.StatusResponse) -> None:
        rest = control_pb2.StatusResponse()
        rest.CopyFrom(message)
        del rest.logs[:], rest.vertexes[:], rest.statuses[:]
        hidden = set()
        for vertex in message.vertexes:
            if self._shown(vertex):
                rest.vertexes.append(vertex)
            else:
                hidden.add(vertex.digest)
        rest.statuses.extend(s for s in message.statuses if s.vertex not in hidden)
        self._plain.render(rest)
        for log in message.logs:
            text = log.msg.decode("utf-8", "replace")
            if text:
                self._emit("stderr" if log.stream == 2 else "stdout", text)
