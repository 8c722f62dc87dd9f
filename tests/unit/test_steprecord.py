"""The per-line step record: models, where it lives, reading bad files, atomic saving,
and the lines made of a program and its build's progress."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from buildg_dap._proto.buildkit import control_pb2, ops_pb2
from buildg_dap.buildkit.llb import Graph, op_bytes, op_digest
from buildg_dap.buildkit.progress import Progress
from buildg_dap.debugger.origins import Origins
from buildg_dap.debugger.program import Program
from buildg_dap.debugger.steprecord import (
    LineRecord,
    StepRecord,
    load_record,
    merge_lines,
    record_path,
    save_record,
    write_record,
)

DOCKERFILE = b"FROM busybox\nRUN make \\\n  all\nRUN make test\n"
RUN = LineRecord(line=2, end_line=3, text="RUN make \\", status="executed", duration=2.5)


def _record(dockerfile: Path, *steps: LineRecord) -> StepRecord:
    return StepRecord(dockerfile=str(dockerfile), finished=datetime.now(UTC), steps=list(steps))


def _program() -> tuple[Program, list[str]]:
    """DOCKERFILE's three steps, each op on the one before; and their digests."""
    definition = ops_pb2.Definition()
    definition.Source.infos.add(filename="Dockerfile", data=DOCKERFILE)
    op = ops_pb2.Op(source=ops_pb2.SourceOp(identifier="docker-image://busybox"))
    digests: list[str] = []
    for first, last, command in ((1, 1, ""), (2, 3, "make all"), (4, 4, "make test")):
        if command:
            op = ops_pb2.Op(
                inputs=[ops_pb2.Input(digest=digests[-1])],
                exec=ops_pb2.ExecOp(meta=ops_pb2.Meta(args=["sh", "-c", command])),
            )
        raw = op.SerializeToString(deterministic=True)
        digests.append(op_digest(raw))
        op_bytes(definition).append(raw)
        where = definition.Source.locations[digests[-1]].locations.add(sourceIndex=0)
        where.ranges.add(start=ops_pb2.Position(line=first), end=ops_pb2.Position(line=last))
    head = ops_pb2.Op(inputs=[ops_pb2.Input(digest=digests[-1])])
    op_bytes(definition).append(head.SerializeToString(deterministic=True))
    return Program(Graph(definition)), digests


def _vertex(
    digest: str, took: float, *, cached: bool = False, error: str = ""
) -> control_pb2.Vertex:
    vertex = control_pb2.Vertex(digest=digest, cached=cached, error=error)
    vertex.started.CopyFrom(Timestamp(seconds=100))
    vertex.completed.CopyFrom(Timestamp(seconds=100 + int(took), nanos=int(took % 1 * 1e9)))
    return vertex


def _origins(*vertices: control_pb2.Vertex, imports: tuple[str, ...] = ()) -> Origins:
    progress = Progress()
    progress.update(control_pb2.StatusResponse(vertexes=vertices))
    origins = Origins(progress, imports)
    origins.local_results_possible = False
    return origins


def test_record_path_is_keyed_by_the_resolved_path(tmp_path: Path, state_home: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    path = record_path(tmp_path / "real" / "Dockerfile")
    assert path.parent == state_home / "buildg-dap" / "steps"
    assert len(path.stem) == 24 and int(path.stem, 16) >= 0
    assert path.suffix == ".json"
    assert record_path(tmp_path / "link" / "Dockerfile") == path
    assert record_path(tmp_path / "other" / "Dockerfile") != path


@pytest.mark.parametrize("value", [None, "", "relative/state"])
def test_record_path_defaults_to_local_state(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, value: str | None
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    if value is None:
        monkeypatch.delenv("XDG_STATE_HOME")
    else:
        monkeypatch.setenv("XDG_STATE_HOME", value)
    assert record_path(Path("/x/Dockerfile")).parent == tmp_path / ".local/state/buildg-dap/steps"


def test_save_then_load(tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    cached = LineRecord(line=1, end_line=1, text="FROM busybox", status="cached",
                        cache="builder cache", duration=0.01)  # fmt: skip
    record = _record(dockerfile, cached, RUN)
    save_record(record)
    assert load_record(dockerfile) == record
    assert list(record_path(dockerfile).parent.iterdir()) == [record_path(dockerfile)]


@pytest.mark.parametrize(
    "content", [b"", b"{not json", b'{"dockerfile": "/x"}', b"\xff\xfe", b'{"steps": 3}']
)
def test_load_of_a_bad_file_is_none(tmp_path: Path, content: bytes) -> None:
    dockerfile = tmp_path / "Dockerfile"
    assert load_record(dockerfile) is None
    record_path(dockerfile).parent.mkdir(parents=True)
    record_path(dockerfile).write_bytes(content)
    assert load_record(dockerfile) is None


def test_load_of_a_directory_is_none(tmp_path: Path) -> None:
    record_path(tmp_path / "Dockerfile").mkdir(parents=True)
    assert load_record(tmp_path / "Dockerfile") is None


def test_a_failed_save_keeps_the_previous_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dockerfile = tmp_path / "Dockerfile"
    first = _record(dockerfile, RUN)
    save_record(first)

    def refuse(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError, match="No space"):
        save_record(_record(dockerfile))
    assert load_record(dockerfile) == first
    assert list(record_path(dockerfile).parent.iterdir()) == [record_path(dockerfile)]


def test_lines_of_a_build(tmp_path: Path) -> None:
    program, (image, make, check) = _program()
    origins = _origins(
        _vertex(image, 0.25, cached=True), _vertex(make, 2.5), _vertex(check, 1, error="exit 2"),
        imports=("registry:5000/cache",),
    )  # fmt: skip
    write_record(tmp_path / "Dockerfile", [(program, origins)], pytest.fail)
    record = load_record(tmp_path / "Dockerfile")
    assert record is not None
    assert record.dockerfile == str(tmp_path / "Dockerfile")
    assert record.finished.utcoffset() == timedelta(0)
    assert record.steps == [
        LineRecord(line=1, end_line=1, text="FROM busybox", status="cached",
                   cache="registry:5000/cache", duration=0.25),
        RUN,
        LineRecord(line=4, end_line=4, text="RUN make test", status="failed", duration=1),
    ]  # fmt: skip


def test_steps_not_done_are_absent_and_the_cache_as_far_as_known(tmp_path: Path) -> None:
    program, (image, _, check) = _program()
    origins = _origins(
        _vertex(image, 0, cached=True), _vertex(check, 1, error="context canceled"),
        imports=("registry:5000/cache",),
    )  # fmt: skip
    origins.local_results_possible = True  # the builder's own store or the import
    write_record(tmp_path / "Dockerfile", [(None, origins), (program, origins)], pytest.fail)
    record = load_record(tmp_path / "Dockerfile")
    assert record is not None
    assert [(s.line, s.status, s.cache) for s in record.steps] == [
        (1, "cached", "builder cache or registry:5000/cache")
    ]


def test_a_record_that_cannot_be_saved_is_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "file"))
    program, (image, _, _) = _program()
    warnings: list[str] = []
    write_record(tmp_path / "D", [(program, _origins(_vertex(image, 0)))], warnings.append)
    assert len(warnings) == 1
    assert warnings[0].startswith(f"could not save the step record of {tmp_path / 'D'}: ")
    write_record(tmp_path / "D", [(None, _origins())], warnings.append)  # nothing loaded
    assert len(warnings) == 1


def test_platforms_merge_into_one_line() -> None:
    cached = RUN.model_copy(update={"status": "cached", "cache": "c", "duration": 0.1})
    failed = RUN.model_copy(update={"status": "failed", "duration": 1.0})
    other = LineRecord(line=1, end_line=1, text="FROM busybox", status="cached")
    assert merge_lines([cached, other, RUN]) == [other, RUN]
    assert merge_lines([RUN, failed, cached]) == [failed.model_copy(update={"duration": 2.5})]
    assert merge_lines([cached, cached.model_copy(update={"duration": None})]) == [cached]
