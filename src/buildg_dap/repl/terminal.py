"""The terminal side of the REPL: one owner of standard input (lines for commands, raw
bytes for an interactive exec), raw mode, window size and Ctrl-C."""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import stat
import struct
import sys
import termios
import tty
from collections.abc import AsyncIterator, Iterator
from typing import TextIO

import anyio
from anyio.abc import ObjectSendStream

from buildg_dap.debugger.process import Control, Resize, Signal

_CHUNK = 4096


class Input:
    """Standard input (a terminal, a pipe or a file), read without blocking the loop."""

    def __init__(self, fd: int = 0) -> None:
        self.fd = fd
        self._buffer = b""
        self._eof = False
        mode = os.fstat(fd).st_mode
        # epoll cannot wait on regular files; they are always readable anyway.
        self._pollable = not stat.S_ISREG(mode)
        self.is_terminal = os.isatty(fd)

    async def _fill(self) -> bool:
        if self._eof:
            return False
        if self._pollable:
            await anyio.wait_readable(self.fd)
        data = os.read(self.fd, _CHUNK)
        if not data:
            self._eof = True
            return False
        self._buffer += data
        return True

    async def readline(self) -> str | None:
        """One line without its newline; None at end of input."""
        while b"\n" not in self._buffer:
            if not await self._fill():
                if not self._buffer:
                    return None
                line, self._buffer = self._buffer, b""
                return line.decode("utf-8", "replace")
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.decode("utf-8", "replace").rstrip("\r")

    async def chunks(self) -> AsyncIterator[bytes]:
        """Raw bytes until end of input (for ``exec -i``)."""
        if self._buffer:
            data, self._buffer = self._buffer, b""
            yield data
        while await self._fill():
            data, self._buffer = self._buffer, b""
            yield data


def window_size(out: TextIO = sys.stdout) -> Resize | None:
    try:
        packed = fcntl.ioctl(out.fileno(), termios.TIOCGWINSZ, b"\0" * 8)
    except OSError:
        return None
    rows, cols, _, _ = struct.unpack("HHHH", packed)
    return Resize(rows, cols) if rows and cols else None


@contextlib.contextmanager
def raw_mode(fd: int) -> Iterator[None]:
    """Every key (Ctrl-C included) goes to the process while an exec has the tty."""
    saved = termios.tcgetattr(fd)
    try:
        tty.setraw(fd)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


async def forward_signals(events: ObjectSendStream[Control], tty_mode: bool) -> None:
    """Window changes become Resize; without a tty, Ctrl-C becomes an INT signal."""
    wanted = [signal.SIGWINCH] if tty_mode else [signal.SIGWINCH, signal.SIGINT]
    with anyio.open_signal_receiver(*wanted) as signals:
        async for signum in signals:
            if signum == signal.SIGWINCH:
                size = window_size()
                if size is not None:
                    await events.send(size)
            else:
                await events.send(Signal("INT"))
