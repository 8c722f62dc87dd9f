"""Drive ``buildg-dap debug`` as a user would: a subprocess fed a command script."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.lab import Buildkitd


@dataclass
class Transcript:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


def debug_command(builder: Buildkitd, context: Path, *flags: str) -> list[str]:
    return [sys.executable, "-m", "buildg_dap", "debug", "--addr", builder.address, *flags,
            str(context)]


def run_debug(
    builder: Buildkitd, context: Path, script: list[str], *flags: str, timeout: float = 300
) -> Transcript:
    done = subprocess.run(
        debug_command(builder, context, *flags),
        input="".join(line + "\n" for line in script),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Transcript(done.returncode, done.stdout, done.stderr)


def write_context(root: Path, dockerfile: str, files: dict[str, str] | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "Dockerfile").write_text(dockerfile)
    for name, text in (files or {}).items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root
