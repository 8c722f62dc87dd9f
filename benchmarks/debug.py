"""Debugger overheads on one buildkitd: a whole debug run, `next` over cached steps, and
`exec true` at a stop.

    .venv/bin/python benchmarks/debug.py [--runs 3] [--next-rounds 2] [--execs 15]

(a) `buildg-dap debug` fed "continue" (no breakpoints) vs `buildctl build` of the same
    three-stage Dockerfile; the debug CLI has no --no-cache, so the builder's cache is
    emptied (`buildctl prune --all`) before every run of either side.
(b) Engine.next() in-process over a Dockerfile whose steps are all in the builder's
    cache (built to the end once first); every stop must report CACHED.
(c) At a stop on a RUN step, in-process: step_layout + container() + run_process(["true"])
    + release, as the REPL's `exec true` does without a terminal.
"""

from __future__ import annotations

import argparse
import sys
import time
from contextlib import suppress
from pathlib import Path

import anyio
from common import (
    STEP_DOCKERFILE,
    Buildkitd,
    Lab,
    buildctl_build_argv,
    median,
    print_header,
    print_table,
    prune_all,
    report_ratio,
    run_measured,
    scratch_dir,
    write_context,
)

from buildg_dap.buildkit.build import BuildRequest
from buildg_dap.buildkit.connection import Address, Connection, connect
from buildg_dap.debugger.engine import Engine, Exited
from buildg_dap.debugger.mounts import Where, step_layout
from buildg_dap.debugger.process import ProcessIO, container, run_process

TARGET_RUN_RATIO = 1.1
TARGET_NEXT_MS = 150.0
TARGET_EXEC_MS = 400.0
STATUS_WAIT = 2.0  # seconds to wait for Control.Status to report a vertex done

# Three stages doing a little real work: 128 MiB generated, hashed, and combined.
WORK_DOCKERFILE = """\
FROM busybox AS gen
RUN mkdir /data && for i in 1 2 3 4 5 6 7 8; do head -c 16777216 /dev/urandom > /data/$i; done
FROM busybox AS hash
COPY --from=gen /data /data
RUN sha256sum /data/* > /sums && sha256sum /sums
FROM busybox
COPY --from=hash /sums /sums
COPY --from=gen /data/1 /one
RUN sha256sum /one >> /sums && wc -l /sums
"""

# --- (a) whole run ------------------------------------------------------------------


def debug_argv(builder: Buildkitd, context: Path) -> list[str]:
    return [sys.executable, "-m", "buildg_dap", "debug", "--addr", builder.address, str(context)]


def whole_run(builder: Buildkitd, context: Path, runs: int) -> None:
    print("(a) debug run without breakpoints vs buildctl build (cache pruned before each)")
    print(f"  ours: {' '.join(debug_argv(builder, context))}  <<< 'continue'")
    theirs_argv = buildctl_build_argv(builder.address, context, "--progress=plain")
    print(f"  buildctl: {' '.join(theirs_argv)}", flush=True)
    walls: dict[str, list[float]] = {"ours": [], "buildctl": []}
    rows: list[list[object]] = []
    for run in range(1, runs + 1):
        order = ("ours", "buildctl") if run % 2 else ("buildctl", "ours")
        for side in order:
            prune_all(builder)
            if side == "ours":
                done = run_measured(debug_argv(builder, context), stdin="continue\n").check()
                # The REPL reports failures in its output, not only in its exit code.
                if "error" in (done.stdout + done.stderr).lower():
                    raise RuntimeError(f"debug run reported an error:\n{done.stdout}{done.stderr}")
            else:
                done = run_measured(theirs_argv).check()
            walls[side].append(done.wall)
            rows.append([run, side, done.wall])
    print()
    print_table(["run", "side", "wall s"], rows)
    ours, theirs = median(walls["ours"]), median(walls["buildctl"])
    print(f"median wall: ours {ours:.2f}s, buildctl {theirs:.2f}s")
    report_ratio("(a) ours/buildctl wall", ours / theirs, TARGET_RUN_RATIO)
    # How much of the difference is the interpreter starting and importing the CLI.
    help_argv = [sys.executable, "-m", "buildg_dap", "debug", "--help"]
    startup = median([run_measured(help_argv).check().wall for _ in range(3)])
    print(f"ours startup alone ({' '.join(help_argv[1:])}): median {startup:.2f}s; "
          f"ratio with it taken out: {(ours - startup) / theirs:.3f}")
    print(flush=True)


# --- (b) and (c): in-process -----------------------------------------------------------


class Sections:
    """Consecutive named sections of one iteration, timed back to back."""

    def __init__(self) -> None:
        self.samples: dict[str, list[float]] = {}
        self._mark = time.perf_counter()

    def start(self) -> None:
        self._mark = time.perf_counter()

    def done(self, name: str) -> None:
        now = time.perf_counter()
        self.samples.setdefault(name, []).append(now - self._mark)
        self._mark = now


async def step_over_cached(conn: Connection, request: BuildRequest, rounds: int) -> None:
    print("(b) engine.next() over steps already in the builder's cache")
    async with Engine.launch(conn, request) as engine:
        with suppress(Exited):  # no breakpoints: builds to the end, filling the cache
            await engine.continue_()
    rows: list[list[object]] = []
    every: list[float] = []
    for round_ in range(1, rounds + 1):
        async with Engine.launch(conn, request) as engine:
            stops = []
            for _ in engine.prog.steps:
                started = time.perf_counter()
                stop = await engine.next()
                elapsed = time.perf_counter() - started
                assert stop.step is not None
                every.append(elapsed)
                stops.append((stop, elapsed))
            # Cross-check each stop against the status stream's own report of the step.
            for stop, elapsed in stops:
                assert stop.step is not None
                final = await engine.progress.completed(stop.step.digest, within=STATUS_WAIT)
                rows.append([round_, stop.step.index, stop.step.line, stop.step.instruction,
                             stop.cached, final.cached if final else None, elapsed * 1000])
    print_table(["round", "step", "line", "instruction", "stop.cached", "CACHED (status)",
                 "next ms"], rows)
    # Source ops (FROM) have no cache record of their own to report.
    uncached = [row for row in rows if row[3] != "FROM" and not row[5]]
    if uncached:
        print(f"WARNING: {len(uncached)} non-FROM steps not reported CACHED by Control.Status")
    late = [row for row in rows if row[4] != row[5]]
    if late:
        print(f"note: for {len(late)} stops, Stop.cached differs from the status stream's "
              "final CACHED flag (status messages arrive after the solve reply)")
    print(f"{len(every)} next() calls; min {min(every) * 1000:.1f} ms, "
          f"max {max(every) * 1000:.1f} ms")
    report_ratio("(b) median next() over a cached step", median(every) * 1000,
                 TARGET_NEXT_MS, " ms")
    print(flush=True)


async def exec_true(conn: Connection, request: BuildRequest, count: int) -> None:
    print("(c) exec true at a stop (layout + NewContainer + ExecProcess + ReleaseContainer)")
    sections = Sections()
    async with Engine.launch(conn, request) as engine:
        stop = None
        for _ in engine.prog.steps:
            stop = await engine.next()
        assert stop is not None and stop.step is not None
        print(f"  stopped at line {stop.step.line}: {stop.step.instruction}")
        gateway = engine.build.gateway

        async def discard(data: bytes) -> None:
            pass

        for _ in range(count):
            sections.start()
            layout = await step_layout(
                engine.prog, stop.step, Where.RESULT, root_result=stop.result_id,
                resolve=engine.resolve,
            )
            sections.done("layout")
            spec = layout.process
            spec.args = ["true"]
            io = ProcessIO(stdout=discard, stderr=discard)
            async with container(gateway, layout.request) as container_id:
                sections.done("NewContainer")
                code = await run_process(gateway, container_id, spec, io)
                sections.done("ExecProcess (Init..Done)")
            sections.done("ReleaseContainer")
            if code != 0:
                raise RuntimeError(f"exec true exited with {code}")
    totals = [sum(parts) for parts in zip(*sections.samples.values(), strict=True)]
    sections.samples["total"] = totals
    rows = [[name, len(values), median(values) * 1000, min(values) * 1000,
             max(values) * 1000] for name, values in sections.samples.items()]
    print_table(["section", "n", "median ms", "min ms", "max ms"], rows)
    report_ratio("(c) median exec true round trip", median(totals) * 1000,
                 TARGET_EXEC_MS, " ms")
    print(flush=True)


async def in_process(builder: Buildkitd, context: Path, rounds: int, execs: int) -> None:
    request = BuildRequest(context=context, dockerfile=context / "Dockerfile")
    conn = await connect(Address.parse(builder.address))
    async with conn:
        await step_over_cached(conn, request, rounds)
        await exec_true(conn, request, execs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--next-rounds", type=int, default=2)
    parser.add_argument("--execs", type=int, default=15)
    parser.add_argument("--skip-run", action="store_true", help="only (b) and (c)")
    ns = parser.parse_args()
    print_header("debugger overheads")
    with scratch_dir("bench-debug-") as tmp, Lab() as lab:
        builder = lab.fresh_builder()
        if not ns.skip_run:
            whole_run(builder, write_context(tmp / "work", WORK_DOCKERFILE), ns.runs)
        steps = write_context(tmp / "steps", STEP_DOCKERFILE)
        anyio.run(in_process, builder, steps, ns.next_rounds, ns.execs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
