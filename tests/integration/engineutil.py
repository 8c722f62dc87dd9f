"""Drive the debugger engine directly (no front end) against a lab builder."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from buildg_dap.buildkit.build import BuildRequest
from buildg_dap.buildkit.connection import Address, connect
from buildg_dap.buildkit.options import parse_caches
from buildg_dap.buildkit.progress import Progress
from buildg_dap.debugger.engine import Engine
from tests.lab import Buildkitd


def request_for(context: Path, *, cache_from: str = "", **fields: Any) -> BuildRequest:
    """A build of ``context/Dockerfile``; ``cache_from`` in the CLI's syntax."""
    imports = parse_caches([cache_from], export=False) if cache_from else []
    return BuildRequest(
        context=context, dockerfile=context / "Dockerfile", cache_imports=imports, **fields
    )


@asynccontextmanager
async def open_engine(builder: Buildkitd, request: BuildRequest) -> AsyncIterator[Engine]:
    """An engine launched on ``builder``, stopped at entry; released on exit."""
    async with (
        await connect(Address.parse(builder.address)) as conn,
        Engine.launch(conn, request, progress=Progress()) as engine,
    ):
        yield engine
