"""What is running on this machine: processes by command line, runc containers of a
builder; and waiting for a condition with a deadline."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from tests.lab import Buildkitd


def sleeping(marker: str) -> list[int]:
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


def wait_for(condition: Callable[[], object], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def runc_containers(builder: Buildkitd) -> list[str]:
    """Containers runc knows (any state) whose bundle lives under this builder's root."""
    listed = subprocess.run(["runc", "list", "--format", "json"],
                            capture_output=True, text=True, check=True)
    entries = json.loads(listed.stdout or "[]") or []
    return [e["id"] for e in entries if e["bundle"].startswith(str(builder.root) + "/")]


