"""Leaving a session in the middle of an exec leaves nothing running in buildkitd."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from tests.integration.debugsession import debug_command, write_context
from tests.integration.processes import runc_containers, sleeping, wait_for
from tests.lab import Buildkitd

SLEEPER = """\
FROM busybox
RUN echo ready > /ready
"""


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL])
def test_ending_the_repl_mid_exec_leaves_no_container(
    tmp_path: Path, fresh_builder: Buildkitd, how: signal.Signals
) -> None:
    context = write_context(tmp_path / "ctx", SLEEPER)
    marker = str(3000 + os.getpid() % 1000 + int(how))
    process = subprocess.Popen(
        debug_command(fresh_builder, context),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        assert process.stdin is not None
        process.stdin.write(f"break 2\ncontinue\nexec sleep {marker}\n")
        process.stdin.flush()
        wait_for(lambda: sleeping(marker), "the exec'd process to start", timeout=120)
        assert runc_containers(fresh_builder), "the exec container should be listed by runc"
        process.send_signal(how)
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    wait_for(lambda: not sleeping(marker), "the exec'd process to be gone")
    wait_for(lambda: not runc_containers(fresh_builder), "runc containers to be gone")
