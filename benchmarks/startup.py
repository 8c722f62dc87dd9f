"""Start-up: `--help`, the DAP adapter's first answer, and a cached build vs buildctl.

    .venv/bin/python benchmarks/startup.py [--runs 5] [--no-build]

(1) `python -m buildg_dap [CMD] --help` for the top level and every command: wall time
    from spawn to exit, median of --runs.
(2) `python -m buildg_dap dap` on stdio: spawn to the `initialize` response, median of
    --runs (what an editor waits for before anything else).
(3) `python -m buildg_dap build --addr ADDR CTX` vs `buildctl build` of the same
    two-step Dockerfile (FROM busybox, RUN) on one buildkitd, every step cached (each
    side builds it once first, not counted): wall time including start-up, median of
    --runs, the order alternating from run to run.

The children keep compiled bytecode (in a scratch PYTHONPYCACHEPREFIX, even where
PYTHONDONTWRITEBYTECODE is set), as an installed package has it: otherwise every run
would compile the package's sources again. A first, uncounted run writes it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from common import (
    Lab,
    buildctl_build_argv,
    clean_env,
    median,
    print_header,
    print_table,
    report_ratio,
    run_measured,
    scratch_dir,
)

TARGET_HELP_S = 0.15
TARGET_BUILD_RATIO = 1.15
OURS = [sys.executable, "-m", "buildg_dap"]
HELP_COMMANDS = ["", "build", "debug", "dap", "attach", "builder", "builder status",
                 "cache", "cache inspect"]  # fmt: skip
DOCKERFILE = "FROM busybox\nRUN echo two-steps > /out && cat /out\n"


def help_times(runs: int) -> None:
    print("(1) --help, spawn to exit")
    rows: list[list[object]] = []
    worst = 0.0
    for command in HELP_COMMANDS:
        argv = [*OURS, *command.split(), "--help"]
        walls = [run_measured(argv).check().wall for _ in range(runs)]
        worst = max(worst, median(walls))
        rows.append([" ".join(argv[1:]), median(walls), min(walls), max(walls)])
    print_table(["command", "median s", "min s", "max s"], rows)
    report_ratio("(1) slowest median --help", worst, TARGET_HELP_S, " s")
    print(flush=True)


def _message(payload: dict[str, object]) -> bytes:
    body = json.dumps(payload).encode()
    return f"Content-Length: {len(body)}\r\n\r\n".encode() + body


def _read_message(stream: object) -> dict[str, object]:
    read = stream.readline  # type: ignore[attr-defined]
    length = 0
    while (line := read()) not in (b"\r\n", b""):
        name, _, value = line.decode().partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    message: dict[str, object] = json.loads(stream.read(length))  # type: ignore[attr-defined]
    return message


def dap_initialize(runs: int) -> None:
    argv = [*OURS, "dap"]
    print(f"(2) {' '.join(argv[1:])}: spawn to the initialize response")
    walls = []
    for _ in range(runs + 1):  # the first writes the adapter's bytecode: not counted
        started = time.monotonic()
        proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            env=clean_env(),
        )  # fmt: skip
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(_message({"seq": 1, "type": "request", "command": "initialize",
                                   "arguments": {"adapterID": "bench"}}))  # fmt: skip
        proc.stdin.flush()
        while (message := _read_message(proc.stdout)).get("type") != "response":
            pass
        walls.append(time.monotonic() - started)
        if not message.get("success"):
            raise RuntimeError(f"initialize failed: {message}")
        proc.stdin.close()  # end of input ends the adapter
        proc.wait(timeout=30)
    walls = walls[1:]
    print(f"  median {median(walls):.3f}s (min {min(walls):.3f}, max {max(walls):.3f}) "
          f"over {runs} runs\n", flush=True)  # fmt: skip


def cached_build(lab: Lab, tmp: Path, runs: int) -> None:
    context = tmp / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(DOCKERFILE)
    builder = lab.fresh_builder()
    argvs = {
        "ours": [*OURS, "build", "--addr", builder.address, str(context)],
        "buildctl": buildctl_build_argv(builder.address, context, "--progress=plain"),
    }
    print("(3) cached two-step build, wall time including start-up")
    for side, argv in argvs.items():
        print(f"  {side}: {' '.join(argv)}")
        run_measured(argv).check()  # fills the cache; not counted
    walls: dict[str, list[float]] = {"ours": [], "buildctl": []}
    rows: list[list[object]] = []
    for run in range(1, runs + 1):
        for side in ("ours", "buildctl") if run % 2 else ("buildctl", "ours"):
            done = run_measured(argvs[side]).check()
            if "CACHED" not in done.stderr:
                raise RuntimeError(f"{side}'s build was not cached:\n{done.stderr}")
            walls[side].append(done.wall)
            rows.append([run, side, done.wall, done.cpu, f"{done.peak_rss_kb / 1024:.1f}"])
    print()
    print_table(["run", "side", "wall s", "cpu s", "peak RSS MiB"], rows)
    ours, theirs = median(walls["ours"]), median(walls["buildctl"])
    print(f"median wall: ours {ours:.3f}s, buildctl {theirs:.3f}s")
    report_ratio("(3) ours/buildctl wall", ours / theirs, TARGET_BUILD_RATIO)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-build", dest="build", action="store_false",
                        help="only (1) and (2): no lab, no builder")  # fmt: skip
    ns = parser.parse_args()
    print_header("start-up")
    with scratch_dir("bench-startup-") as tmp:
        # Children inherit this environment (common.clean_env copies it).
        os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
        os.environ["PYTHONPYCACHEPREFIX"] = str(tmp / "pycache")
        run_measured([*OURS, "--help"]).check()  # writes the bytecode; not counted
        help_times(ns.runs)
        dap_initialize(ns.runs)
        if ns.build:
            with Lab() as lab:
                cached_build(lab, tmp, ns.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
