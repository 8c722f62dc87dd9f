"""The server's held build on the real daemon: what its frontend requests leave behind."""

from __future__ import annotations

import anyio
import pytest

from buildg_dap.buildkit.connection import Address, connect
from buildg_dap.buildkit.control import has_local_results
from buildg_dap.command import BuilderOptions
from buildg_dap.debugger.stepconfig import cut_dockerfile
from buildg_dap.lsp.frontend import FrontendHost
from tests.lab import Buildkitd


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_lints_and_probes_are_not_taken_for_build_results(fresh_builder: Buildkitd) -> None:
    """A step found CACHED on a builder with no results of its own came from the imported
    cache; the Dockerfiles the server hands the frontend must not change that verdict."""
    dockerfile = b"FROM busybox as base\nARG A=1\nRUN echo $A\n"
    address = Address.parse(fresh_builder.address)
    async with anyio.create_task_group() as group:
        host = FrontendHost(BuilderOptions(address=address), group)
        results = await host.lint("Dockerfile", dockerfile, {})
        assert [w.ruleName for w in results.warnings] == ["FromAsCasing"]
        config = await host.config("Dockerfile", cut_dockerfile(dockerfile, 2), "line 3", {})
        assert config.build_args == {"A": "1"}
        group.cancel_scope.cancel()
    async with await connect(address) as conn:
        assert not await has_local_results(conn)
