"""Drive ``buildg-dap debug`` as a user would: a subprocess fed a command script."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tests.integration.cliutil import write_context
from tests.lab import Buildkitd

__all__ = ["LiveSession", "Transcript", "debug_command", "run_debug", "write_context"]


@dataclass
class Transcript:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


def debug_command(builder: Buildkitd, context: Path, *flags: str) -> list[str]:
    return [sys.executable, "-m", "buildg_dap", "debug", "--addr", builder.address, *flags,
            str(context)]


def run_debug(
    builder: Buildkitd, context: Path, script: list[str], *flags: str, timeout: float = 300
) -> Transcript:
    done = subprocess.run(
        debug_command(builder, context, *flags),
        input="".join(line + "\n" for line in script),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Transcript(done.returncode, done.stdout, done.stderr)


class LiveSession:
    """A debug session fed one command at a time, waiting for each to finish, so the
    test can change things on the host between commands."""

    PROMPT = "(buildg) "

    def __init__(self, builder: Buildkitd, context: Path, *flags: str) -> None:
        self._process = subprocess.Popen(
            debug_command(builder, context, *flags),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        )
        self.out = ""
        self._pos = 0  # waits match only output after the previous match
        self._wait_for(self.PROMPT)

    def _wait_for(self, text: str, timeout: float = 120) -> None:
        assert self._process.stdout is not None
        fd = self._process.stdout.fileno()
        deadline = time.monotonic() + timeout
        while (found := self.out.find(text, self._pos)) < 0:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{text!r} not seen; output:\n{self.out}")
            ready, _, _ = select.select([fd], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                raise AssertionError(f"session ended before {text!r}; output:\n{self.out}")
            self.out += chunk.decode(errors="replace")
        self._pos = found + len(text)

    def run(self, command: str, until: str = "") -> None:
        assert self._process.stdin is not None
        self._process.stdin.write(command.encode() + b"\n")
        self._process.stdin.flush()
        if command in ("q", "quit", "exit"):
            self._process.wait(timeout=60)
            return
        if until:
            self._wait_for(until)
        self._wait_for(self.PROMPT)

    def __enter__(self) -> LiveSession:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait(timeout=60)
