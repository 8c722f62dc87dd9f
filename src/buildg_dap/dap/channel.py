"""The adapter's side of one DAP connection: numbered outgoing messages, responses to
requests, events, and reverse requests (``runInTerminal``) awaiting the client's answer."""

from __future__ import annotations

import itertools
from typing import Any

import anyio
from pydantic import BaseModel

from buildg_dap._dap.protocol import dump
from buildg_dap.dap.wire import MessageWriter


class ReverseRequestFailed(Exception):
    pass


def request_seq(request: object) -> int:
    """The ``request_seq`` answering ``request``: its seq if that is an integer, else 0.
    Echoing any other JSON would break the protocol, and a deeply nested value that
    was just decodable may not encode again."""
    seq = request.get("seq") if isinstance(request, dict) else None
    return seq if isinstance(seq, int) and not isinstance(seq, bool) else 0


class Channel:
    def __init__(self, writer: MessageWriter) -> None:
        self._writer = writer
        self._seq = itertools.count(1)
        self._pending: dict[int, tuple[anyio.Event, list[dict[str, Any]]]] = {}
        self.closed = False

    async def _send(self, message: dict[str, Any]) -> None:
        if self.closed:
            return
        message["seq"] = next(self._seq)
        try:
            await self._writer.write(message)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
            # The client is gone; the adapter notices on its read side and shuts down.
            self.closed = True

    async def respond(
        self, request: dict[str, Any], body: BaseModel | dict[str, Any] | None = None
    ) -> None:
        message: dict[str, Any] = {
            "type": "response",
            "request_seq": request_seq(request),
            "success": True,
            "command": request.get("command", ""),
        }
        if body is not None:
            message["body"] = dump(body) if isinstance(body, BaseModel) else body
        await self._send(message)

    async def fail(self, request: dict[str, Any], error: str, *, show: bool = True) -> None:
        """An error response; ``show`` asks the client to show the message to the user."""
        await self._send(
            {
                "type": "response",
                "request_seq": request_seq(request),
                "success": False,
                "command": str(request.get("command", "")) if isinstance(request, dict) else "",
                "message": error,
                "body": {"error": {"id": 1, "format": error, "showUser": show}},
            }
        )

    async def event(self, name: str, body: BaseModel | dict[str, Any] | None = None) -> None:
        message: dict[str, Any] = {"type": "event", "event": name}
        if body is not None:
            message["body"] = dump(body) if isinstance(body, BaseModel) else body
        await self._send(message)

    async def request(self, command: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """A reverse request; returns the response body or raises ReverseRequestFailed."""
        seq = next(self._seq)
        done = anyio.Event()
        box: list[dict[str, Any]] = []
        self._pending[seq] = (done, box)
        message = {"type": "request", "command": command, "arguments": arguments, "seq": seq}
        try:
            await self._writer.write(message)
            await done.wait()
        finally:
            self._pending.pop(seq, None)
        response = box[0]
        if not response.get("success"):
            raise ReverseRequestFailed(str(response.get("message") or f"{command} failed"))
        body = response.get("body")
        return body if isinstance(body, dict) else {}

    def answered(self, response: dict[str, Any]) -> None:
        """A response from the client to one of our reverse requests."""
        seq = response.get("request_seq")
        pending = self._pending.get(seq) if isinstance(seq, int) else None
        if pending is not None:
            pending[1].append(response)
            pending[0].set()
