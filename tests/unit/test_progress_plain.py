"""buildctl-style plain progress from Control.Status messages."""

from __future__ import annotations

import io

from google.protobuf.timestamp_pb2 import Timestamp

from buildg_dap._proto.buildkit import control_pb2
from buildg_dap.buildkit.progress import PlainPrinter, Progress

NAME = "[internal] load build context"


def _at(seconds: float) -> Timestamp:
    stamp = Timestamp()
    stamp.FromNanoseconds(int(seconds * 1e9))
    return stamp


def _vertex(started: float | None, completed: float | None, error: str = "") -> control_pb2.Vertex:
    vertex = control_pb2.Vertex(digest="sha256:ctx", name=NAME, error=error)
    if started is not None:
        vertex.started.CopyFrom(_at(started))
    if completed is not None:
        vertex.completed.CopyFrom(_at(completed))
    return vertex


def _render(*vertices: control_pb2.Vertex) -> str:
    progress = Progress()
    out = io.StringIO()
    PlainPrinter(progress, out)
    for vertex in vertices:
        progress.update(control_pb2.StatusResponse(vertexes=[vertex]))
    return out.getvalue()


def test_a_vertex_that_runs_again_ends_with_its_last_run() -> None:
    # The cache-key pass completes at once; the transfer then runs for 12.5 s and fails.
    text = _render(
        _vertex(10.0, 10.0),
        _vertex(10.1, None),
        _vertex(10.1, 22.6, error="error from sender: cannot read /c/f: permission denied"),
    )
    assert text.splitlines()[1:] == [
        f"#1 {NAME}",
        "#1 DONE 0.0s",
        "#1 ERROR: error from sender: cannot read /c/f: permission denied",
    ]


def test_repeated_updates_of_one_run_print_it_once() -> None:
    text = _render(_vertex(1.0, None), _vertex(1.0, 3.25), _vertex(1.0, 3.25))
    assert text.splitlines()[1:] == [f"#1 {NAME}", "#1 DONE 2.2s"]


def test_a_step_reused_by_a_later_solve_keeps_the_times_it_ran() -> None:
    progress = Progress()
    reused = _vertex(9.0, 9.0)
    reused.cached = True
    for vertex in (_vertex(1.0, 3.5), reused):
        progress.update(control_pb2.StatusResponse(vertexes=[vertex]))
    state = progress.vertices["sha256:ctx"]
    assert (state.cached, state.duration) == (False, 2.5)
