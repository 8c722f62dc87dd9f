"""``exec`` at a stop: lay out the container, wire the terminal, run, release."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import BinaryIO

import anyio

from buildg_dap.debugger.engine import Engine, EngineError
from buildg_dap.debugger.mounts import Where, image_layout, step_layout
from buildg_dap.debugger.process import Control, ProcessIO, container, run_process
from buildg_dap.debugger.stepconfig import step_config
from buildg_dap.repl.terminal import Input, forward_signals, raw_mode, window_size


@dataclass
class ExecRequest:
    args: list[str]
    env: list[str] = field(default_factory=list)
    workdir: str = ""
    init_state: bool = False
    use_image: bool = False
    image: str = ""
    mountroot: str = "/debugroot"
    tty: bool = False
    interactive: bool = False


def merge_env(base: list[str], overrides: list[str]) -> list[str]:
    """``-e K=V`` replaces K; ``-e K`` alone is rejected (no host env leaks in)."""
    merged = {item.split("=", 1)[0]: item for item in base}
    for item in overrides:
        if "=" not in item:
            raise EngineError(f"invalid -e {item!r}: use KEY=VALUE")
        merged[item.split("=", 1)[0]] = item
    return list(merged.values())


async def run_exec(engine: Engine, request: ExecRequest, stdin: Input, out: BinaryIO) -> int:
    stop = engine.stop
    if stop is None or stop.step is None:
        raise EngineError("not stopped at a step yet (at entry): use next or continue")
    if request.use_image and not request.image:
        raise EngineError("no debugger image: start the session with --image IMAGE")
    layout = await step_layout(
        engine.prog,
        stop.step,
        Where.INPUTS if request.init_state else Where.RESULT,
        config=await step_config(engine, stop.step),
        root_result=stop.result_id,
        resolve=engine.resolve,
        failure=stop.error.solve if stop.error is not None else None,
    )
    if request.use_image:
        platform = stop.step.node.op.platform if stop.step.node.op.HasField("platform") else None
        image = await engine.image_result(request.image, platform)
        layout = image_layout(layout, image, request.mountroot)
    spec = layout.process
    spec.args = request.args
    spec.env = merge_env(spec.env, request.env)
    if request.workdir:
        spec.cwd = request.workdir

    async def write(data: bytes) -> None:
        out.write(data)
        out.flush()

    send, receive = anyio.create_memory_object_stream[Control](max_buffer_size=16)
    io = ProcessIO(
        stdout=write,
        stderr=write,
        stdin=stdin.chunks() if request.interactive else None,
        tty=request.tty,
        control=receive,
    )
    async with (
        send,
        receive,
        container(engine.build.gateway, layout.request) as container_id,
        anyio.create_task_group() as tg,
    ):
        tg.start_soon(forward_signals, send, request.tty)
        if request.tty:
            size = window_size()
            if size is not None:
                await send.send(size)
        if request.tty and stdin.is_terminal:
            with raw_mode(stdin.fd):
                code = await run_process(engine.build.gateway, container_id, spec, io)
        else:
            code = await run_process(engine.build.gateway, container_id, spec, io)
        tg.cancel_scope.cancel()
    return code
