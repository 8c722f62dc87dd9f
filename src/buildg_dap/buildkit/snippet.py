"""The Dockerfile lines an error points at, printed the way buildctl prints them: a
``Dockerfile:LINE`` header, then numbered lines between rules, ``>>>`` marking the lines
the error names, with a few lines of context around them."""

from __future__ import annotations

from buildg_dap._proto.buildkit import errdefs_pb2, ops_pb2

_RULE = "--------------------"


def _last(r: ops_pb2.Range) -> int:
    return max(r.start.line, r.end.line)


def _marked(ranges: list[ops_pb2.Range], line: int) -> bool:
    return any(r.start.line <= line <= _last(r) for r in ranges)


def format_source(source: errdefs_pb2.Source) -> str:
    """The snippet for one error source, or "" when it names no usable lines."""
    ranges = list(source.ranges)
    if not source.HasField("info") or not ranges:
        return ""
    lines = source.info.data.decode("utf-8", "replace").split("\n")
    first = min(r.start.line for r in ranges)
    last = min(max(_last(r) for r in ranges), len(lines))
    if first < 1 or first > len(lines):
        return ""
    # A single line gets more context; the context is shared out before and after it.
    budget = 4 if first == last else 2
    start, end, spent = first, last, 0
    while spent < budget:
        if start > 1:
            start -= 1
            spent += 1
        if end != len(lines):
            end += 1
            spent += 1
        spent += 1
    out = [f"{source.info.filename}:{first}", _RULE]
    for number in range(start, end + 1):
        mark = ">>>" if _marked(ranges, number) else "   "
        out.append(f" {number:3d} | {mark} {lines[number - 1]}")
    out.append(_RULE)
    return "\n".join(out) + "\n"
