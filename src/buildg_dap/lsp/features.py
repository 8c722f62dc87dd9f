"""What the server shows for a Dockerfile, as LSP values: diagnostics from BuildKit's
checks, the stage outline, debug code lenses, breakable lines and step-record hints.
Pure functions of the parsed file and the data given; the server does the I/O."""

from __future__ import annotations

from lsprotocol import types as lsp

from buildg_dap.buildkit.lint import LintResults, Location
from buildg_dap.debugger.steprecord import LineRecord, StepRecord
from buildg_dap.lsp.dockerfile import Dockerfile, Instruction

SOURCE = "buildkit"
DEBUG_STAGE = "buildg-dap.debugStage"
DEBUG_TO_HERE = "buildg-dap.debugToHere"
_SYMBOL_WIDTH = 60


def diagnostics(results: LintResults, doc: Dockerfile) -> list[lsp.Diagnostic]:
    found = [
        lsp.Diagnostic(
            range=_range(warning.location, doc),
            message=warning.detail or warning.description or warning.ruleName,
            severity=lsp.DiagnosticSeverity.Warning,
            code=warning.ruleName,
            code_description=lsp.CodeDescription(href=warning.url) if warning.url else None,
            source=SOURCE,
        )
        for warning in results.warnings
    ]
    if results.buildError is not None:
        error = results.buildError
        found.append(
            lsp.Diagnostic(
                range=_range(error.location, doc),
                message=error.message,
                severity=lsp.DiagnosticSeverity.Error,
                source=SOURCE,
            )
        )
    return found


def _range(location: Location | None, doc: Dockerfile) -> lsp.Range:
    """BuildKit's 1-based line range; a character of 0 at both ends means whole lines."""
    if location is None or not location.ranges:
        return lsp.Range(lsp.Position(0, 0), lsp.Position(0, 0))
    first, last = location.ranges[0], location.ranges[-1]
    start_line = max(first.start.line - 1, 0)
    end_line = max(last.end.line - 1, start_line)
    if first.start.character or last.end.character:
        return lsp.Range(
            lsp.Position(start_line, first.start.character),
            lsp.Position(end_line, last.end.character),
        )
    start_text = doc.lines[start_line] if start_line < len(doc.lines) else ""
    end_text = doc.lines[end_line] if end_line < len(doc.lines) else ""
    indent = len(start_text) - len(start_text.lstrip())
    return lsp.Range(lsp.Position(start_line, indent), lsp.Position(end_line, len(end_text)))


def symbols(doc: Dockerfile) -> list[lsp.DocumentSymbol]:
    """Global ARGs, then each stage (name, base image) with its instructions."""
    first_stage = doc.stages[0].start if doc.stages else len(doc.lines)
    found = [
        _instruction_symbol(doc, i, lsp.SymbolKind.Variable)
        for i in doc.instructions
        if i.start < first_stage
    ]
    for stage in doc.stages:
        children = [
            _instruction_symbol(
                doc, i, lsp.SymbolKind.Function if i.is_step else lsp.SymbolKind.Field
            )
            for i in stage.instructions[1:]
        ]
        found.append(
            lsp.DocumentSymbol(
                name=stage.label,
                detail=f"FROM {stage.base}",
                kind=lsp.SymbolKind.Class,
                range=_lines_range(doc, stage.start, stage.end),
                selection_range=_lines_range(doc, stage.start, stage.start),
                children=children,
            )
        )
    return found


def _instruction_symbol(
    doc: Dockerfile, i: Instruction, kind: lsp.SymbolKind
) -> lsp.DocumentSymbol:
    name = f"{i.keyword} {i.args}".strip()
    if len(name) > _SYMBOL_WIDTH:
        name = name[: _SYMBOL_WIDTH - 1] + "…"
    return lsp.DocumentSymbol(
        name=name,
        kind=kind,
        range=_lines_range(doc, i.start, i.end),
        selection_range=_lines_range(doc, i.start, i.start),
    )


def _lines_range(doc: Dockerfile, start: int, end: int) -> lsp.Range:
    end_text = doc.lines[end] if end < len(doc.lines) else ""
    return lsp.Range(lsp.Position(start, 0), lsp.Position(end, len(end_text)))


def code_lenses(doc: Dockerfile, uri: str) -> list[lsp.CodeLens]:
    """ "Debug stage" on each stage a build can target, "Debug to here" on each step."""
    lenses = []
    last = len(doc.stages) - 1
    for stage in doc.stages:
        # BuildKit targets a stage by its name; an unnamed one only as the last (no target).
        if stage.name or stage.index == last:
            target = stage.name if stage.index != last else ""
            title = f"Debug stage {stage.label}" if stage.name else "Debug stage"
            lenses.append(_lens(stage.start, title, DEBUG_STAGE, [uri, target]))
    lenses.extend(
        _lens(step.start, "Debug to here", DEBUG_TO_HERE, [uri, step.start]) for step in doc.steps
    )
    return lenses


def _lens(line: int, title: str, command: str, arguments: list[object]) -> lsp.CodeLens:
    return lsp.CodeLens(
        range=lsp.Range(lsp.Position(line, 0), lsp.Position(line, 0)),
        command=lsp.Command(title=title, command=command, arguments=arguments),
    )


def breakable_ranges(doc: Dockerfile) -> list[dict[str, int]]:
    """0-based inclusive line ranges of the steps, for moving a breakpoint before a build."""
    return [{"start": step.start, "end": step.end} for step in doc.steps]


def inlay_hints(doc: Dockerfile, record: StepRecord | None, lines: range) -> list[lsp.InlayHint]:
    """The last build's result beside each step whose line still holds the same text."""
    if record is None:
        return []
    by_line = {entry.line - 1: entry for entry in record.steps}
    hints = []
    for step in doc.steps:
        entry = by_line.get(step.start)
        if entry is None or step.start not in lines or entry.text != step.text:
            continue
        hints.append(
            lsp.InlayHint(
                position=lsp.Position(step.start, len(doc.lines[step.start])),
                label=hint_label(entry),
                padding_left=True,
                tooltip=_tooltip(entry, record),
            )
        )
    return hints


def hint_label(entry: LineRecord) -> str:
    if entry.status == "cached":
        return "cached"
    took = format_duration(entry.duration) if entry.duration is not None else ""
    if entry.status == "failed":
        return f"failed after {took}" if took else "failed"
    return took or "executed"


def _tooltip(entry: LineRecord, record: StepRecord) -> str:
    when = record.finished.astimezone().strftime("%Y-%m-%d %H:%M:%S")
    if entry.status == "cached":
        what = f"from {entry.cache}" if entry.cache else "from cache"
    else:
        what = entry.status
    return f"{what} in the build of {when}"


def format_duration(seconds: float) -> str:
    if seconds < 0.05:
        return "< 0.1 s"  # not "0.0 s": it took some time (a FROM resolving its image, say)
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s"


def hover_text(name: str, env: dict[str, str], build_args: dict[str, str], where: str) -> str:
    if name not in env:
        return f"`{name}` is not set at {where}"
    kind = "build argument" if name in build_args else "environment variable"
    return f"`{name}` = `{env[name]}`\n\n{kind}, as BuildKit resolves it at {where}"
