"""The language server's reading of a Dockerfile's layout: instruction line ranges
(continuations, comments inside them, here-documents, the escape directive), stages and
variable references; and what the server shows from them."""

from __future__ import annotations

from datetime import UTC, datetime

from buildg_dap.buildkit.lint import LintResults
from buildg_dap.debugger.steprecord import LineRecord, StepRecord
from buildg_dap.lsp import features
from buildg_dap.lsp.dockerfile import parse

CONTINUED = """\
# escape=`
FROM busybox AS a
RUN echo one `
# a comment inside the instruction
    two `

    three
COPY <<EOF /x
RUN not an instruction: a here-document line
EOF
RUN true
"""


def test_continuations_comments_heredocs_and_the_escape_directive() -> None:
    doc = parse(CONTINUED)
    assert doc.escape == "`"
    assert [(i.keyword, i.start, i.end) for i in doc.instructions] == [
        ("FROM", 1, 1), ("RUN", 2, 6), ("COPY", 7, 9), ("RUN", 10, 10),
    ]  # fmt: skip
    assert doc.instructions[1].args == "echo one two three"
    assert doc.instruction_at(4) is doc.instructions[1]
    assert doc.instruction_at(8) is doc.instructions[2]
    assert doc.instruction_at(0) is None


def test_tab_stripping_heredoc_and_crlf() -> None:
    doc = parse("FROM busybox\r\nRUN <<-END\r\n\techo hi\r\n\tEND\r\nWORKDIR /w\r\n")
    assert [(i.keyword, i.start, i.end) for i in doc.instructions] == [
        ("FROM", 0, 0), ("RUN", 1, 3), ("WORKDIR", 4, 4),
    ]  # fmt: skip


def test_stages_names_bases_and_steps() -> None:
    doc = parse("ARG B=busybox\nFROM --platform=$BUILDPLATFORM ${B} as build\nENV X=1\n"
                "RUN true\nFROM scratch\nCOPY --from=build / /\n")  # fmt: skip
    assert [(s.index, s.name, s.base, s.start, s.end) for s in doc.stages] == [
        (0, "build", "${B}", 1, 3), (1, "", "scratch", 4, 5),
    ]  # fmt: skip
    assert doc.stages[1].label == "stage-1"
    assert [s.start for s in doc.steps] == [1, 3, 4, 5]  # ENV and the global ARG make none


def test_references_under_the_cursor() -> None:
    doc = parse("FROM busybox\nRUN echo ${A:-x} $B \\$C\n")
    line = doc.lines[1]
    a = doc.reference_at(1, line.index("A"))
    assert a is not None and (a.name, a.start, a.end) == ("A", 9, 16)
    b = doc.reference_at(1, line.index("$B"))
    assert b is not None and b.name == "B"
    assert doc.reference_at(1, line.index("$C") + 1) is None  # escaped
    assert doc.reference_at(1, 0) is None
    assert doc.reference_at(7, 0) is None


def test_an_empty_or_stageless_file() -> None:
    assert parse("").instructions == []
    doc = parse("ARG A=1\n# no stage yet\n")
    assert doc.stages == [] and doc.steps == []
    assert [s.name for s in features.symbols(doc)] == ["ARG A=1"]
    assert features.code_lenses(doc, "file:///D") == []


def test_lint_ranges_become_whole_lines_or_the_given_columns() -> None:
    doc = parse("FROM busybox as b\n  RUN true\n")
    results = LintResults.model_validate({
        "warnings": [
            {"ruleName": "R1", "detail": "d1", "url": "https://x/r1",
             "location": {"ranges": [{"start": {"line": 2}, "end": {"line": 2}}]}},
            {"ruleName": "R2", "description": "only a description",
             "location": {"ranges": [{"start": {"line": 1, "character": 5},
                                       "end": {"line": 1, "character": 12}}]}},
            {"ruleName": "R3"},
        ],
        "buildError": {"message": "boom"},
    })  # fmt: skip
    r1, r2, r3, error = features.diagnostics(results, doc)
    assert (r1.range.start.line, r1.range.start.character, r1.range.end.character) == (1, 2, 10)
    assert r1.code_description is not None and r1.code_description.href == "https://x/r1"
    assert (r2.range.start.character, r2.range.end.character, r2.message) == (
        5, 12, "only a description",
    )  # fmt: skip
    assert (r3.range.start.line, r3.message, r3.code_description) == (0, "R3", None)
    assert error.message == "boom" and error.code is None


def test_go_null_warnings_read_as_none() -> None:
    assert LintResults.model_validate({"warnings": None}).warnings == []


def test_hints_only_where_the_line_still_holds_the_recorded_step() -> None:
    doc = parse("FROM busybox\nRUN a\nRUN b\nRUN c\nRUN d\n")
    record = StepRecord(
        dockerfile="/D",
        finished=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        steps=[
            LineRecord(line=2, end_line=2, text="RUN a", status="cached", cache="reg/cache"),
            LineRecord(line=3, end_line=3, text="RUN b", status="executed", duration=2.06),
            LineRecord(line=4, end_line=4, text="RUN old", status="executed", duration=1),
            LineRecord(line=5, end_line=5, text="RUN d", status="failed", duration=75),
        ],
    )
    hints = features.inlay_hints(doc, record, range(0, 10))
    assert [(h.position.line, h.label) for h in hints] == [
        (1, "cached"), (2, "2.1 s"), (4, "failed after 1 min 15 s"),
    ]  # fmt: skip
    assert hints[0].position.character == len("RUN a")
    assert "from reg/cache" in str(hints[0].tooltip)
    assert features.inlay_hints(doc, record, range(2, 3))[0].label == "2.1 s"
    assert features.inlay_hints(doc, None, range(0, 10)) == []
    assert features.format_duration(0.01) == "< 0.1 s"
