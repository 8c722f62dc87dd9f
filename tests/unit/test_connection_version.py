"""The version check, against a stand-in Control service that only answers Info."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest
from grpc import aio

from buildg_dap._proto.buildkit import control_pb2, control_pb2_grpc, worker_pb2
from buildg_dap.buildkit.connection import Address, BuilderError, connect, parse_version


class _OldDaemon(control_pb2_grpc.ControlServicer):
    def __init__(self, version: str) -> None:
        self.version = version

    async def Info(self, request: Any, context: Any) -> control_pb2.InfoResponse:
        return control_pb2.InfoResponse(
            buildkitVersion=worker_pb2.BuildkitVersion(version=self.version)
        )


async def _connect_to(version: str, path: Path) -> str:
    server = aio.server()
    control_pb2_grpc.add_ControlServicer_to_server(_OldDaemon(version), server)
    server.add_insecure_port(f"unix://{path}")
    await server.start()
    try:
        async with await connect(Address.parse(f"unix://{path}")) as conn:
            return conn.version
    finally:
        await server.stop(None)


def test_too_old_daemon_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "old.sock"
    with pytest.raises(BuilderError) as caught:
        anyio.run(_connect_to, "v0.10.6", path)
    assert str(caught.value) == (
        f"buildkitd at unix://{path} is version v0.10.6; buildg-dap needs v0.11.0 or newer"
    )


def test_new_enough_daemon_is_accepted(tmp_path: Path) -> None:
    assert anyio.run(_connect_to, "v0.13.0-rc1", tmp_path / "new.sock") == "v0.13.0-rc1"


@pytest.mark.parametrize(
    ("text", "parsed"),
    [("v0.32.2", (0, 32, 2)), ("0.11", (0, 11, 0)), ("v0.12.0-rc1+dirty", (0, 12, 0)),
     ("v0.0.0+unknown", (0, 0, 0))],
)
def test_parse_version(text: str, parsed: tuple[int, int, int]) -> None:
    assert parse_version(text) == parsed
