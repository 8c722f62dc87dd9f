"""Shared pieces of the benchmark scripts: the lab, timing, child processes, tables.

Benchmarks print measurements and never assert; every number comes with the command
that produced it so a run can be repeated exactly.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# The lab lives in tests/, which is not an installed package: make it importable when a
# script is started as `python benchmarks/X.py` (sys.path[0] is then benchmarks/).
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.lab import Buildkitd, Lab, buildctl  # noqa: E402
from tests.lab.buildkitd import BUILDCTL_BIN  # noqa: E402
from tests.lab.service import clean_env  # noqa: E402

__all__ = [
    "BUILDCTL_BIN",
    "REPO",
    "STEP_DOCKERFILE",
    "Buildkitd",
    "Lab",
    "Measured",
    "buildctl",
    "buildctl_build_argv",
    "clean_env",
    "client_vertex_times",
    "local_context_bytes",
    "median",
    "plain_vertex_times",
    "print_header",
    "print_table",
    "prune_all",
    "report_ratio",
    "run_measured",
    "scratch_dir",
    "write_context",
]


# One stage of small steps of each kind (RUN, COPY, WORKDIR, ENV), for stepping over them
# once they are in the builder's cache; its COPYs want write_context's a.txt and b.txt.
STEP_DOCKERFILE = (
    "FROM busybox\n"
    + "".join(f"RUN echo {i} > /step{i}\n" for i in range(1, 9))
    + "COPY a.txt /a.txt\nCOPY b.txt /b.txt\nWORKDIR /w\nENV X=1\n"
    + "RUN cat /a.txt /b.txt > /ab && sha256sum /ab\n"
)


def write_context(root: Path, dockerfile: str) -> Path:
    """A build context at ``root``: the Dockerfile and two small files it may COPY."""
    root.mkdir()
    (root / "Dockerfile").write_text(dockerfile)
    (root / "a.txt").write_text("a\n" * 1000)
    (root / "b.txt").write_text("b\n" * 1000)
    return root


def print_header(title: str) -> None:
    """Title and the exact command line that produced this output."""
    argv = [sys.executable, *sys.argv]
    print(f"== {title}")
    print(f"command: (cd {REPO} && {shlex.join(argv)})")
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus, buildctl {BUILDCTL_BIN}")
    print(flush=True)


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    cells = [[str(h) for h in headers], *[[_cell(v) for v in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for index, row in enumerate(cells):
        print("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)))
        if index == 0:
            print("  ".join("-" * w for w in widths))
    print(flush=True)


def _cell(value: object) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def report_ratio(name: str, value: float, target: float, unit: str = "") -> None:
    """One target line: the measured value, the target and value/target."""
    verdict = "meets" if value <= target else "MISSES"
    print(
        f"{name}: {value:.3f}{unit} (target <= {target:g}{unit}; "
        f"value/target = {value / target:.2f}) -> {verdict} target",
        flush=True,
    )


@contextmanager
def scratch_dir(prefix: str) -> Iterator[Path]:
    """A temp dir under /tmp, removed afterwards whatever happens."""
    with tempfile.TemporaryDirectory(prefix=prefix, dir="/tmp") as tmp:
        yield Path(tmp)


@dataclass
class Measured:
    argv: list[str]
    wall: float  # seconds, spawn to reap
    peak_rss_kb: int  # ru_maxrss of this child alone (wait4), KiB on Linux
    cpu: float  # user + system seconds of this child alone
    returncode: int
    stdout: str
    stderr: str

    def check(self) -> Measured:
        if self.returncode != 0:
            raise RuntimeError(
                f"{shlex.join(self.argv)} exited with {self.returncode}\n"
                f"--- stdout ---\n{self.stdout[-3000:]}\n--- stderr ---\n{self.stderr[-3000:]}"
            )
        return self


def run_measured(argv: Sequence[str | Path], *, stdin: str = "", cwd: Path = REPO) -> Measured:
    """Run a child to completion; wall time and its own peak RSS.

    wait4() on the child's pid gives the rusage of that child alone, so its ru_maxrss is
    the child's peak RSS (VmHWM at exit), not the maximum over every child this script
    ever had, which is what getrusage(RUSAGE_CHILDREN) would report.
    """
    args = [str(a) for a in argv]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        with tempfile.TemporaryFile() as inp:
            inp.write(stdin.encode())
            inp.seek(0)
            started = time.monotonic()
            proc = subprocess.Popen(
                args, stdin=inp, stdout=out, stderr=err, cwd=cwd, env=clean_env()
            )
            _, status, usage = os.wait4(proc.pid, 0)
            wall = time.monotonic() - started
            proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Measured(
            argv=args,
            wall=wall,
            peak_rss_kb=usage.ru_maxrss,
            cpu=usage.ru_utime + usage.ru_stime,
            returncode=proc.returncode,
            stdout=out.read().decode(errors="replace"),
            stderr=err.read().decode(errors="replace"),
        )


def buildctl_build_argv(addr: str, context: Path, *extra: str) -> list[str]:
    return [
        str(BUILDCTL_BIN),
        "--addr",
        addr,
        "build",
        "--frontend",
        "dockerfile.v0",
        "--local",
        f"context={context}",
        "--local",
        f"dockerfile={context}",
        *extra,
    ]


_PLAIN_NAME = re.compile(r"^#(\d+) (\[.*)$")
_PLAIN_DONE = re.compile(r"^#(\d+) DONE (\d+(?:\.\d+)?)s$")


def plain_vertex_times(text: str) -> dict[str, float]:
    """Vertex name -> seconds, from `buildctl --progress=plain` output."""
    names: dict[str, str] = {}
    times: dict[str, float] = {}
    for line in text.splitlines():
        if found := _PLAIN_NAME.match(line):
            names.setdefault(found[1], found[2])
        elif (found := _PLAIN_DONE.match(line)) and found[1] in names:
            times[names[found[1]]] = float(found[2])
    return times


def client_vertex_times(text: str) -> dict[str, float]:
    """Vertex name -> seconds, from benchmarks/client_build.py output."""
    times: dict[str, float] = {}
    for line in text.splitlines():
        parts = line.split("\t", 2)
        if len(parts) == 3 and parts[0] == "vertex":
            times[parts[2]] = float(parts[1])
    return times


def local_context_bytes(builder: Buildkitd) -> int:
    """Bytes BuildKit holds in its local-source records for the build context: how much
    of the context really arrived in this builder."""
    records = json.loads(buildctl(builder, "du", "--format", "json").stdout or "[]")
    return sum(
        r.get("size", 0)
        for r in records
        if r.get("recordType") == "source.local"
        and r.get("description") == "local source for context"
    )


def prune_all(builder: Buildkitd) -> None:
    """Empty the builder's cache, so the next build does all its work again."""
    buildctl(builder, "prune", "--all")
