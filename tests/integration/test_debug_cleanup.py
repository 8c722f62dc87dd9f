"""Leaving a session in the middle of an exec leaves nothing running in buildkitd."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.integration.debugsession import debug_command, write_context
from tests.lab import Buildkitd

SLEEPER = """\
FROM busybox
RUN echo ready > /ready
"""


def _sleeping(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv[:2] == [b"sleep", marker.encode()]:
            found.append(int(entry.name))
    return found


def _wait_for(condition: object, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def _runc_containers(builder: Buildkitd) -> list[str]:
    """Containers runc knows (any state) whose bundle lives under this builder's root."""
    listed = subprocess.run(["runc", "list", "--format", "json"],
                            capture_output=True, text=True, check=True)
    entries = json.loads(listed.stdout or "[]") or []
    return [e["id"] for e in entries if e["bundle"].startswith(str(builder.root) + "/")]


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
        _wait_for(lambda: _sleeping(marker), "the exec'd process to start", timeout=120)
        assert _runc_containers(fresh_builder), "the exec container should be listed by runc"
        process.send_signal(how)
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    _wait_for(lambda: not _sleeping(marker), "the exec'd process to be gone")
    _wait_for(lambda: not _runc_containers(fresh_builder), "runc containers to be gone")
