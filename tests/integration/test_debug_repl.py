"""Stepping, exec and failure stops through the terminal REPL, on the real daemon."""

from __future__ import annotations

import re
from pathlib import Path

from tests.dockerfiles import CONFIG_HEAD
from tests.integration.cliutil import recorded_lines
from tests.integration.debugsession import LiveSession, run_debug, write_context
from tests.lab import Buildkitd, buildctl

THREE_STAGES = """\
FROM busybox AS a
RUN echo a > /a
FROM busybox AS b
COPY --from=a /a /a
RUN cat /a > /b
FROM busybox
COPY --from=b /b /b
RUN cat /b
"""
# line -> lines whose results it consumes
INPUTS = {1: set(), 2: {1}, 3: set(), 4: {3, 2}, 5: {4}, 6: set(), 7: {6, 5}, 8: {7}}


def test_next_visits_every_step_once_after_its_inputs(
    tmp_path: Path, builder_a: Buildkitd
) -> None:
    context = write_context(tmp_path / "ctx", THREE_STAGES)
    script = ["next", "info"] * 8 + ["next", "q"]
    session = run_debug(builder_a, context, script)
    assert session.code == 0, session.text
    visited = [int(n) for n in re.findall(r"Location:\s+Dockerfile:(\d+)", session.out)]
    assert sorted(visited) == list(range(1, 9)), visited
    for position, line in enumerate(visited):
        assert INPUTS[line] <= set(visited[:position]), (line, visited)
    assert "build finished" in session.err
    assert sorted(recorded_lines(context)) == list(range(1, 9))  # the step record


EXEC_STATE = """\
FROM busybox
ENV FOO=bar
RUN echo 'tester:x:1234:1234::/work:/bin/sh' >> /etc/passwd && mkdir -p /work && chown 1234 /work
WORKDIR /work
USER tester
RUN --mount=type=cache,id=shared-cache,target=/cache,uid=1234 ls /cache > /work/seen
"""
WRITE_CACHE = """\
FROM busybox
RUN --mount=type=cache,id=shared-cache,target=/cache,uid=1234 echo from-earlier > /cache/note
"""


def test_exec_sees_env_workdir_user_cache_mount_and_flags(
    tmp_path: Path, builder_a: Buildkitd
) -> None:
    writer = write_context(tmp_path / "writer", WRITE_CACHE)
    buildctl(builder_a, "build", "--frontend", "dockerfile.v0",
             "--local", f"context={writer}", "--local", f"dockerfile={writer}")
    context = write_context(tmp_path / "ctx", EXEC_STATE)
    session = run_debug(
        builder_a, context,
        ["break 6", "continue",
         "exec sh -c 'echo foo=$FOO; echo pwd=$(pwd); echo user=$(id -un)'",
         "exec cat /cache/note",
         "exec -e X=1 sh -c 'echo x=$X'",
         "exec -w /tmp pwd",
         "exec sh -c 'exit 7'",
         "info",
         "q"],
    )
    assert session.code == 0, session.text
    out = session.out
    assert "foo=bar\npwd=/work\nuser=tester\n" in out
    assert "from-earlier\n" in out
    assert "x=1\n" in out
    assert "(buildg) exec -w /tmp pwd\n/tmp\n" in out
    assert "exit code: 7" in out
    assert re.search(r"cache /cache \(cache id=/shared-cache\)", out), out
    assert "User:        tester" in out
    assert "Shell:       /bin/sh -c" in out


LATER_CONFIG = CONFIG_HEAD + """\
USER nobody
RUN true
"""


def test_info_and_exec_at_a_copy_see_only_what_is_in_effect_there(
    tmp_path: Path, builder_a: Buildkitd
) -> None:
    # ENV, WORKDIR and USER after the stop are not in effect yet (the RUN after them
    # carries them, and no user "nobody" exists in this image).
    context = write_context(tmp_path / "ctx", LATER_CONFIG, {"f": "f\n"})
    command = "exec sh -c 'echo a=$A b=$B g=$GREETING; pwd; id -u'"
    session = run_debug(builder_a, context, ["break 4", "continue", "info", command, "q"])
    assert session.code == 0, session.text
    out = session.out
    info = out.split("(buildg) info\n", 1)[1].split("(buildg) ", 1)[0]
    assert "Workdir:     /\n" in info and "User:        root\n" in info, info
    assert "Shell:       /bin/sh -c\n" in info, info
    assert "  A=1\n" in info and "  B=2\n" not in info, info
    assert "Build args:\n  GREETING=hello\n" in info, info
    assert f"(buildg) {command}\na=1 b= g=hello\n/\n0\n(buildg) q\n" in out, out


SCRATCH = """\
FROM scratch
COPY hello.txt /hello.txt
"""


def test_image_exec_shows_a_scratch_stage_under_debugroot(
    tmp_path: Path, builder_a: Buildkitd
) -> None:
    context = write_context(tmp_path / "ctx", SCRATCH, {"hello.txt": "from scratch\n"})
    session = run_debug(
        builder_a, context,
        ["break 2", "continue", "exec --image cat /debugroot/hello.txt",
         "exec --image --mountroot /mnt ls /mnt", "cat /hello.txt", "dir /", "q"],
        "--image", "busybox",
    )
    assert session.code == 0, session.text
    assert session.out.count("from scratch\n") == 2, session.out
    assert "hello.txt\n" in session.out


FAILING = """\
FROM busybox
RUN echo before > /before
RUN sh -c 'echo partial > /p; exit 3'
"""


def test_failing_run_stops_with_its_exit_code_and_filesystem(
    tmp_path: Path, builder_a: Buildkitd
) -> None:
    context = write_context(tmp_path / "ctx", FAILING)
    session = run_debug(
        builder_a, context,
        ["continue", "info", "exec cat /p", "exec --init-state ls /", "cat /p", "continue"],
    )
    out = session.out
    assert "Breakpoint[on-fail]: caught error" in out
    assert "exit code: 3" in out
    assert "*=>   3| RUN sh -c 'echo partial > /p; exit 3'" in out or \
        " =>   3| RUN sh -c 'echo partial > /p; exit 3'" in out
    assert "Exit code:   3" in out
    assert out.count("partial\n") == 2, out
    init_listing = out.split("exec --init-state", 1)[-1] if "exec --init-state" in out else out
    assert "before" in init_listing
    assert session.code == 1
    assert "build failed" in session.err


def test_mistakes_get_clear_messages_and_the_session_goes_on(
    tmp_path: Path, builder_a: Buildkitd
) -> None:
    context = write_context(tmp_path / "ctx", FAILING)
    session = run_debug(
        builder_a, context,
        ["frobnicate", "break 99", "break x", "exec ls", "clear 7", "continue 5",
         "break 2", "breakpoints", "next", "info", "q"],
    )
    assert session.code == 0, session.text
    out = session.out
    assert 'error: unknown command "frobnicate": type "help" for the list' in out
    assert "error: line 99 is beyond the end of Dockerfile (3 lines)" in out
    assert 'error: cannot parse breakpoint "x": give a line number or on-fail' in out
    assert "error: not stopped at a step yet (at entry): use next or continue" in out
    assert "error: no breakpoint with key '7'" in out
    assert "error: no breakpoint with key '5'" in out
    assert "on-fail\tbreaks on fail" in out
    assert "0\tline: Dockerfile:2" in out
    assert "Location:    Dockerfile:1" in out



def test_list_log_help_and_continue_to_a_named_breakpoint(
    tmp_path: Path, builder_a: Buildkitd
) -> None:
    context = write_context(tmp_path / "ctx", THREE_STAGES)
    session = run_debug(
        builder_a, context,
        ["break 2", "break 8", "continue 1", "list -B 1 -A 0", "log -n 3", "help exec",
         "help", "q"],
    )
    assert session.code == 0, session.text
    out = session.out
    assert "Breakpoint[1]: reached line: Dockerfile:8" in out
    assert "Breakpoint[0]: reached line" not in out
    listing = out.split("(buildg) list -B 1 -A 0\n", 1)[1]
    assert listing.startswith(
        'Filename: "Dockerfile"\n      7| COPY --from=b /b /b\n*=>   8| RUN cat /b\n'
    ), listing
    assert "Usage: exec [--image]" in out
    assert "continue     Proceed to the next or the specified breakpoint" in out
    log_lines = out.split("(buildg) log -n 3\n", 1)[1].split("(buildg) ", 1)[0].splitlines()
    assert len(log_lines) == 3 and all(line in session.err for line in log_lines)


def test_reload_reads_the_changed_dockerfile_and_keeps_breakpoints(
    tmp_path: Path, builder_a: Buildkitd
) -> None:
    context = write_context(tmp_path / "ctx", THREE_STAGES)
    with LiveSession(builder_a, context) as session:
        session.run("break 5")
        session.run("continue", until="Breakpoint[0]: reached line: Dockerfile:5")
        session.run("exec cat /b")
        (context / "Dockerfile").write_text(THREE_STAGES.replace("echo a", "echo changed"))
        session.run("reload")
        session.run("breakpoints")
        session.run("continue", until="Breakpoint[0]: reached line: Dockerfile:5")
        session.run("exec cat /b")
        session.run("q")
    assert session.out.count("(buildg) exec cat /b\na\n") == 1, session.out
    assert session.out.count("(buildg) exec cat /b\nchanged\n") == 1, session.out
    assert "0\tline: Dockerfile:5" in session.out
