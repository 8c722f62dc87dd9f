"""``exec`` at a stop, for any front end: which filesystem (the step's result, its inputs,
or what a failed step left), which image, and the env, workdir and user in effect at
that line. Front ends choose only where the bytes go (a terminal, DAP output events, a
``runInTerminal`` shell) by passing a ProcessIO."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field

from buildg_dap.buildkit.errors import SolveError
from buildg_dap.debugger.engine import Engine
from buildg_dap.debugger.errors import EngineError
from buildg_dap.debugger.mounts import Layout, LayoutError, Where, image_layout, step_layout
from buildg_dap.debugger.process import ExecFailed, ProcessIO, container, run_process
from buildg_dap.debugger.stepconfig import step_config

DEFAULT_SHELL = ["/bin/sh"]


@dataclass
class ExecRequest:
    args: list[str]
    env: list[str] = field(default_factory=list)
    workdir: str = ""
    init_state: bool = False
    use_image: bool = False
    image: str = ""
    mountroot: str = "/debugroot"

    @classmethod
    def from_command(cls, ns: argparse.Namespace, image: str) -> ExecRequest:
        """From the ``exec`` command's parsed arguments (debugger/commands.py);
        ``image`` is the session's debugger image for ``--image``."""
        return cls(
            args=list(ns.args),
            env=list(ns.env),
            workdir=ns.workdir,
            init_state=bool(ns.init_state),
            use_image=bool(ns.image),
            image=image,
            mountroot=ns.mountroot,
        )


def merge_env(base: list[str], overrides: list[str]) -> list[str]:
    """``-e K=V`` replaces K; ``-e K`` alone is rejected (no host env leaks in)."""
    merged = {item.split("=", 1)[0]: item for item in base}
    for item in overrides:
        if "=" not in item:
            raise EngineError(f"invalid -e {item!r}: use KEY=VALUE")
        merged[item.split("=", 1)[0]] = item
    return list(merged.values())


async def prepare_exec(engine: Engine, request: ExecRequest) -> Layout:
    """The container and process for ``request`` at the current stop."""
    stop = engine.stop
    if stop is None or stop.step is None:
        raise EngineError("not stopped at a step yet (at entry): use next or continue")
    if request.use_image and not request.image:
        raise EngineError(
            "no debugger image: start the session with one (--image, or the launch field image)"
        )
    layout = await step_layout(
        stop.step,
        Where.INPUTS if request.init_state else Where.RESULT,
        root_result=stop.result_id,
        resolve=engine.resolve,
        failure=stop.error.solve if stop.error is not None else None,
        config=await step_config(engine, stop.step),
    )
    if request.use_image:
        op = stop.step.node.op
        image = await engine.image_result(
            request.image, op.platform if op.HasField("platform") else None
        )
        layout = image_layout(layout, image, request.mountroot)
    spec = layout.process
    spec.args = request.args or list(DEFAULT_SHELL)
    spec.env = merge_env(spec.env, request.env)
    if request.workdir:
        spec.cwd = request.workdir
    return layout


async def run_exec(engine: Engine, request: ExecRequest, io: ProcessIO) -> int:
    """Run the process to its end and return its exit code. A process that cannot start
    raises ExecFailed with BuildKit's message; losing the builder raises BuilderGone."""
    try:
        layout = await prepare_exec(engine, request)
        gateway = engine.build.gateway
        async with container(gateway, layout.request) as container_id:
            return await run_process(gateway, container_id, layout.process, io)
    except SolveError as error:
        await engine.check_builder(error)
        raise ExecFailed(error.message) from None
    except ExecFailed as error:
        await engine.check_builder(error)
        raise
    except LayoutError as error:
        raise ExecFailed(str(error)) from None
