"""An interactive ``exec`` from the debug console opens in the editor's terminal: the
client runs our attach command (``runInTerminal``), which carries the container's TTY."""

from __future__ import annotations

import os
import select
import subprocess
import time
from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.dap.dapclient import DapError, dap_session, launch
from tests.integration.cliutil import write_context
from tests.lab import Buildkitd
from tests.lab.service import clean_env

DOCKERFILE = "FROM busybox\nRUN echo hi > /hi\n"


class Terminal:
    """What an editor's integrated terminal is to the command it runs: a pty."""

    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        self.process: subprocess.Popen[bytes] | None = None
        self.screen = b""

    def run(self, request: dict[str, Any]) -> dict[str, Any]:
        args = request["arguments"]
        self.process = subprocess.Popen(
            args["args"], cwd=args.get("cwd") or None, env=clean_env(), start_new_session=True,
            stdin=self.slave, stdout=self.slave, stderr=self.slave,
        )  # fmt: skip
        return {"processId": self.process.pid}

    def type(self, text: str) -> None:
        os.write(self.master, text.encode())

    def wait_for(self, wanted: bytes, within: float = 60) -> None:
        deadline = time.monotonic() + within
        while wanted not in self.screen:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{wanted!r} not on the terminal: {self.screen!r}")
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                try:
                    self.screen += os.read(self.master, 4096)
                except OSError:  # the pty's other side is closed
                    raise AssertionError(f"terminal closed: {self.screen!r}") from None

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        os.close(self.master)
        os.close(self.slave)


def test_interactive_exec_in_the_editor_terminal(tmp_path: Path, builder_a: Buildkitd) -> None:
    context = write_context(tmp_path / "ctx", DOCKERFILE)
    terminal = Terminal()

    async def main() -> None:
        async with dap_session(initialize={"supportsRunInTerminalRequest": True}) as client:
            client.answer_reverse = terminal.run
            await launch(client, {"contextPath": str(context), "builder": builder_a.address}, [2])
            await client.stopped()
            answer = await client.evaluate("exec")
            assert answer["result"] == "interactive /bin/sh opened in the terminal"
            assert client.reverse[0]["command"] == "runInTerminal"
            await anyio.to_thread.run_sync(terminal.type, "cat /hi; echo $((6*7))\n")
            await anyio.to_thread.run_sync(terminal.wait_for, b"42")
            assert b"hi" in terminal.screen
            # the session goes on meanwhile
            await client.evaluate("exec true")
            await anyio.to_thread.run_sync(terminal.type, "exit 7\n")
            assert terminal.process is not None
            code = await anyio.to_thread.run_sync(terminal.process.wait, 30)
            assert code == 7
            await client.request("disconnect")

    try:
        anyio.run(main)
    finally:
        terminal.close()


def test_interactive_exec_without_a_terminal_says_so(tmp_path: Path, builder_a: Buildkitd) -> None:
    context = write_context(tmp_path / "ctx", DOCKERFILE)

    async def main() -> None:
        async with dap_session() as client:
            await launch(client, {"contextPath": str(context), "builder": builder_a.address}, [2])
            await client.stopped()
            with pytest.raises(DapError, match="cannot open a terminal"):
                await client.evaluate("exec -t /bin/sh")
            await client.request("disconnect")

    anyio.run(main)
