"""Control API calls: the long-running client-side Solve and its Status stream."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
from grpc import aio
from pydantic import BaseModel, ConfigDict, Field

from buildg_dap._proto.buildkit import control_pb2, gateway_pb2, ops_pb2
from buildg_dap.buildkit.connection import Connection
from buildg_dap.buildkit.errors import from_rpc
from buildg_dap.buildkit.llb import OWN_INPUT_PREFIXES


class CacheEntry(BaseModel):
    """A cache import or export (``type`` plus attributes), as in BuildKit's API."""

    model_config = ConfigDict(frozen=True)

    type: str
    attrs: dict[str, str] = Field(default_factory=dict)

    def to_control(self) -> control_pb2.CacheOptionsEntry:
        return control_pb2.CacheOptionsEntry(Type=self.type, Attrs=self.attrs)

    def to_gateway(self) -> gateway_pb2.CacheOptionsEntry:
        return gateway_pb2.CacheOptionsEntry(Type=self.type, Attrs=self.attrs)


class Exporter(BaseModel):
    model_config = ConfigDict(frozen=True)

    type: str
    attrs: dict[str, str] = Field(default_factory=dict)


class SolveSpec(BaseModel):
    """Everything Control.Solve needs for a build driven through the gateway."""

    ref: str
    session_id: str
    frontend_attrs: dict[str, str] = Field(default_factory=dict)
    cache_imports: list[CacheEntry] = Field(default_factory=list)
    cache_exports: list[CacheEntry] = Field(default_factory=list)
    exporters: list[Exporter] = Field(default_factory=list)
    entitlements: list[str] = Field(default_factory=list)

    def to_request(self) -> control_pb2.SolveRequest:
        return control_pb2.SolveRequest(
            Ref=self.ref,
            Session=self.session_id,
            Frontend="",
            FrontendAttrs=self.frontend_attrs,
            Cache=control_pb2.CacheOptions(
                Imports=[c.to_control() for c in self.cache_imports],
                Exports=[c.to_control() for c in self.cache_exports],
            ),
            Exporters=[control_pb2.Exporter(Type=e.type, Attrs=e.attrs) for e in self.exporters],
            Entitlements=self.entitlements,
        )


async def solve(conn: Connection, spec: SolveSpec) -> dict[str, str]:
    """Runs until the gateway returns a result; returns the exporter response."""
    try:
        response = await conn.control.Solve(spec.to_request())
    except aio.AioRpcError as exc:
        raise from_rpc(exc) from None
    return dict(response.ExporterResponse)


async def has_local_results(conn: Connection) -> bool:
    """Whether the builder holds build results of its own (so a CACHED step may have
    come from its local store rather than an imported cache). The Dockerfiles we hand
    the frontend (a language server's lint, say) leave records that are not results."""
    try:
        usage = await conn.control.DiskUsage(control_pb2.DiskUsageRequest())
    except aio.AioRpcError as exc:
        raise from_rpc(exc) from None
    return any(
        record.RecordType == "regular" and not record.Description.startswith(OWN_INPUT_PREFIXES)
        for record in usage.record
    )


def platform_name(platform: ops_pb2.Platform) -> str:
    """``OS/ARCH[/VARIANT]``, as BuildKit spells a platform."""
    return "/".join(part for part in (platform.OS, platform.Architecture, platform.Variant) if part)


async def worker_platforms(conn: Connection) -> list[str]:
    """The platforms buildkitd's workers run (emulated ones included), as OS/ARCH[/VARIANT]."""
    try:
        workers = await conn.control.ListWorkers(control_pb2.ListWorkersRequest())
    except aio.AioRpcError as exc:
        raise from_rpc(exc) from None
    found: list[str] = []
    for worker in workers.record:
        for platform in worker.platforms:
            if (name := platform_name(platform)) not in found:
                found.append(name)
    return found


async def status(conn: Connection, ref: str) -> AsyncIterator[control_pb2.StatusResponse]:
    call = conn.control.Status(control_pb2.StatusRequest(Ref=ref))
    try:
        async for message in call:
            yield message
    except aio.AioRpcError as exc:
        if exc.code() != grpc.StatusCode.CANCELLED:
            raise from_rpc(exc) from None
    finally:
        call.cancel()

