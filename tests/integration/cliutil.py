"""Running the ``buildg-dap`` console script the way a user does."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from buildg_dap.debugger.steprecord import load_record
from tests.lab.service import clean_env

CLI = Path(sys.executable).parent / "buildg-dap"


def run_cli(
    *args: str | Path, env: Mapping[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CLI), *map(str, args)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env={**clean_env(), **(env or {})},
        timeout=timeout,
    )


def write_context(root: Path, dockerfile: str, files: Mapping[str, str] | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "Dockerfile").write_text(dockerfile)
    for name, text in (files or {}).items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def recorded_lines(context: Path) -> dict[int, tuple[str, str]]:
    """The step record of the last build of ``context``'s Dockerfile: line -> (status,
    cache)."""
    record = load_record(context / "Dockerfile")
    assert record is not None, "no step record was written"
    return {step.line: (step.status, step.cache) for step in record.steps}
