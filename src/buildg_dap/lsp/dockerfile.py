"""A Dockerfile's layout as an editor needs it: instructions with their line ranges
(continuation lines and here-documents included), stages, and variable references.

What a step *means* is always asked of BuildKit; this only finds where things are while
the user types, without a builder: the same line rules as BuildKit's parser (escape
directive, continuation lines with comments and blank lines inside, here-documents on
RUN, COPY and ADD).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# Instructions whose line becomes a step of the build (an op with that source location).
STEP_KEYWORDS = frozenset({"FROM", "RUN", "COPY", "ADD", "WORKDIR"})
_HEREDOC_KEYWORDS = frozenset({"RUN", "COPY", "ADD"})
_DIRECTIVE = re.compile(r"^#\s*([A-Za-z][A-Za-z0-9_-]*)\s*=\s*(.*?)\s*$")
_KEYWORD = re.compile(r"^(\s*)([A-Za-z]+)(\s|$)")
_HEREDOC = re.compile(r"<<(-?)\s*([\"']?)([A-Za-z0-9_./-]+)\2")
_FROM_ARGS = re.compile(r"^(?:--\S+\s+)*(\S+)(?:\s+as\s+(\S+))?", re.IGNORECASE)
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_REFERENCE = re.compile(rf"\$(?:\{{({_NAME})[^}}]*\}}|({_NAME}))")


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case
    start: int  # 0-based first line
    end: int  # 0-based last line: continuation lines and here-documents included
    text: str  # the first line, stripped
    args: str  # the arguments with continuation lines joined (here-documents left out)
    column: int  # where the keyword starts on the first line

    @property
    def is_step(self) -> bool:
        return self.keyword in STEP_KEYWORDS

    def covers(self, line: int) -> bool:
        return self.start <= line <= self.end


@dataclass(frozen=True)
class Stage:
    index: int
    name: str  # the AS name; "" for an unnamed stage
    base: str
    start: int  # the FROM line
    end: int  # the last line of its last instruction
    instructions: list[Instruction]

    @property
    def label(self) -> str:
        return self.name or f"stage-{self.index}"


@dataclass(frozen=True)
class Reference:
    """A ``$NAME`` or ``${NAME...}`` on one line, columns [start, end)."""

    name: str
    line: int
    start: int
    end: int


@dataclass(frozen=True)
class Dockerfile:
    lines: list[str]
    escape: str
    instructions: list[Instruction]
    stages: list[Stage] = field(default_factory=list)

    @property
    def steps(self) -> list[Instruction]:
        """The instructions inside stages that make build steps, in file order."""
        return [i for stage in self.stages for i in stage.instructions if i.is_step]

    def instruction_at(self, line: int) -> Instruction | None:
        return next((i for i in self.instructions if i.covers(line)), None)

    def stage_at(self, line: int) -> Stage | None:
        return next((s for s in self.stages if s.start <= line <= s.end), None)

    def reference_at(self, line: int, column: int) -> Reference | None:
        """The variable reference under the cursor, outside here-document bodies."""
        if not 0 <= line < len(self.lines):
            return None
        text = self.lines[line]
        for match in _REFERENCE.finditer(text):
            escaped = match.start() > 0 and text[match.start() - 1] == self.escape
            if not escaped and match.start() <= column < match.end():
                name = match.group(1) or match.group(2)
                return Reference(name, line, match.start(), match.end())
        return None


def parse(text: str) -> Dockerfile:
    lines = text.split("\n")
    lines = [line.removesuffix("\r") for line in lines]
    escape = _escape_directive(lines)
    instructions: list[Instruction] = []
    number = 0
    while number < len(lines):
        match = _KEYWORD.match(lines[number])
        stripped = lines[number].strip()
        if not stripped or stripped.startswith("#") or match is None:
            number += 1
            continue
        instruction = _read_instruction(lines, number, escape, match)
        instructions.append(instruction)
        number = instruction.end + 1
    return Dockerfile(lines, escape, instructions, _stages(instructions))


def _escape_directive(lines: list[str]) -> str:
    # Directives are comments at the very top, before anything else (BuildKit's rule).
    for line in lines:
        match = _DIRECTIVE.match(line.strip())
        if match is None:
            break
        if match.group(1).lower() == "escape" and match.group(2) in ("\\", "`"):
            return match.group(2)
    return "\\"


def _blank_or_comment(line: str) -> bool:
    stripped = line.strip()
    return not stripped or stripped.startswith("#")


def _continues(line: str, escape: str) -> bool:
    return line.rstrip().endswith(escape)


def _read_instruction(
    lines: list[str], first: int, escape: str, match: re.Match[str]
) -> Instruction:
    keyword = match.group(2).upper()
    parts = [lines[first][match.end(2) :].rstrip()]
    last = number = first
    while _continues(lines[last], escape):
        parts[-1] = parts[-1].removesuffix(escape)
        # Comment and blank lines inside an instruction are dropped, not its end.
        number += 1
        while number < len(lines) and _blank_or_comment(lines[number]):
            number += 1
        if number == len(lines):
            break
        last = number
        parts.append(lines[last].rstrip())
    args = " ".join(part.strip() for part in parts if part.strip())
    if keyword in _HEREDOC_KEYWORDS:
        last = _skip_heredocs(lines, last, args)
    return Instruction(keyword, first, last, lines[first].strip(), args, len(match.group(1)))


def _skip_heredocs(lines: list[str], last: int, args: str) -> int:
    """The last line of the here-documents ``args`` opens, in order, after ``last``."""
    for match in _HEREDOC.finditer(args):
        strip_tabs, word = match.group(1) == "-", match.group(3)
        while last + 1 < len(lines):
            last += 1
            body = lines[last].lstrip("\t") if strip_tabs else lines[last]
            if body == word:
                break
    return last


def _stages(instructions: list[Instruction]) -> list[Stage]:
    starts = [i for i, instruction in enumerate(instructions) if instruction.keyword == "FROM"]
    stages = []
    for index, at in enumerate(starts):
        until = starts[index + 1] if index + 1 < len(starts) else len(instructions)
        members = instructions[at:until]
        match = _FROM_ARGS.match(members[0].args.strip())
        base, name = (match.group(1), match.group(2) or "") if match else ("", "")
        stages.append(Stage(index, name, base, members[0].start, members[-1].end, members))
    return stages
