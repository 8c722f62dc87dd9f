"""Keeps one build open in a task of its own.

A build's context (its session, solve and status stream) holds task groups and cancel
scopes, which must be left by the task that entered them. Running each build in a
dedicated task lets any task of a front end start a new build (reload) or end one.
"""

from __future__ import annotations

from collections.abc import Sequence

import anyio
from anyio.abc import TaskGroup

from buildg_dap.buildkit.build import BuildRequest, RunningBuild, running_build
from buildg_dap.buildkit.connection import Connection
from buildg_dap.buildkit.progress import Progress
from buildg_dap.buildkit.session.rpcserver import Attachable


class HeldBuild:
    def __init__(self) -> None:
        self.build: RunningBuild | None = None
        self.error: Exception | None = None
        self._ready = anyio.Event()
        self._close = anyio.Event()
        self._done = anyio.Event()

    @classmethod
    async def open(
        cls,
        tg: TaskGroup,
        conn: Connection,
        request: BuildRequest,
        attachables: Sequence[Attachable],
        progress: Progress,
    ) -> HeldBuild:
        held = cls()
        tg.start_soon(held._run, conn, request, attachables, progress)
        await held._ready.wait()
        if held.build is None:
            assert held.error is not None
            raise held.error
        return held

    async def _run(
        self,
        conn: Connection,
        request: BuildRequest,
        attachables: Sequence[Attachable],
        progress: Progress,
    ) -> None:
        try:
            async with running_build(conn, request, attachables, progress) as build:
                self.build = build
                self._ready.set()
                await self._close.wait()
        except Exception as error:  # handed to whoever opens or closes this build
            self.error = error
        finally:
            self._ready.set()
            self._done.set()

    async def close(self) -> None:
        """End the build (one not returned yet is cancelled in buildkitd) and raise what
        ending it raised, e.g. an export that failed."""
        self._close.set()
        with anyio.CancelScope(shield=True):
            await self._done.wait()
        if self.error is not None:
            raise self.error
