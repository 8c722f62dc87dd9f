"""Source listings in buildg's layout::

    Filename: "Dockerfile"
          4| FROM busybox AS build2
    *=>   5| RUN echo hi > /hi

``*`` marks a line with a breakpoint, ``=>`` the lines of the current position.
"""

from __future__ import annotations

from collections.abc import Collection

from buildg_dap.buildkit.llb import Range


def render(
    filename: str,
    lines: list[str],
    current: Collection[Range],
    breakpoint_lines: Collection[int],
    *,
    before: int = 3,
    after: int = 3,
    show_all: bool = False,
) -> list[str]:
    out = [f'Filename: "{filename}"']
    printed_last = False
    first = True
    for number, text in enumerate(lines, start=1):
        shown = show_all or any(
            r.start_line - before <= number <= r.end_line + after for r in current
        )
        if not shown:
            printed_last = False
            continue
        if not printed_last and not first:
            out.append("----------------")
        target = any(r.start_line <= number <= r.end_line for r in current)
        mark = "*" if number in breakpoint_lines else " "
        arrow = "=>" if target else "  "
        out.append(f"{mark}{arrow}{number:4d}| {text}")
        printed_last = True
        first = False
    return out
