"""The LLB definition as a graph: ops by digest, their source locations, sub-definitions."""

from __future__ import annotations

import hashlib
from collections.abc import MutableSequence
from dataclasses import dataclass, field

from buildg_dap._proto.buildkit import ops_pb2

# Names of the Dockerfiles we hand the frontend as inputs (mkfile_definition): the lint
# request's and the step-configuration probe's. They name the progress vertices and the
# records those files leave in the builder's cache, which are not build results.
LINT_INPUT_PREFIX = "[internal] lint "
CONFIG_INPUT_PREFIX = "[internal] step configuration: "
OWN_INPUT_PREFIXES = (LINT_INPUT_PREFIX, CONFIG_INPUT_PREFIX)


def op_digest(raw: bytes) -> str:
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def op_bytes(definition: ops_pb2.Definition) -> MutableSequence[bytes]:
    """The serialized ops (the field is named ``def``, a Python keyword)."""
    ops: MutableSequence[bytes] = getattr(definition, "def")
    return ops


@dataclass(frozen=True)
class Range:
    """A 1-based, inclusive line range in one source file."""

    filename: str
    start_line: int
    end_line: int


@dataclass(frozen=True)
class SourceFile:
    filename: str
    data: bytes
    language: str = ""

    def lines(self) -> list[str]:
        return self.data.decode("utf-8", "replace").splitlines()


@dataclass
class OpNode:
    digest: str
    raw: bytes
    op: ops_pb2.Op
    description: dict[str, str] = field(default_factory=dict)
    ignore_cache: bool = False
    # One op can stand for several Dockerfile lines (identical FROM in many stages).
    ranges: list[Range] = field(default_factory=list)

    @property
    def kind(self) -> str:
        return self.op.WhichOneof("op") or "head"

    @property
    def inputs(self) -> list[ops_pb2.Input]:
        return list(self.op.inputs)


class Graph:
    """An LLB definition whose last op is the head (one input: the build result)."""

    def __init__(self, definition: ops_pb2.Definition) -> None:
        raw_ops = op_bytes(definition)
        if not raw_ops:
            raise ValueError("empty LLB definition")
        self.definition = definition
        self.nodes: dict[str, OpNode] = {}
        for raw in raw_ops:
            op = ops_pb2.Op()
            op.ParseFromString(raw)
            digest = op_digest(raw)
            meta = definition.metadata.get(digest)
            self.nodes[digest] = OpNode(
                digest=digest,
                raw=raw,
                op=op,
                description=dict(meta.description) if meta else {},
                ignore_cache=bool(meta and meta.ignore_cache),
            )
        self.head = op_digest(raw_ops[-1])
        self.sources = [
            SourceFile(info.filename, info.data, info.language)
            for info in definition.Source.infos
        ]
        for digest, locations in definition.Source.locations.items():
            node = self.nodes.get(digest)
            if node is None:
                continue
            for location in locations.locations:
                if not 0 <= location.sourceIndex < len(self.sources):
                    continue
                filename = self.sources[location.sourceIndex].filename
                # One location is one instruction; the Dockerfile frontend gives each of
                # its lines (continuations, heredoc bodies) a range of its own.
                starts = [r.start.line for r in location.ranges]
                ends = [r.end.line for r in location.ranges]
                if starts:
                    node.ranges.append(Range(filename, min(starts), max(ends)))

    @property
    def result(self) -> ops_pb2.Input | None:
        head = self.nodes[self.head]
        return head.op.inputs[0] if head.kind == "head" and head.op.inputs else None

    def sub_definition(self, target: ops_pb2.Input) -> ops_pb2.Definition:
        """A copy of the definition whose result is ``target``: solving it runs only
        ``target`` and its ancestors. Other ops keep their exact bytes (and digests)."""
        head = ops_pb2.Op(inputs=[ops_pb2.Input(digest=target.digest, index=target.index)])
        definition = ops_pb2.Definition()
        definition.CopyFrom(self.definition)
        op_bytes(definition)[-1] = head.SerializeToString(deterministic=True)
        return definition

    def ancestors(self, digest: str) -> set[str]:
        seen: set[str] = set()
        stack = [digest]
        while stack:
            current = stack.pop()
            for inp in self.nodes[current].op.inputs:
                if inp.digest not in seen and inp.digest in self.nodes:
                    seen.add(inp.digest)
                    stack.append(inp.digest)
        return seen


def image_definition(name: str, platform: ops_pb2.Platform | None) -> ops_pb2.Definition:
    """A definition whose result is the image ``name`` (a normalized reference)."""
    source = ops_pb2.Op(source=ops_pb2.SourceOp(identifier=f"docker-image://{name}"))
    if platform is not None:
        source.platform.CopyFrom(platform)
    raw = source.SerializeToString(deterministic=True)
    head = ops_pb2.Op(inputs=[ops_pb2.Input(digest=op_digest(raw), index=0)])
    definition = ops_pb2.Definition()
    op_bytes(definition).extend([raw, head.SerializeToString(deterministic=True)])
    return definition


def mkfile_definition(files: dict[str, bytes], name: str = "") -> ops_pb2.Definition:
    """A definition whose result is a scratch filesystem holding ``files`` (one FileOp,
    actions chained as client/llb chains them: each works on the previous one's output)."""
    actions = []
    for i, (path, data) in enumerate(files.items()):
        actions.append(
            ops_pb2.FileAction(
                input=-1 if i == 0 else i - 1,  # no op inputs: i-1 is action i-1's output
                secondaryInput=-1,
                output=0 if i == len(files) - 1 else -1,
                mkfile=ops_pb2.FileActionMkFile(
                    path="/" + path.lstrip("/"), mode=0o644, data=data, timestamp=-1
                ),
            )
        )
    file_op = ops_pb2.Op(file=ops_pb2.FileOp(actions=actions))
    raw = file_op.SerializeToString(deterministic=True)
    head = ops_pb2.Op(inputs=[ops_pb2.Input(digest=op_digest(raw), index=0)])
    raw_head = head.SerializeToString(deterministic=True)
    definition = ops_pb2.Definition()
    op_bytes(definition).extend([raw, raw_head])
    # BuildKit takes a definition without op metadata for a nil one (Definition.IsNil)
    # and refuses it as a frontend input; client/llb records metadata for every op.
    definition.metadata[op_digest(raw)].caps["file.base"] = True
    if name:
        # Its name in the build's progress.
        definition.metadata[op_digest(raw)].description["llb.customname"] = name
    definition.metadata[op_digest(raw_head)].CopyFrom(ops_pb2.OpMetadata())
    return definition


# The dockerui config reads the Dockerfile from the frontend input of this name, when
# present, instead of the session's local "dockerfile" directory.
DOCKERFILE_INPUT = "dockerfile"
# Present and non-empty, it stands in for the context's .dockerignore, which the
# frontend would otherwise fetch through the session on every call. Nothing that hands
# the frontend its Dockerfile this way builds the context, so no pattern matters.
_IGNORE_STUB = b"# not used: the context is not built\n"


def dockerfile_input(filename: str, data: bytes, name: str) -> dict[str, ops_pb2.Definition]:
    """Frontend inputs handing the Dockerfile frontend ``data`` as the Dockerfile
    ``filename``; ``name`` names it in the build's progress and the builder's cache."""
    files = {filename: data, filename + ".dockerignore": _IGNORE_STUB}
    return {DOCKERFILE_INPUT: mkfile_definition(files, name=name)}
