"""What a step changed in the filesystem: paths added, modified and deleted relative to
the filesystem it started from.

BuildKit computes the difference itself: a DiffOp of the step's input (lower) and its
result (upper) is a snapshot holding exactly the added and modified paths, with every
folder whose entries changed. Deletions leave no file in it, so each folder in the diff
is compared with the same folder of the input for names that are gone.
"""

from __future__ import annotations

from dataclasses import dataclass

from buildg_dap._proto.buildkit import ops_pb2
from buildg_dap.buildkit.errors import SolveError
from buildg_dap.buildkit.gateway import Gateway
from buildg_dap.buildkit.llb import op_bytes, op_digest
from buildg_dap.buildkit.session.fswalk import GO_DIR
from buildg_dap.debugger.engine import Engine
from buildg_dap.debugger.errors import EngineError
from buildg_dap.debugger.events import Stop
from buildg_dap.debugger.program import Step

# A step that rewrote a whole tree is summarised rather than listed entry by entry.
MAX_CHANGES = 500


@dataclass(frozen=True)
class Change:
    path: str
    kind: str  # added / modified / deleted
    is_dir: bool = False
    size: int = 0

    def describe(self) -> str:
        if self.kind == "deleted":
            return "deleted"
        what = "folder" if self.is_dir else f"{self.size} bytes"
        return f"{self.kind} ({what})"


def _base_input(step: Step) -> ops_pb2.Input | None:
    """The input the step's result is built on: an exec's root mount, a file op's
    first input."""
    op = step.node.op
    if step.node.kind == "exec":
        for mount in op.exec.mounts:
            if mount.dest == "/" and 0 <= mount.input < len(op.inputs):
                return op.inputs[mount.input]
        return None
    if step.node.kind == "file" and op.inputs:
        return op.inputs[0]
    return None


async def _diff_result(engine: Engine, base: ops_pb2.Input, result: ops_pb2.Input) -> str:
    diff = ops_pb2.Op(
        inputs=[base, result],
        diff=ops_pb2.DiffOp(
            lower=ops_pb2.LowerDiffInput(input=0), upper=ops_pb2.UpperDiffInput(input=1)
        ),
    )
    raw = diff.SerializeToString(deterministic=True)
    head = ops_pb2.Op(inputs=[ops_pb2.Input(digest=op_digest(raw), index=0)])
    definition = engine.prog.graph.sub_definition(result)
    ops = op_bytes(definition)
    ops[-1] = raw
    ops.append(head.SerializeToString(deterministic=True))
    ref = await engine.build.gateway.solve_definition(definition, engine.request.cache_imports)
    return ref.id


async def step_changes(engine: Engine, stop: Stop) -> list[Change]:
    step = stop.step
    if step is None:
        raise EngineError("not stopped at a step yet (at entry)")
    if stop.error is not None or not stop.result_id:
        raise EngineError("a failed step has no result to compare; use exec to look at it")
    base = _base_input(step)
    if base is None:
        raise EngineError(f"{step.instruction} starts from nothing: every file is new")
    gateway = engine.build.gateway
    try:
        diff_id = await _diff_result(engine, base, step.result_input)
        base_id = await engine.resolve(base)
        changes: list[Change] = []
        folders = ["/"]
        while folders and len(changes) < MAX_CHANGES:
            folder = folders.pop(0)
            in_diff = await gateway.read_dir(diff_id, folder)
            before = await _names(gateway, base_id, folder)
            after = {e.path for e in await gateway.read_dir(stop.result_id, folder)}
            prefix = folder.rstrip("/") + "/"
            for entry in sorted(in_diff, key=lambda e: e.path):
                path = prefix + entry.path
                is_dir = bool(entry.mode & GO_DIR)
                existed = entry.path in before
                if is_dir:
                    folders.append(path)
                    if existed:
                        continue  # a folder whose entries changed is listed through them
                changes.append(
                    Change(path, "modified" if existed else "added", is_dir, entry.size)
                )
            changes += [Change(prefix + name, "deleted") for name in sorted(before - after)]
    except SolveError as error:
        await engine.check_builder(error)
        raise EngineError(f"cannot compute the changes: {error.message}") from None
    return changes[:MAX_CHANGES]


async def _names(gateway: Gateway, ref: str, folder: str) -> set[str]:
    """Entry names of ``folder`` in ``ref``; none when the folder did not exist there."""
    try:
        entries = await gateway.read_dir(ref, folder)
    except SolveError:
        return set()
    return {e.path for e in entries}
