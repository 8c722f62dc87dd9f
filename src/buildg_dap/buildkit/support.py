"""What a BuildKit offers the debugger, asked of the daemon itself: its gateway's
capabilities, which only a running build's gateway answers (so a build is started for
the question and ended at once)."""

from __future__ import annotations

import secrets
from contextlib import suppress

import anyio
import grpc

from buildg_dap._proto.buildkit import gateway_pb2
from buildg_dap._proto.google.rpc import status_pb2
from buildg_dap.buildkit import control
from buildg_dap.buildkit.connection import Connection
from buildg_dap.buildkit.control import SolveSpec
from buildg_dap.buildkit.errors import SolveError
from buildg_dap.buildkit.gateway import Gateway
from buildg_dap.buildkit.session.bridge import open_session

# The gateway capabilities the debugger relies on, and what each gives it.
DEBUG_CAPS = {
    "gateway.solve.evaluate": "evaluating one step at a time",
    "gateway.evaluate": "evaluating results",
    "gateway.exec": "containers on build results",
    "gateway.exec.filesystem": "reading files inside debug containers",
    "gateway.exec.signals": "signals to processes in debug containers",
    "gateway.exec.secretenv": "secrets in debug containers",
    "proto.refarray": "results with several refs",
    "importcaches": "cache imports on gateway solves",
}
_PROBE_TIMEOUT = 30.0


async def gateway_caps(conn: Connection) -> set[str]:
    """The capability ids the gateway of a build on ``conn`` reports as enabled."""
    ref = secrets.token_hex(13)
    pong: gateway_pb2.PongResponse | None = None
    with anyio.fail_after(_PROBE_TIMEOUT):
        async with open_session(conn, []) as session:
            spec = SolveSpec(ref=ref, session_id=session.id)
            gateway = Gateway(conn, ref)
            async with anyio.create_task_group() as tg:

                async def solve() -> None:
                    with suppress(SolveError):  # ended below on purpose
                        await control.solve(conn, spec)

                tg.start_soon(solve)
                try:
                    pong = await gateway.ping()
                finally:
                    ended = status_pb2.Status(
                        code=grpc.StatusCode.CANCELLED.value[0], message="capability probe"
                    )
                    with anyio.CancelScope(shield=True), anyio.move_on_after(10):
                        try:
                            await gateway.return_result(None, ended)
                        except SolveError:
                            tg.cancel_scope.cancel()
    assert pong is not None
    return {cap.ID for cap in pong.FrontendAPICaps if cap.Enabled}


async def missing_for_debugging(conn: Connection) -> list[str]:
    """What the debugger needs that this BuildKit's gateway lacks, in words."""
    caps = await gateway_caps(conn)
    return [f"{what} ({cap})" for cap, what in DEBUG_CAPS.items() if cap not in caps]
