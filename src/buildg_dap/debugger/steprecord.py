"""The per-line step record: what the last build or debug session of a Dockerfile did at
each instruction (executed, loaded from which cache, or failed) and how long it took.

``buildg-dap build``, the DAP adapter and the REPL write it when a build ends (the
adapter also when a session ends early, with what completed so far); the language
server reads it to show hints such as ``cached`` or ``2.1 s`` beside each instruction.
It is one JSON file per Dockerfile under ``$XDG_STATE_HOME/buildg-dap/steps/``, replaced
atomically, so a reader sees the previous record or the new one, never half of one.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel

from buildg_dap.cache.attribution import Origin, StepOrigin

# Only types: the language server imports this module and needs none of the engine.
if TYPE_CHECKING:
    from buildg_dap.debugger.origins import Origins
    from buildg_dap.debugger.program import Program

Status = Literal["executed", "cached", "failed"]
# Which status a line shows when the platforms' builds of it differ.
_RANK: dict[Status, int] = {"cached": 0, "executed": 1, "failed": 2}
# The error BuildKit gives steps it stopped because the build ended; they did not fail.
_CANCELLED = "context canceled"


class LineRecord(BaseModel):
    line: int  # 1-based first line of the step's instruction
    end_line: int  # 1-based last line (continuation lines)
    text: str  # the instruction's first line as written, stripped
    status: Status
    cache: str = ""  # for "cached": where from (the imported caches, or "builder cache")
    duration: float | None = None  # seconds the step took in that build


class StepRecord(BaseModel):
    dockerfile: str  # absolute path, symlinks resolved
    finished: datetime  # when written (UTC)
    steps: list[LineRecord]  # sorted by line, one per step line; steps not evaluated are absent


def _state_home() -> Path:
    # The XDG spec: an unset, empty or relative XDG_STATE_HOME means the default.
    configured = os.environ.get("XDG_STATE_HOME", "")
    if configured and os.path.isabs(configured):
        return Path(configured)
    return Path.home() / ".local" / "state"


def record_path(dockerfile: Path) -> Path:
    """Where the record of ``dockerfile`` lives: one file per resolved absolute path."""
    key = hashlib.sha256(os.fsencode(dockerfile.resolve())).hexdigest()[:24]
    return _state_home() / "buildg-dap" / "steps" / f"{key}.json"


def load_record(dockerfile: Path) -> StepRecord | None:
    """The record of ``dockerfile``; None when there is none or it cannot be read."""
    try:
        return StepRecord.model_validate_json(record_path(dockerfile).read_bytes())
    except (OSError, ValueError):  # pydantic's ValidationError is a ValueError
        return None


def save_record(record: StepRecord) -> None:
    """Write ``record`` in place of the previous one (a temporary file then a rename, so
    readers never see a partial file)."""
    path = record_path(Path(record.dockerfile))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(record.model_dump_json(indent=1))
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _cache_source(origin: StepOrigin, imports: list[str]) -> str:
    """Where a cached step came from, as far as the engine can tell (see attribution)."""
    if origin.origin is Origin.IMPORTED:
        return ", ".join(origin.caches)
    if imports:
        return "builder cache or " + ", ".join(imports)
    return "builder cache"


def line_records(program: Program, origins: Origins) -> list[LineRecord]:
    """One record per step of ``program`` that its build evaluated, in program order."""
    lines = program.source.lines()
    records = []
    for step in program.steps:
        state = origins.progress.vertices.get(step.digest)
        if state is None or state.completed is None or _CANCELLED in state.error:
            continue
        cache = ""
        if state.error:
            status: Status = "failed"
        else:
            origin = origins.of(step)
            if origin is None:
                continue
            status = "cached" if origin.from_cache else "executed"
            cache = _cache_source(origin, origins.cache_names) if origin.from_cache else ""
        first = lines[step.line - 1] if step.line <= len(lines) else step.text
        records.append(
            LineRecord(
                line=step.line,
                end_line=step.range.end_line,
                text=first.strip(),
                status=status,
                cache=cache,
                duration=state.duration,
            )
        )
    return records


def merge_lines(records: Iterable[LineRecord]) -> list[LineRecord]:
    """One record per line, sorted: of several (platforms, or ops sharing a line) the
    failed one wins over the executed one over the cached one; the longest duration."""
    by_line: dict[int, LineRecord] = {}
    for record in records:
        kept = by_line.get(record.line)
        if kept is None:
            by_line[record.line] = record
            continue
        winner = record if _RANK[record.status] > _RANK[kept.status] else kept
        durations = [d for d in (kept.duration, record.duration) if d is not None]
        by_line[record.line] = winner.model_copy(
            update={"duration": max(durations) if durations else None}
        )
    return [by_line[line] for line in sorted(by_line)]


Run = tuple["Program | None", "Origins"]


def step_record(dockerfile: Path, runs: Iterable[Run]) -> StepRecord:
    """The record of the builds in ``runs`` (one per platform: its program, if loaded,
    and where its steps came from)."""
    return StepRecord(
        dockerfile=str(dockerfile.resolve()),
        finished=datetime.now(UTC),
        steps=merge_lines(
            record
            for program, origins in runs
            if program is not None
            for record in line_records(program, origins)
        ),
    )


def write_record(dockerfile: Path, runs: Iterable[Run], warn: Callable[[str], object]) -> None:
    """Save the record of ``runs`` when any program was loaded. Never raises for the
    file: the build's outcome is what matters, a record that cannot be saved is a
    warning."""
    runs = list(runs)
    if all(program is None for program, _ in runs):
        return
    try:
        save_record(step_record(dockerfile, runs))
    except OSError as error:
        warn(f"could not save the step record of {dockerfile}: {error}")
