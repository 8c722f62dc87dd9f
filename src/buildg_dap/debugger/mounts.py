"""Container layouts for exec at a stop: on a step's result, on its inputs, on the
filesystem a failed step left behind, or inside a debugger image with the step's root
mounted under it. RUN mounts (cache, secret, ssh, tmpfs, binds) are reproduced."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum

from buildg_dap._proto.buildkit import errdefs_pb2, gateway_pb2, ops_pb2
from buildg_dap.debugger.process import ProcessSpec
from buildg_dap.debugger.program import Step
from buildg_dap.debugger.stepconfig import StepConfig

DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Resolves an op output (digest, index) to a live result id by solving it.
Resolver = Callable[[ops_pb2.Input], Awaitable[str]]


class Where(Enum):
    RESULT = "result"  # after the step (the default)
    INPUTS = "inputs"  # before the step (--init-state)


class LayoutError(Exception):
    pass


@dataclass
class Layout:
    request: gateway_pb2.NewContainerRequest
    process: ProcessSpec


def _copy_special(mount: ops_pb2.Mount) -> ops_pb2.Mount:
    """A cache/secret/ssh/tmpfs mount, recreated as the RUN declared it."""
    out = ops_pb2.Mount(
        dest=mount.dest, selector=mount.selector, mountType=mount.mountType, readonly=mount.readonly
    )
    if mount.HasField("cacheOpt"):
        out.cacheOpt.CopyFrom(mount.cacheOpt)
    if mount.HasField("secretOpt"):
        out.secretOpt.CopyFrom(mount.secretOpt)
    if mount.HasField("SSHOpt"):
        out.SSHOpt.CopyFrom(mount.SSHOpt)
    if mount.HasField("TmpfsOpt"):
        out.TmpfsOpt.CopyFrom(mount.TmpfsOpt)
    return out


async def _exec_mounts(
    step: Step,
    where: Where,
    root_result: str | None,
    resolve: Resolver,
    failure: errdefs_pb2.Solve | None,
) -> list[ops_pb2.Mount]:
    op = step.node.op
    mounts: list[ops_pb2.Mount] = []
    for index, mount in enumerate(op.exec.mounts):
        if mount.mountType != ops_pb2.BIND:
            special = _copy_special(mount)
            if mount.mountType == ops_pb2.CACHE and 0 <= mount.input < len(op.inputs):
                # BuildKit keys a cache directory by its id *and* its base, so the
                # same base is needed to see what earlier builds left in it.
                if failure is not None and mount.input < len(failure.inputIDs):
                    special.resultID = failure.inputIDs[mount.input]
                else:
                    special.resultID = await resolve(op.inputs[mount.input])
            mounts.append(special)
            continue
        result_id = ""
        if failure is not None and where is Where.RESULT and index < len(failure.mountIDs):
            result_id = failure.mountIDs[index]
        elif failure is not None and 0 <= mount.input < len(failure.inputIDs):
            result_id = failure.inputIDs[mount.input]
        elif where is Where.RESULT and mount.dest == "/" and root_result:
            result_id = root_result
        elif where is Where.RESULT and mount.output >= 0:
            result_id = await resolve(ops_pb2.Input(digest=step.digest, index=mount.output))
        elif 0 <= mount.input < len(op.inputs):
            result_id = await resolve(op.inputs[mount.input])
        if not result_id and mount.input >= 0:
            raise LayoutError(f"mount {mount.dest} of {step.label()} has no result to show")
        mounts.append(
            ops_pb2.Mount(
                dest=mount.dest,
                selector=mount.selector,
                readonly=mount.readonly,
                mountType=ops_pb2.BIND,
                resultID=result_id,
            )
        )
    return mounts


async def _root_only(
    step: Step,
    where: Where,
    root_result: str | None,
    resolve: Resolver,
    failure: errdefs_pb2.Solve | None,
) -> list[ops_pb2.Mount]:
    if where is Where.RESULT and failure is None:
        if not root_result:
            raise LayoutError(f"{step.label()} has no result yet")
        result_id = root_result
    elif failure is not None and failure.inputIDs:
        result_id = failure.inputIDs[0]
    elif step.node.op.inputs:
        result_id = await resolve(step.node.op.inputs[0])
    else:
        raise LayoutError(
            f"{step.label()} ({step.instruction}) has no inputs: use exec without --init-state"
        )
    return [ops_pb2.Mount(dest="/", mountType=ops_pb2.BIND, resultID=result_id)]


def _exec_op(step: Step) -> ops_pb2.ExecOp | None:
    return step.node.op.exec if step.node.kind == "exec" else None


async def step_container(
    step: Step,
    where: Where,
    *,
    root_result: str | None,
    resolve: Resolver,
    failure: errdefs_pb2.Solve | None = None,
) -> gateway_pb2.NewContainerRequest:
    """The container at ``step``: its filesystems, network and platform (reading files
    needs no more; a process also needs :func:`step_layout`'s configuration)."""
    exec_op = _exec_op(step)
    if exec_op is not None:
        mounts = await _exec_mounts(step, where, root_result, resolve, failure)
    else:
        mounts = await _root_only(step, where, root_result, resolve, failure)
    request = gateway_pb2.NewContainerRequest(Mounts=mounts)
    if exec_op is not None:
        request.Network = exec_op.network
        request.extraHosts.extend(exec_op.meta.extraHosts)
        request.hostname = exec_op.meta.hostname
    if step.node.op.HasField("platform"):
        request.platform.CopyFrom(step.node.op.platform)
    return request


async def step_layout(
    step: Step,
    where: Where,
    *,
    config: StepConfig,
    root_result: str | None,
    resolve: Resolver,
    failure: errdefs_pb2.Solve | None = None,
) -> Layout:
    """The container for exec at ``step``; the process gets the env, workdir and user in
    effect at the step's line (``config``), whatever its kind."""
    request = await step_container(
        step, where, root_result=root_result, resolve=resolve, failure=failure
    )
    exec_op = _exec_op(step)
    process = ProcessSpec(
        args=[],
        env=list(config.env) or [DEFAULT_PATH],
        cwd=config.workdir or "/",
        user=config.user,
        security=exec_op.security if exec_op is not None else ops_pb2.SANDBOX,
        secret_env=list(exec_op.secretenv) if exec_op is not None else [],
    )
    return Layout(request, process)


def image_layout(layout: Layout, image_result: str, mountroot: str) -> Layout:
    """Run in a debugger image, with the step's filesystem under ``mountroot``
    (the way to look into ``scratch`` stages that have no shell)."""
    mounts = [ops_pb2.Mount(dest="/", mountType=ops_pb2.BIND, resultID=image_result)]
    for mount in layout.request.Mounts:
        moved = ops_pb2.Mount()
        moved.CopyFrom(mount)
        moved.dest = mountroot.rstrip("/") + ("" if mount.dest == "/" else mount.dest)
        mounts.append(moved)
    request = gateway_pb2.NewContainerRequest()
    request.CopyFrom(layout.request)
    del request.Mounts[:]
    request.Mounts.extend(mounts)
    process = ProcessSpec(args=[], env=[DEFAULT_PATH], cwd="/", user="")
    return Layout(request, process)
