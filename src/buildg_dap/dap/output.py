"""Build output as DAP ``output`` events: progress in buildctl's plain format as category
``console``, what the steps themselves print as ``stdout``/``stderr``."""

from __future__ import annotations

from collections.abc import Callable

from buildg_dap._proto.buildkit import control_pb2
from buildg_dap.buildkit.progress import PlainPrinter, Progress

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
        progress.listeners.append(self.render)

    def render(self, message: control_pb2.StatusResponse) -> None:
        rest = control_pb2.StatusResponse()
        rest.CopyFrom(message)
        del rest.logs[:]
        self._plain.render(rest)
        for log in message.logs:
            text = log.msg.decode("utf-8", "replace")
            if text:
                self._emit("stderr" if log.stream == 2 else "stdout", text)
