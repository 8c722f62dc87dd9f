"""Build output during a debug session: plain progress until the session starts, then
buildg-style log lines for cached steps; every line kept for the ``log`` command."""

from __future__ import annotations

import io
from datetime import datetime
from typing import TextIO

from buildg_dap._proto.buildkit import control_pb2
from buildg_dap.buildkit.progress import PlainPrinter, Progress
from buildg_dap.debugger.stepconfig import is_probe_vertex


def info_line(message: str) -> str:
    stamp = datetime.now().astimezone().isoformat(timespec="seconds")
    return f"INFO[{stamp}] {message}"


class LogBuffer(io.TextIOBase):
    """A text sink that tees to ``out`` and keeps complete lines."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self.lines: list[str] = []
        self._partial = ""
        self.read_upto = 0

    def write(self, text: str) -> int:
        self._out.write(text)
        self._partial += text
        *complete, self._partial = self._partial.split("\n")
        self.lines.extend(complete)
        return len(text)

    def flush(self) -> None:
        self._out.flush()

    def tail(self, count: int | None) -> list[str]:
        self.read_upto = len(self.lines)
        return list(self.lines if count is None else self.lines[-count:])

    def unread(self) -> list[str]:
        new = self.lines[self.read_upto :]
        self.read_upto = len(self.lines)
        return new


class DebugProgress:
    """Routes Control.Status messages to the right renderer for the session phase."""

    def __init__(self, progress: Progress, log: LogBuffer) -> None:
        self._log = log
        self._plain = PlainPrinter(progress, log, listen=False)
        self._announced: set[str] = set()
        self.started = False
        progress.listeners.append(self.render)

    def render(self, message: control_pb2.StatusResponse) -> None:
        if not self.started:
            self._plain.render(message)
            return
        keep = control_pb2.StatusResponse()
        keep.CopyFrom(message)
        del keep.vertexes[:]
        for vertex in message.vertexes:
            if is_probe_vertex(vertex.name) and not vertex.error:
                # info and exec ask the frontend for the step's configuration; its
                # lines would land between a command and its output.
                continue
            if vertex.cached:
                if vertex.digest not in self._announced:
                    self._announced.add(vertex.digest)
                    self._log.write(info_line(f"CACHED {vertex.name}") + "\n")
            else:
                keep.vertexes.append(vertex)
        self._plain.render(keep)
