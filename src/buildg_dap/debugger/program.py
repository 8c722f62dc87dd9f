"""The program being debugged: the Dockerfile's steps in the order a build evaluates them.

A step is one op *at one Dockerfile location*. BuildKit merges identical ops, so one
``FROM busybox`` op can stand for lines 1, 4 and 7; each line is its own step, and the
stage a visit belongs to comes from the path through the graph (the consumer's stage).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from buildg_dap._proto.buildkit import gateway_pb2, ops_pb2
from buildg_dap.buildkit.llb import Graph, OpNode, Range, SourceFile, op_bytes
from buildg_dap.debugger.errors import EngineError

_FROM = re.compile(r"^\s*FROM\s+(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?", re.IGNORECASE)


@dataclass(frozen=True)
class Stage:
    index: int
    name: str  # the AS name, or stage-N as BuildKit's progress names it
    base: str
    first_line: int
    last_line: int

    def contains(self, line: int) -> bool:
        return self.first_line <= line <= self.last_line


@dataclass
class Step:
    index: int
    node: OpNode
    output: int  # which output of the op is the step's result
    range: Range
    stage: Stage
    text: str  # the instruction as written (continuation lines joined)
    deps: set[int] = field(default_factory=set)

    @property
    def digest(self) -> str:
        return self.node.digest

    @property
    def line(self) -> int:
        return self.range.start_line

    @property
    def instruction(self) -> str:
        return self.text.split(None, 1)[0].upper() if self.text.strip() else self.node.kind

    @property
    def result_input(self) -> ops_pb2.Input:
        return ops_pb2.Input(digest=self.digest, index=self.output)

    def covers(self, line: int) -> bool:
        return self.range.start_line <= line <= self.range.end_line

    def label(self) -> str:
        return f"{self.range.filename}:{self.line}"


def parse_stages(source: SourceFile) -> list[Stage]:
    lines = source.lines()
    starts: list[tuple[int, str, str]] = []
    for number, text in enumerate(lines, start=1):
        match = _FROM.match(text)
        if match:
            starts.append((number, match.group(1), match.group(2) or ""))
    stages = []
    for i, (first, base, name) in enumerate(starts):
        last = starts[i + 1][0] - 1 if i + 1 < len(starts) else max(len(lines), first)
        stages.append(Stage(i, name or f"stage-{i}", base, first, last))
    return stages


def frontend_definitions(result: gateway_pb2.Result) -> dict[str, ops_pb2.Definition]:
    """A frontend result's build definitions by platform ("" for a single ref)."""
    kind = result.WhichOneof("result")
    if kind == "ref":
        return {"": getattr(result.ref, "def")}
    if kind == "refs":
        return {platform: getattr(ref, "def") for platform, ref in result.refs.refs.items()}
    return {}


def _root_output(node: OpNode) -> int:
    """The output index holding the root filesystem of an exec op (0 for others)."""
    if node.kind == "exec":
        for mount in node.op.exec.mounts:
            if mount.dest == "/" and mount.output >= 0:
                return int(mount.output)
    return 0


class Program:
    """Steps in evaluation order: every step comes after the steps it depends on."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.source = next((s for s in graph.sources if s.data), None) or SourceFile("", b"")
        self.stages = parse_stages(self.source)
        self.steps: list[Step] = []
        self._seen: dict[tuple[str, int, int], Step] = {}
        self._memo: dict[tuple[str, int], set[int]] = {}
        result = graph.result
        if result is not None:
            self._visit(result.digest, None)

    @classmethod
    def from_frontend(cls, result: gateway_pb2.Result) -> Program:
        """The program of a frontend's result. Results per platform come as a map (also
        for one platform, when BUILDKIT_MULTI_PLATFORM is set); a program is one
        platform's, so front ends debug several platforms with one engine each."""
        definitions = frontend_definitions(result)
        if len(definitions) == 1:
            return cls(Graph(next(iter(definitions.values()))))
        if definitions:
            raise EngineError(
                "the frontend returned one program per platform "
                f"({', '.join(sorted(definitions))}); a debug engine follows one: start one "
                "engine per platform"
            )
        kind = result.WhichOneof("result")
        raise EngineError(f"the frontend returned no build definition (result {kind!r})")

    @classmethod
    def each_platform(cls, result: gateway_pb2.Result) -> list[Program]:
        """The programs of a frontend's result, one per platform; a platform whose result
        is empty (a bare ``FROM scratch``) has no steps and no program."""
        return [cls(Graph(d)) for d in frontend_definitions(result).values() if op_bytes(d)]

    @property
    def filename(self) -> str:
        return self.source.filename

    def stage_of(self, line: int) -> Stage:
        for stage in self.stages:
            if stage.contains(line):
                return stage
        return Stage(0, "stage-0", "", 1, max(1, len(self.source.lines())))

    def _text(self, r: Range) -> str:
        lines = self.source.lines()[r.start_line - 1 : r.end_line]
        return " ".join(line.strip().rstrip("\\").strip() for line in lines)

    def _visit(self, digest: str, hint: Stage | None) -> set[int]:
        """Post-order walk; returns the indices of every step at or below ``digest``."""
        memo_key = (digest, hint.index if hint else -1)
        if memo_key in self._memo:
            return self._memo[memo_key]
        node = self.graph.nodes.get(digest)
        if node is None:
            return set()
        ranges = [r for r in node.ranges if r.filename == self.source.filename]
        stages = [self.stage_of(r.start_line) for r in ranges]
        chosen = [
            (r, s) for r, s in zip(ranges, stages, strict=True) if hint is None or s == hint
        ] or list(zip(ranges, stages, strict=True))
        below: set[int] = set()
        for inp in node.op.inputs:
            below |= self._visit(inp.digest, chosen[0][1] if chosen else hint)
        for r, stage in chosen:
            key = (digest, r.start_line, r.end_line)
            step = self._seen.get(key)
            if step is None:
                step = Step(
                    index=len(self.steps),
                    node=node,
                    output=_root_output(node),
                    range=r,
                    stage=stage,
                    text=self._text(r),
                    deps=set(below),
                )
                self.steps.append(step)
                self._seen[key] = step
            below.add(step.index)
        self._memo[memo_key] = below
        return below

    def steps_at(self, line: int) -> list[Step]:
        return [s for s in self.steps if s.covers(line)]

    def next_step_line(self, line: int) -> int | None:
        """The first line at or after ``line`` where a step starts, for moving breakpoints."""
        candidates = [s.line for s in self.steps if s.range.end_line >= line]
        return min(candidates) if candidates else None

    def steps_for_digest(self, digest: str) -> list[Step]:
        return [s for s in self.steps if s.digest == digest]

    def entry_lines(self) -> list[int]:
        """Where the build starts: the lines of the steps that depend on nothing."""
        return sorted({s.line for s in self.steps if not s.deps})

    def stage_position(self, step: Step) -> tuple[int, int]:
        """(i, n) as in BuildKit's ``[stage i/n]`` progress names."""
        in_stage = sorted({s.line for s in self.steps if s.stage == step.stage})
        return in_stage.index(step.line) + 1, len(in_stage)
