"""One terminal debug session, from launch to the closing tally."""

from __future__ import annotations

import signal
import sys
from collections.abc import Sequence
from typing import TextIO

import anyio

from buildg_dap.buildkit.build import BuildRequest
from buildg_dap.buildkit.connection import Connection
from buildg_dap.buildkit.errors import SolveError
from buildg_dap.buildkit.progress import Progress
from buildg_dap.buildkit.session.rpcserver import Attachable
from buildg_dap.debugger.engine import Engine, EngineError
from buildg_dap.debugger.steprecord import write_record
from buildg_dap.repl.output import DebugProgress, LogBuffer, info_line
from buildg_dap.repl.shell import Shell
from buildg_dap.repl.terminal import Input


async def _cancel_on_termination(scope: anyio.CancelScope) -> None:
    """SIGTERM/SIGHUP end the session through the normal exit paths, so the build,
    its containers and the session are released in buildkitd."""
    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGHUP) as signals:
        async for _ in signals:
            scope.cancel()
            return


async def run_debug(
    conn: Connection,
    request: BuildRequest,
    attachables: Sequence[Attachable] = (),
    *,
    image: str = "",
    cache_names: Sequence[str] = (),
    stdin_fd: int = 0,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    out = out or sys.stdout
    log = LogBuffer(err or sys.stderr)
    progress = Progress()
    view = DebugProgress(progress, log)
    code = 1
    async with anyio.create_task_group() as tg:
        tg.start_soon(_cancel_on_termination, tg.cancel_scope)
        try:
            async with Engine.launch(
                conn, request, attachables, progress, cache_names
            ) as engine:
                try:
                    shell = Shell(engine, Input(stdin_fd), out, log, view, image=image)
                    code = await shell.run()
                    log.write(info_line(shell.tally()) + "\n")
                finally:
                    write_record(
                        request.dockerfile,
                        [(engine.program, engine.origins)],
                        lambda message: log.write(info_line(f"warning: {message}") + "\n"),
                    )
        except (SolveError, EngineError) as exc:
            log.write(info_line(f"error: {exc}") + "\n")
        tg.cancel_scope.cancel()
    return code
