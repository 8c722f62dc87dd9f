"""SSH agent forwarding (``--ssh default|ID=SOCKET``).

buildkitd opens one ForwardAgent stream per connection a build step makes to its
mounted agent socket, naming the agent in the ``buildkit.ssh.id`` metadata
(session/sshforward/ssh.go). Each stream becomes one connection to the local agent,
with bytes copied both ways as they are (BuildKit's "raw" forwarding).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import anyio
import grpc
from anyio.abc import SocketStream
from grpc import aio
from pydantic import BaseModel, ConfigDict

from buildg_dap._proto.session import ssh_pb2
from buildg_dap.buildkit.session.rpcserver import Attachable, CallContext

DEFAULT_ID = "default"
ID_METADATA_KEY = "buildkit.ssh.id"
_CHUNK = 32 * 1024


class SSHSpecError(ValueError):
    pass


class SSHSpec(BaseModel):
    """One forwarded agent: the id a Dockerfile mounts and the agent's socket."""

    model_config = ConfigDict(frozen=True)

    id: str
    socket: Path

    @classmethod
    def parse(cls, text: str, base: Path = Path()) -> SSHSpec:
        """buildx's form ``ID[=PATH[,PATH...]]``; no path means ``$SSH_AUTH_SOCK``, a
        relative one is taken from ``base``."""

        def invalid(reason: str) -> SSHSpecError:
            return SSHSpecError(f"invalid ssh spec {text!r}: {reason}")

        ident, sep, rest = text.partition("=")
        paths = rest.split(",") if sep and rest else []
        if not paths:
            agent = os.environ.get("SSH_AUTH_SOCK", "")
            if not agent:
                raise invalid("SSH_AUTH_SOCK is not set; start ssh-agent or give ID=SOCKET")
            paths = [agent]
        sockets = [_agent_socket(path, base, invalid) for path in paths]
        if len(sockets) > 1:
            raise invalid("only one agent socket can be forwarded per id")
        return cls(id=ident or DEFAULT_ID, socket=sockets[0])


def _agent_socket(text: str, base: Path, invalid: Callable[[str], SSHSpecError]) -> Path:
    if not text:
        raise invalid("empty path")
    path = base / text
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise invalid(f"{path} does not exist") from None
    except OSError as exc:
        raise invalid(f"cannot stat {path}: {exc.strerror}") from None
    if stat.S_ISSOCK(mode):
        return path
    if stat.S_ISREG(mode):
        # BuildKit would load it into an agent of its own; we only relay real agents.
        raise invalid(
            f"{path} is a file, not an agent socket: forwarding key files is not "
            "supported; load the key into ssh-agent and use default"
        )
    raise invalid(f"{path} is not an agent socket")


def _requested_id(context: CallContext) -> str:
    for key, value in context.invocation_metadata() or ():
        if key == ID_METADATA_KEY and value:
            return value.decode() if isinstance(value, bytes) else value
    return DEFAULT_ID


async def _to_agent(context: CallContext, agent: SocketStream) -> None:
    while True:
        message = await context.read()
        if message is aio.EOF:
            # buildkitd's side is done writing; the agent may still answer.
            await agent.send_eof()
            return
        try:
            await agent.send(message.data)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            return


async def _from_agent(agent: SocketStream, context: CallContext) -> None:
    while True:
        try:
            data = await agent.receive(_CHUNK)
        except (anyio.EndOfStream, anyio.BrokenResourceError):
            return
        await context.write(ssh_pb2.BytesMessage(data=data))


class SSHService:
    def __init__(self, specs: Sequence[SSHSpec]) -> None:
        # Later specs for the same id win, as in buildx.
        self._sockets = {spec.id: spec.socket for spec in specs}

    async def CheckAgent(
        self, request: ssh_pb2.CheckAgentRequest, context: CallContext
    ) -> ssh_pb2.CheckAgentResponse:
        ident = request.ID or DEFAULT_ID
        if ident not in self._sockets:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"unset ssh forward key {ident}")
        return ssh_pb2.CheckAgentResponse()

    # Both directions run at once through the context, so this is a coroutine rather
    # than the generator the stubs describe.
    async def ForwardAgent(
        self, request_iterator: Any, context: CallContext
    ) -> None:
        ident = _requested_id(context)
        path = self._sockets.get(ident)
        if path is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"unset ssh forward key {ident}")
        try:
            agent = await anyio.connect_unix(path)
        except OSError as exc:
            reason = exc.strerror or str(exc)
        else:
            reason = ""
        if reason:
            await context.abort(
                grpc.StatusCode.UNAVAILABLE, f"failed to dial agent {ident} at {path}: {reason}"
            )
        async with agent, anyio.create_task_group() as tg:
            tg.start_soon(_to_agent, context, agent)
            # The agent hanging up ends the exchange; nothing more could be answered.
            await _from_agent(agent, context)
            tg.cancel_scope.cancel()


def ssh(specs: Sequence[SSHSpec]) -> Attachable:
    service = SSHService(specs)
    return Attachable(
        descriptor=ssh_pb2.DESCRIPTOR.services_by_name["SSH"],
        servicer=service,
    )
