"""exec on a terminal: a real tty inside the container, its size, and Ctrl-C."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import termios
import time
from pathlib import Path

from tests.integration.debugsession import debug_command, write_context
from tests.lab import Buildkitd

DOCKERFILE = "FROM busybox\nRUN echo ready > /ready\n"


class Terminal:
    """The debug CLI on a pseudo-terminal, read until expected text appears."""

    def __init__(self, argv: list[str], rows: int = 33, cols: int = 101) -> None:
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.process = subprocess.Popen(
            argv, stdin=slave, stdout=slave, stderr=slave, start_new_session=True,
            preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),
        )
        os.close(slave)
        self.seen = b""
        self.pos = 0  # expectations match only output after the previous match

    def send(self, text: str) -> None:
        os.write(self.master, text.encode())

    def expect(self, text: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        wanted = text.encode()
        while (found := self.seen.find(wanted, self.pos)) < 0:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{text!r} not seen; got:\n{self.seen[self.pos:].decode(errors='replace')}"
                )
            ready, _, _ = select.select([self.master], [], [], 0.5)
            if ready:
                try:
                    self.seen += os.read(self.master, 65536)
                except OSError:
                    break
        self.pos = found + len(wanted)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=30)
        os.close(self.master)


def test_exec_gets_a_tty_its_size_and_ctrl_c(tmp_path: Path, builder_a: Buildkitd) -> None:
    context = write_context(tmp_path / "ctx", DOCKERFILE)
    term = Terminal(debug_command(builder_a, context))
    try:
        term.expect("(buildg) ")
        term.send("break 2\r")
        term.expect("(buildg) ")
        term.send("continue\r")
        term.expect("Breakpoint[0]: reached line: Dockerfile:2")
        term.send(
            # stty can fail while runc is still setting the console up under load
            # ("No child processes"); what is tested is the size that gets through.
            "exec sh -c 'tty; until stty size; do sleep 0.1; done; "
            "trap \"echo caught-int; exit 5\" INT; "
            "echo trap-set; while true; do sleep 1; done'\r"
        )
        term.expect("/dev/pts/")
        term.expect("33 101")
        term.expect("trap-set")  # Ctrl-C before the trap would just kill the shell
        term.send("\x03")
        term.expect("caught-int")
        term.expect("exit code: 5")
        term.expect("(buildg) ")
        term.send("exec\r")
        term.expect("# ")
        term.send("cat /ready; exit 4\r")
        term.expect("exit code: 4")
        term.send("q\r")
        assert term.process.wait(timeout=60) == 0
    finally:
        term.close()
