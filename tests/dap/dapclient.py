"""A small DAP client for tests: runs ``buildg-dap dap`` as an editor would (stdio) and
records every event, so tests can wait for one and check the order of others."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import Process, TaskGroup
from anyio.streams.stapled import StapledByteStream

from buildg_dap.dap.wire import MessageReader, MessageWriter
from tests.lab.service import clean_env

Message = dict[str, Any]


class DapError(Exception):
    def __init__(self, response: Message) -> None:
        super().__init__(response.get("message") or response)
        self.response = response


class DapClient:
    def __init__(self, process: Process, tg: TaskGroup) -> None:
        assert process.stdout is not None and process.stdin is not None
        stream = StapledByteStream(process.stdin, process.stdout)
        self.process = process
        self._reader = MessageReader(stream)
        self._writer = MessageWriter(stream)
        self._seq = 0
        self._responses: dict[int, Message] = {}
        self.events: list[Message] = []
        self.reverse: list[Message] = []
        self.closed = False
        self.failure: Exception | None = None
        self._changed = anyio.Event()
        self.answer_reverse: Callable[[Message], Message | None] = lambda _: None
        tg.start_soon(self._read)

    async def _read(self) -> None:
        while True:
            try:
                message = await self._reader.read()
            except Exception as error:
                self.failure = error
                message = None
            if message is None:
                self.closed = True
                self._wake()
                return
            if message["type"] == "response":
                self._responses[int(message["request_seq"])] = message
            elif message["type"] == "event":
                self.events.append(message)
            elif message["type"] == "request":
                self.reverse.append(message)
                body = self.answer_reverse(message)
                await self._writer.write(
                    {"seq": 0, "type": "response", "request_seq": message["seq"],
                     "command": message["command"], "success": body is not None,
                     "body": body or {}}
                )  # fmt: skip
            self._wake()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    async def send(self, command: str, arguments: Message | None = None) -> int:
        self._seq += 1
        message: Message = {"seq": self._seq, "type": "request", "command": command}
        if arguments is not None:
            message["arguments"] = arguments
        await self._writer.write(message)
        return self._seq

    async def response(self, seq: int, within: float = 120) -> Message:
        with anyio.fail_after(within):
            while seq not in self._responses:
                if self.closed:
                    raise EOFError("the adapter closed the connection")
                await self._changed.wait()
        return self._responses.pop(seq)

    async def request(
        self, command: str, arguments: Message | None = None, within: float = 120
    ) -> Message:
        """The response body; raises DapError on an error response."""
        response = await self.response(await self.send(command, arguments), within)
        if not response["success"]:
            raise DapError(response)
        body: Message = response.get("body") or {}
        return body

    async def event(
        self, name: str, where: Callable[[Message], bool] = lambda _: True,
        *, after: int = 0, within: float = 120,
    ) -> Message:  # fmt: skip
        """The first event called ``name`` (at index ``after`` or later) that matches."""
        with anyio.fail_after(within):
            while True:
                for event in self.events[after:]:
                    if event["event"] == name and where(event.get("body") or {}):
                        return event
                if self.closed:
                    raise EOFError(f"closed before a {name} event ({self.failure!r})")
                await self._changed.wait()

    def output(self, *categories: str) -> str:
        return "".join(
            e["body"]["output"] for e in self.events
            if e["event"] == "output"
            and (not categories or e["body"].get("category") in categories)
        )  # fmt: skip

    async def stopped(self, *, after: int = 0, within: float = 120) -> Message:
        body: Message = (await self.event("stopped", after=after, within=within))["body"]
        return body

    async def ended(self, *, after: int = 0) -> int:
        """The exit code of the first ``exited`` event at index ``after`` or later, once a
        ``terminated`` event has come too."""
        exited = await self.event("exited", after=after)
        await self.event("terminated", after=after)
        return int(exited["body"]["exitCode"])

    async def top_frame(self) -> Message:
        frames = (await self.request("stackTrace", {"threadId": 1}))["stackFrames"]
        return dict(frames[0])

    async def scope(self, name: str, frame_id: int | None = None) -> dict[str, str]:
        if frame_id is None:
            frame_id = int((await self.top_frame())["id"])
        scopes = (await self.request("scopes", {"frameId": frame_id}))["scopes"]
        ref = next(s["variablesReference"] for s in scopes if s["name"] == name)
        variables = (await self.request("variables", {"variablesReference": ref}))["variables"]
        return {v["name"]: v["value"] for v in variables}

    async def evaluate(self, expression: str, context: str = "repl") -> Message:
        return await self.request("evaluate", {"expression": expression, "context": context})


def adapter_command(*extra: str) -> list[str]:
    # BUILDG_DAP_TRACE_DIR: keep each adapter's trace (and its log lines) for a post-mortem.
    traces = os.environ.get("BUILDG_DAP_TRACE_DIR")
    if traces:
        extra = (*extra, "--log", tempfile.mkstemp(".log", "adapter-", traces)[1])
    return [sys.executable, "-m", "buildg_dap", "dap", *extra]


@asynccontextmanager
async def dap_session(
    cwd: Path | None = None, *, initialize: Message | None = None,
    env: dict[str, str] | None = None,
) -> AsyncIterator[DapClient]:
    """An adapter process and a client that has sent ``initialize``."""
    traces = os.environ.get("BUILDG_DAP_TRACE_DIR")
    errors = Path(tempfile.mkstemp(".stderr", "adapter-", traces)[1]) if traces else None
    process = await anyio.open_process(
        adapter_command(), cwd=cwd, env={**clean_env(), **(env or {})},
        stderr=errors.open("ab") if errors is not None else None,
    )  # fmt: skip
    async with process, anyio.create_task_group() as tg:
        client = DapClient(process, tg)
        try:
            await client.request(
                "initialize",
                {"adapterID": "buildg-dap", "linesStartAt1": True, "columnsStartAt1": True,
                 "supportsProgressReporting": True, **(initialize or {})},
            )  # fmt: skip
            yield client
        finally:
            if process.returncode is None:
                process.terminate()
            with anyio.move_on_after(10):
                await process.wait()
            if process.returncode is None:
                process.kill()
            tg.cancel_scope.cancel()


async def launch(client: DapClient, config: Message, lines: list[int]) -> Message:
    """launch → initialized → setBreakpoints → configurationDone; the breakpoints' answer."""
    seq = await client.send("launch", config)
    await client.event("initialized", within=180)
    dockerfile = str(Path(config["contextPath"]) / config.get("dockerfile", "Dockerfile"))
    answer = await client.request(
        "setBreakpoints",
        {"source": {"path": dockerfile}, "breakpoints": [{"line": n} for n in lines]},
    )
    await client.request("configurationDone")
    response = await client.response(seq)
    if not response["success"]:
        raise DapError(response)
    return answer


async def walk_seed(
    client: DapClient, at_line_5: Callable[[Message], Awaitable[None]] | None = None
) -> None:
    """The seed walkthrough once launched with breakpoints on lines 5 and 10: ``exec`` at
    each stop, then on to a successful end. ``at_line_5`` gets the first stopped event
    for checks of its own."""
    first = await client.stopped()
    assert first["reason"] == "breakpoint"
    assert (await client.top_frame())["line"] == 5
    assert (await client.evaluate("exec cat /hi"))["result"] == "exit code 0"
    assert client.output("stdout").endswith("hi\n")
    if at_line_5 is not None:
        await at_line_5(first)
    mark = len(client.events)
    await client.request("continue", {"threadId": 1})
    second = await client.stopped(after=mark)
    assert second["reason"] == "breakpoint"
    assert (await client.top_frame())["line"] == 10
    before = len(client.output("stdout"))
    await client.evaluate("exec cat /hello /hi")
    assert client.output("stdout")[before:] == "hello\nhi\n"
    mark = len(client.events)
    await client.request("continue", {"threadId": 1})
    assert await client.ended(after=mark) == 0
