"""The builder as the language server uses it: a build held open for frontend requests.

Every lint and every hover value is a call to the Dockerfile frontend inside a build.
Opening a session and a build per keystroke would cost more than the call itself, so
one build is held open, unevaluated, for as long as the server runs; requests go through
its gateway concurrently. When the builder goes away the held build is dropped and the
next request connects again (starting the embedded builder when no address is given).
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import anyio
import grpc
from anyio.abc import TaskGroup, TaskStatus
from grpc import aio

from buildg_dap._proto.buildkit import control_pb2
from buildg_dap.buildkit.address import BuilderError
from buildg_dap.buildkit.build import BuildRequest, running_build
from buildg_dap.buildkit.errors import SolveError
from buildg_dap.buildkit.gateway import Gateway
from buildg_dap.buildkit.lint import LintResults, lint_dockerfile
from buildg_dap.buildkit.progress import Progress
from buildg_dap.command import BuilderOptions
from buildg_dap.debugger.stepconfig import StepConfig, probe_config

log = logging.getLogger(__name__)
_T = TypeVar("_T")
_PING_WAIT = 3.0
# Codes with which a gateway call says the build itself is gone, not that the request
# was wrong: the held build is dropped and the call made once more on a new one.
_BUILD_GONE = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.NOT_FOUND})


class BuilderUnavailable(Exception):
    """No builder answers; the message says which and why."""


@dataclass
class _Held:
    gateway: Gateway
    scope: anyio.CancelScope
    ping: Callable[[], Awaitable[object]]


class FrontendHost:
    """Owns the connection and the held build; lives in the server's task group."""

    def __init__(self, builder: BuilderOptions, group: TaskGroup) -> None:
        self._builder = builder
        self._group = group
        self._held: _Held | None = None
        self._lock = anyio.Lock()
        # Nobody reads the held build's progress; it is cleared after each request so
        # that a server running for days does not keep every lint's vertices.
        self._progress = Progress()

    async def lint(self, filename: str, data: bytes, build_args: Mapping[str, str]) -> LintResults:
        options = _options(filename, build_args)
        return await self._call(lambda gw: lint_dockerfile(gw, options, [], filename, data))

    async def config(
        self, filename: str, cut: bytes, where: str, build_args: Mapping[str, str]
    ) -> StepConfig:
        """The configuration at the probe ending ``cut`` (see debugger.stepconfig)."""
        options = _options(filename, build_args)
        return await self._call(lambda gw: probe_config(gw, options, [], cut, where))

    async def _call(self, request: Callable[[Gateway], Awaitable[_T]]) -> _T:
        for attempt in range(2):
            held = await self._hold()
            try:
                return await request(held.gateway)
            except SolveError as exc:
                if exc.code not in _BUILD_GONE and await self._alive(held):
                    raise
                self._drop(held)
                if attempt:
                    raise BuilderUnavailable(f"the builder stopped answering: {exc}") from None
            finally:
                self._progress.reset()
        raise AssertionError("unreachable")

    async def _alive(self, held: _Held) -> bool:
        try:
            await held.ping()
        except aio.AioRpcError:
            return False
        return True

    async def _hold(self) -> _Held:
        async with self._lock:
            if self._held is None:
                try:
                    self._held = await self._group.start(self._run_build)
                except (BuilderError, SolveError, OSError) as exc:
                    raise BuilderUnavailable(str(exc)) from None
            return self._held

    def _drop(self, held: _Held) -> None:
        held.scope.cancel()
        if self._held is held:
            self._held = None

    async def _run_build(self, *, task_status: TaskStatus[_Held]) -> None:
        started = False
        with anyio.CancelScope() as scope, tempfile.TemporaryDirectory() as empty:
            # Nothing reads the context: the Dockerfile travels as a frontend input.
            request = BuildRequest(context=Path(empty), dockerfile=Path(empty, "Dockerfile"))
            try:
                async with (
                    await self._builder.connect() as conn,
                    running_build(conn, request, progress=self._progress) as build,
                ):
                    held = _Held(
                        build.gateway,
                        scope,
                        lambda: conn.control.Info(control_pb2.InfoRequest(), timeout=_PING_WAIT),
                    )
                    task_status.started(held)
                    started = True
                    await anyio.sleep_forever()
            except Exception as exc:
                if not started:
                    raise
                # The held build is a convenience: whatever ended it, the next request
                # opens a new one, and reports the builder's state then.
                log.info("the held build ended: %s", exc)
            finally:
                if self._held is not None and self._held.scope is scope:
                    self._held = None


def _options(filename: str, build_args: Mapping[str, str]) -> dict[str, str]:
    request = BuildRequest(context=Path(), dockerfile=Path(filename), build_args=dict(build_args))
    return request.frontend_options()
