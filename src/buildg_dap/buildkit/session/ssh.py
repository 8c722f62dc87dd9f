"""SSH agent forwarding (``--ssh default|ID=SOCKET``): each ForwardAgent stream from
buildkitd becomes one connection to the local agent socket."""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio
import grpc
from anyio.abc import SocketStream
from grpc import aio
from pydantic import BaseModel, ConfigDict

from buildg_dap._proto.session import ssh_pb2, ssh_pb2_grpc
from buildg_dap.buildkit.session.bridge import Attachable

DEFAULT_ID = "default"
_ID_KEY = "buildkit.ssh.id"
_CHUNK = 32 * 1024


class SSHSpecError(ValueError):
    pass


class SSHSpec(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    socket: Path

    @classmethod
    def parse(cls, text: str) -> SSHSpec:
        ident, sep, paths = text.partition("=")
        ident = ident.strip()
        if not ident:
            raise SSHSpecError(f"invalid ssh spec {text!r}: an id is required")
        if not sep:
            agent = os.environ.get("SSH_AUTH_SOCK", "")
            if not agent:
                raise SSHSpecError(
                    f"invalid ssh spec {text!r}: SSH_AUTH_SOCK is not set; "
                    "give a socket path (ID=PATH)"
                )
            return cls(id=ident, socket=Path(agent))
        first = paths.split(",")[0].strip()
        path = Path(first).expanduser()
        try:
            mode = path.stat().st_mode
        except OSError:
            raise SSHSpecError(f"invalid ssh spec {text!r}: {path} does not exist") from None
        if not stat.S_ISSOCK(mode):
            raise SSHSpecError(
                f"invalid ssh spec {text!r}: {path} is not an agent socket; forwarding key "
                "files is not supported: load the key into ssh-agent and use default"
            )
        return cls(id=ident, socket=path)


async def _pump_to_agent(request_iterator: Any, agent: SocketStream) -> None:
    async for message in request_iterator:
        await agent.send(message.data)
    await agent.send_eof()


class SSHService(ssh_pb2_grpc.SSHServicer):
    def __init__(self, specs: Sequence[SSHSpec]) -> None:
        self._sockets = {spec.id: spec.socket for spec in specs}

    async def CheckAgent(
        self, request: ssh_pb2.CheckAgentRequest, context: aio.ServicerContext[Any, Any]
    ) -> ssh_pb2.CheckAgentResponse:
        if (request.ID or DEFAULT_ID) not in self._sockets:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"unset ssh forward key {request.ID}")
        return ssh_pb2.CheckAgentResponse()

    async def ForwardAgent(
        self, request_iterator: Any, context: aio.ServicerContext[Any, Any]
    ) -> Any:
        metadata = dict(context.invocation_metadata() or ())
        ident = str(metadata.get(_ID_KEY) or DEFAULT_ID)
        path = self._sockets.get(ident)
        if path is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"unset ssh forward key {ident}")
            return
        async with await anyio.connect_unix(path) as agent, anyio.create_task_group() as tg:
            tg.start_soon(_pump_to_agent, request_iterator, agent)
            while True:
                try:
                    data = await agent.receive(_CHUNK)
                except (anyio.EndOfStream, anyio.BrokenResourceError):
                    break
                yield ssh_pb2.BytesMessage(data=data)
            tg.cancel_scope.cancel()


def ssh(specs: Sequence[SSHSpec]) -> Attachable:
    service = SSHService(specs)
    return Attachable(
        descriptor=ssh_pb2.DESCRIPTOR.services_by_name["SSH"],
        register=lambda server: ssh_pb2_grpc.add_SSHServicer_to_server(service, server),
    )
