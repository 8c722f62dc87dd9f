"""A client-side Dockerfile build: one session, one Control.Solve, driven by the gateway.

``running_build`` owns everything a build holds in buildkitd (session, solve, status
stream) and releases it on every exit path: if the caller leaves without returning a
result, the build is ended with an error so buildkitd drops its containers and refs.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import anyio
import grpc
from pydantic import BaseModel, Field

from buildg_dap._proto.buildkit import gateway_pb2
from buildg_dap._proto.google.rpc import status_pb2
from buildg_dap.asyncutil import single_errors
from buildg_dap.buildkit import control
from buildg_dap.buildkit.connection import Connection
from buildg_dap.buildkit.control import CacheEntry, SolveSpec
from buildg_dap.buildkit.errors import SolveError, to_status
from buildg_dap.buildkit.gateway import Gateway
from buildg_dap.buildkit.options import Output
from buildg_dap.buildkit.progress import Progress
from buildg_dap.buildkit.session.bridge import open_session
from buildg_dap.buildkit.session.content import content_store, local_stores, record_exports
from buildg_dap.buildkit.session.filesend import file_send
from buildg_dap.buildkit.session.filesync import file_sync
from buildg_dap.buildkit.session.rpcserver import Attachable

DOCKERFILE_FRONTEND = "dockerfile.v0"
_EXPORTERS = (0, 13, 0)  # SolveRequest.Exporters: several exporters, and the only field we fill


class BuildRequest(BaseModel):
    """What to build and how; shared by ``build``, ``debug`` and the DAP launcher."""

    context: Path
    dockerfile: Path
    target: str = ""
    build_args: dict[str, str] = Field(default_factory=dict)
    platforms: list[str] = Field(default_factory=list)
    no_cache: bool = False
    network: Literal["", "none", "host"] = ""  # RUN steps' network; "" = the builder's default
    cache_imports: list[CacheEntry] = Field(default_factory=list)
    cache_exports: list[CacheEntry] = Field(default_factory=list)
    outputs: list[Output] = Field(default_factory=list)
    entitlements: list[str] = Field(default_factory=list)

    def frontend_options(self) -> dict[str, str]:
        options = {"filename": self.dockerfile.name}
        if self.target:
            options["target"] = self.target
        for key, value in self.build_args.items():
            options[f"build-arg:{key}"] = value
        if self.platforms:
            options["platform"] = ",".join(self.platforms)
        if self.no_cache:
            options["no-cache"] = ""
        if self.network:
            options["force-network-mode"] = self.network
        if self.cache_imports:
            # The frontend passes these on to the solves it makes itself; our own
            # gateway solves carry them in SolveRequest.CacheImports as well.
            options["cache-imports"] = json.dumps(
                [{"Type": c.type, "Attrs": c.attrs} for c in self.cache_imports]
            )
        return options

    def local_dirs(self) -> dict[str, Path]:
        return {"context": self.context, "dockerfile": self.dockerfile.parent}


@dataclass
class RunningBuild:
    """A build in progress; use its gateway to solve, then ``finish`` or ``fail``."""

    request: BuildRequest
    gateway: Gateway
    progress: Progress
    session_id: str
    exporter_response: dict[str, str] = field(default_factory=dict)
    _returned: bool = False
    _failed: bool = False

    async def solve_frontend(self) -> gateway_pb2.Result:
        """The Dockerfile as LLB (with its source map), not yet evaluated."""
        return await self.gateway.solve_frontend(
            DOCKERFILE_FRONTEND, self.request.frontend_options(), self.request.cache_imports
        )

    async def finish(self, result: gateway_pb2.Result) -> None:
        self._returned = True
        await self.gateway.return_result(result)

    async def fail(self, error: SolveError | str) -> None:
        self._returned = self._failed = True
        if isinstance(error, SolveError):
            status = to_status(error)
        else:
            status = status_pb2.Status(code=grpc.StatusCode.CANCELLED.value[0], message=error)
        await self.gateway.return_result(None, status)


@asynccontextmanager
async def running_build(
    conn: Connection,
    request: BuildRequest,
    attachables: Sequence[Attachable] = (),
    progress: Progress | None = None,
) -> AsyncIterator[RunningBuild]:
    progress = progress or Progress()
    if request.outputs and not conn.at_least(_EXPORTERS):
        # Older daemons take one exporter in fields this client does not send.
        wanted = ".".join(map(str, _EXPORTERS))
        raise SolveError(
            f"outputs (-o) need BuildKit v{wanted} or newer; this builder is "
            f"{conn.version or 'older than v0.11'}: build without outputs, or use another builder"
        )
    ref = secrets.token_hex(13)
    services = [file_sync(request.local_dirs()), *attachables]
    if any(output.target != "none" for output in request.outputs):
        services.append(file_send(request.outputs))
    stores = local_stores(request.cache_imports, request.cache_exports)
    if stores:
        services.append(content_store(stores))
    solve_error: list[BaseException] = []
    with single_errors():
        async with open_session(conn, services) as session:
            spec = SolveSpec(
                ref=ref,
                session_id=session.id,
                cache_imports=request.cache_imports,
                cache_exports=request.cache_exports,
                exporters=[output.exporter() for output in request.outputs],
                entitlements=[*request.entitlements]
                + (["network.host"] if request.network == "host" else []),
                frontend_attrs={},
            )
            build = RunningBuild(request, Gateway(conn, ref), progress, session.id)

            async def run_solve() -> None:
                try:
                    build.exporter_response = await control.solve(conn, spec)
                    await record_exports(request.cache_exports, build.exporter_response)
                except SolveError as exc:
                    solve_error.append(exc)

            async def read_status() -> None:
                async for message in control.status(conn, ref):
                    progress.update(message)

            async with anyio.create_task_group() as tg:
                tg.start_soon(read_status)
                tg.start_soon(run_solve)
                try:
                    yield build
                finally:
                    if not build._returned:
                        with (
                            anyio.CancelScope(shield=True),
                            anyio.move_on_after(10),
                            suppress(SolveError),  # the solve is already gone
                        ):
                            await build.fail("build cancelled")
    # After fail() the caller already holds the error; after finish() an error here
    # comes from evaluating or exporting the result and must surface. Raised outside
    # the session's task group so that callers see it unwrapped.
    if solve_error and not build._failed:
        raise solve_error[0]
