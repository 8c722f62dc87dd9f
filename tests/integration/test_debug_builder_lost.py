"""The REPL when buildkitd dies during ``continue``: the loss is named, the session ends
cleanly, and nothing claims the step failed."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.integration.debugsession import debug_command, write_context
from tests.integration.processes import sleeping, wait_for
from tests.lab import Buildkitd


def test_repl_reports_the_lost_builder_and_ends(tmp_path: Path, fresh_builder: Buildkitd) -> None:
    marker = str(7000 + os.getpid() % 1000)
    context = write_context(tmp_path / "ctx", f"FROM busybox\nRUN sleep {marker}\n")
    process = subprocess.Popen(
        debug_command(fresh_builder, context),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stdin is not None
        process.stdin.write("continue\nexec true\n")
        process.stdin.flush()
        wait_for(lambda: sleeping(marker), "the RUN to start", 120)
        fresh_builder.crash()
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 1, err
    assert f"lost the connection to buildkitd at {fresh_builder.address}" in err, err
    assert "the session is over" in err
    assert "Traceback" not in out + err
    assert "Breakpoint[on-fail]" not in out
