"""LLBBridge calls made inside one running build (client-side frontend).

Every call carries the build id as metadata; buildkitd routes it to the build that
Control.Solve started with the same ref.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping, Sequence
from typing import TypeVar

from grpc import aio

from buildg_dap._proto.buildkit import gateway_pb2, ops_pb2
from buildg_dap._proto.fsutil import types_pb2
from buildg_dap._proto.google.rpc import status_pb2
from buildg_dap.buildkit.connection import Connection
from buildg_dap.buildkit.control import CacheEntry
from buildg_dap.buildkit.errors import SolveError, from_rpc

_BUILD_ID = "buildkit-controlapi-buildid"
_T = TypeVar("_T")
ExecCall = aio.StreamStreamCall[gateway_pb2.ExecMessage, gateway_pb2.ExecMessage]


class Gateway:
    """The gateway of one build; owned by the Build that started it."""

    def __init__(self, conn: Connection, build_ref: str) -> None:
        self._stub = conn.gateway
        self.build_ref = build_ref
        self._md = ((_BUILD_ID, build_ref),)

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        return self._md

    async def ping(self) -> gateway_pb2.PongResponse:
        return await self._call(self._stub.Ping(gateway_pb2.PingRequest(), metadata=self._md))

    async def solve_frontend(
        self,
        frontend: str,
        options: Mapping[str, str],
        cache_imports: Sequence[CacheEntry],
        inputs: Mapping[str, ops_pb2.Definition] | None = None,
    ) -> gateway_pb2.Result:
        """Run a frontend without evaluating; the result carries the LLB definition."""
        request = gateway_pb2.SolveRequest(
            Frontend=frontend,
            FrontendOpt=dict(options),
            allowResultReturn=True,
            allowResultArrayRef=True,
            CacheImports=[c.to_gateway() for c in cache_imports],
            FrontendInputs=dict(inputs or {}),
        )
        response = await self._call(self._stub.Solve(request, metadata=self._md))
        return response.result

    async def solve_definition(
        self,
        definition: ops_pb2.Definition,
        cache_imports: Sequence[CacheEntry],
        *,
        evaluate: bool = True,
    ) -> gateway_pb2.Ref:
        """Solve (and by default evaluate) a definition; returns its single ref."""
        request = gateway_pb2.SolveRequest(
            Definition=definition,
            allowResultReturn=True,
            allowResultArrayRef=True,
            CacheImports=[c.to_gateway() for c in cache_imports],
            Evaluate=evaluate,
        )
        response = await self._call(self._stub.Solve(request, metadata=self._md))
        return response.result.ref

    async def read_file(
        self, ref: str, path: str, *, offset: int = 0, length: int = 0
    ) -> bytes:
        request = gateway_pb2.ReadFileRequest(Ref=ref, FilePath=path)
        if offset or length:
            request.Range.CopyFrom(gateway_pb2.FileRange(Offset=offset, Length=length))
        response = await self._call(self._stub.ReadFile(request, metadata=self._md))
        return response.Data

    async def read_dir(self, ref: str, path: str, pattern: str = "") -> list[types_pb2.Stat]:
        request = gateway_pb2.ReadDirRequest(Ref=ref, DirPath=path, IncludePattern=pattern)
        response = await self._call(self._stub.ReadDir(request, metadata=self._md))
        return list(response.entries)

    async def stat_file(self, ref: str, path: str) -> types_pb2.Stat:
        request = gateway_pb2.StatFileRequest(Ref=ref, Path=path)
        response = await self._call(self._stub.StatFile(request, metadata=self._md))
        return response.stat

    async def read_file_container(self, request: gateway_pb2.ReadFileRequest) -> bytes:
        """ReadFile inside a container (``Ref`` = container id, ``MountIndex`` = mount)."""
        response = await self._call(self._stub.ReadFileContainer(request, metadata=self._md))
        return response.Data

    async def read_dir_container(self, request: gateway_pb2.ReadDirRequest) -> list[types_pb2.Stat]:
        response = await self._call(self._stub.ReadDirContainer(request, metadata=self._md))
        return list(response.entries)

    async def stat_file_container(self, request: gateway_pb2.StatFileRequest) -> types_pb2.Stat:
        response = await self._call(self._stub.StatFileContainer(request, metadata=self._md))
        return response.stat

    async def new_container(self, request: gateway_pb2.NewContainerRequest) -> None:
        await self._call(self._stub.NewContainer(request, metadata=self._md))

    async def release_container(self, container_id: str) -> None:
        request = gateway_pb2.ReleaseContainerRequest(ContainerID=container_id)
        await self._call(self._stub.ReleaseContainer(request, metadata=self._md))

    def exec_process(self) -> ExecCall:
        call: ExecCall = self._stub.ExecProcess(metadata=self._md)
        return call

    async def return_result(
        self, result: gateway_pb2.Result | None, error: status_pb2.Status | None = None
    ) -> None:
        """End the build: exporters run on ``result`` (its metadata holds the image config)."""
        request = gateway_pb2.ReturnRequest()
        if error is not None:
            request.error.CopyFrom(error)
        elif result is not None:
            request.result.CopyFrom(result)
        await self._call(self._stub.Return(request, metadata=self._md))

    @staticmethod
    async def _call(awaitable: Awaitable[_T]) -> _T:
        try:
            return await awaitable
        except aio.AioRpcError as exc:
            raise from_rpc(exc) from None


__all__ = ["Gateway", "SolveError"]
