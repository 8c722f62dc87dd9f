"""A child process owned by the lab: its own process group, a log file, a bounded stop."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

# Lab services only ever talk to 127.0.0.1; a proxy from the environment must not reroute them.
_PROXY_VARS = {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}


class LabError(RuntimeError):
    """A lab service failed to start or a lab command failed; the message carries the log."""


def log_tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return "(no log written)"
    return "\n".join(text.splitlines()[-lines:])


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k.lower() not in _PROXY_VARS}


class Service:
    """Starts `argv` in a new session so that stop() can signal everything it spawned."""

    def __init__(self, name: str, argv: Sequence[str | Path], log_path: Path) -> None:
        self.name = name
        self.log_path = log_path
        with log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                [str(a) for a in argv],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=clean_env(),
                start_new_session=True,
            )

    def error(self, what: str) -> LabError:
        return LabError(f"{self.name}: {what}\n--- {self.log_path} ---\n{log_tail(self.log_path)}")

    def wait_ready(self, probe: Callable[[], bool], timeout: float) -> None:
        """Polls `probe` until it holds; fails at once if the process exits meanwhile."""
        deadline = time.monotonic() + timeout
        while not probe():
            if time.monotonic() > deadline:
                raise self.error(f"not ready after {timeout:.0f}s")
            try:
                # Doubles as the poll interval: returns early only if the process died.
                code = self._proc.wait(timeout=0.05)
            except subprocess.TimeoutExpired:
                continue
            raise self.error(f"exited with status {code} before it was ready")

    def kill(self) -> None:
        """SIGKILL the service itself, as a crash would: what it spawned lives on."""
        self._proc.kill()
        self._proc.wait()

    def stop(self, grace: float = 15.0) -> None:
        """SIGTERM the group, SIGKILL it after `grace` seconds, then reap stragglers."""
        if self._proc.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                self._proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                self._proc.wait()
        # Children of the leader may outlive it; the group id still names them.
        self._signal(signal.SIGKILL)

    def _signal(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._proc.pid, sig)
