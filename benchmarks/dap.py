"""The debugger over DAP, timed as an editor sees it: our adapter (`python -m buildg_dap dap`
on stdio) and, where it installs, `buildx dap build`.

    .venv/bin/python benchmarks/dap.py [--runs 5] [--execs 5] [--buildx PATH | --no-buildx]

(1) The seed walkthrough on a fresh builder importing a registry cache (mode=max) that
    another builder exported: breakpoints on lines 2, 5 and 10, an exec at each stop
    (buildx: at the first only, where its exec works), continue to `terminated`. Adapter
    spawn to `terminated`, against buildx's.
(2) `next` over steps already in the builder's cache: sending `next` to `stopped`.
(3) `exec true` at a stop: the evaluate request's round trip.
(4) launch to `terminated` without breakpoints on three independent 3-second stages,
    against `buildctl build`; the builder's cache is emptied before every run of either.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from common import (
    REPO,
    STEP_DOCKERFILE,
    Buildkitd,
    Lab,
    buildctl_build_argv,
    clean_env,
    median,
    print_header,
    print_table,
    prune_all,
    report_ratio,
    run_measured,
    scratch_dir,
    write_context,
)

from tests.dap.dapclient import DapClient, DapError
from tests.lab import buildctl_build
from tests.lab.buildkitd import GOBIN

Message = dict[str, Any]

TARGET_WALK_RATIO = 0.5
TARGET_NEXT_MS = 40.0
TARGET_EXEC_MS = 150.0
TARGET_PARALLEL_RATIO = 1.1
WITHIN = 180.0  # seconds any one DAP exchange may take before the run is abandoned

BUILDX_PACKAGE = "github.com/docker/buildx/cmd/buildx"
BUILDX_VERSION = "v0.36.1"

SEED = (REPO / "examples" / "seed" / "Dockerfile").read_text()
SEED_LINES = [2, 5, 10]

PARALLEL = (
    "".join(f"FROM busybox AS {s}\nRUN sleep 3 && echo {s} > /{s}\n\n" for s in "abc")
    + "FROM busybox\n"
    + "".join(f"COPY --from={s} /{s} /{s}\n" for s in "abc")
)


# --- the two adapters ---------------------------------------------------------------


@dataclass
class Adapter:
    name: str
    argv: list[str]
    env: dict[str, str]
    launch: Message  # launch arguments besides contextPath
    exec_command: str  # what the console is sent at a stop


def ours(builder: Buildkitd, cache: str | None = None) -> Adapter:
    launch: Message = {"builder": builder.address}
    if cache:
        launch["cacheFrom"] = [cache]
    return Adapter(
        "ours", [sys.executable, "-m", "buildg_dap", "dap"], clean_env(), launch, "exec true"
    )


@dataclass
class Buildx:
    binary: Path
    config: Path  # private BUILDX_CONFIG, DOCKER_CONFIG and TMPDIR under here
    count: int = 0
    broken: str | None = None  # why it could not be driven

    def env(self) -> dict[str, str]:
        return {
            **clean_env(),
            "BUILDX_CONFIG": str(self.config / "buildx"),
            "DOCKER_CONFIG": str(self.config / "docker"),
            # buildx leaves its exec socket's temp dir behind: keep it in the scratch dir.
            "TMPDIR": str(self.config / "tmp"),
        }

    def adapter(self, builder: Buildkitd, context: Path, cache: str | None = None) -> Adapter:
        """`buildx dap build` on a remote-driver builder instance for ``builder``."""
        self.count += 1
        name = f"bench{self.count}"
        for sub in ("docker", "tmp"):
            (self.config / sub).mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [str(self.binary), "create", "--name", name, "--driver", "remote", builder.address],
            env=self.env(), capture_output=True, text=True, check=True,
        )  # fmt: skip
        # No attestations: ours makes none, and with no exporter they are wasted work.
        argv = [str(self.binary), "--builder", name, "dap", "build", "--provenance=false"]
        if cache:
            argv += ["--cache-from", f"type=registry,ref={cache}"]
        # buildx's console has one command, `exec`, which asks the client to run a terminal
        # (runInTerminal) attached to a shell in the step's container.
        return Adapter("buildx", [*argv, str(context)], self.env(), {}, "exec")


def go_module_version(binary: Path) -> str | None:
    done = subprocess.run(["go", "version", "-m", str(binary)], capture_output=True, text=True)
    found = re.search(r"^\s+mod\s+github\.com/docker/buildx\s+(\S+)", done.stdout, re.M)
    return found[1] if found else None


def find_buildx(ns: argparse.Namespace) -> tuple[Path | None, str]:
    """buildx v0.36.1, installed from the Go module proxy if missing; else why not."""
    if ns.no_buildx:
        return None, "skipped (--no-buildx)"
    if shutil.which("go") is None:
        return None, "no `go` on PATH to install it with"
    binary = Path(ns.buildx) if ns.buildx else GOBIN / "buildx"
    if binary.exists() and go_module_version(binary) == BUILDX_VERSION:
        return binary, f"{binary} ({BUILDX_VERSION})"
    if ns.buildx:
        return None, f"{binary} is not buildx {BUILDX_VERSION} ({go_module_version(binary)})"
    argv = ["go", "install", f"{BUILDX_PACKAGE}@{BUILDX_VERSION}"]
    print(f"installing buildx: GOFLAGS=-mod=mod GOBIN={GOBIN} {' '.join(argv)}", flush=True)
    env = {**os.environ, "GOFLAGS": "-mod=mod", "GOBIN": str(GOBIN)}
    try:
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=1800)
    except subprocess.TimeoutExpired:
        return None, "`go install` took more than 30 minutes"
    if done.returncode != 0:
        return None, f"`go install` failed:\n{done.stderr[-2000:]}"
    return binary, f"{binary} ({go_module_version(binary)}, just installed)"


# --- one DAP session ------------------------------------------------------------------


class Session:
    """An adapter process and a client, with a clock started when the process was spawned."""

    def __init__(self, adapter: Adapter, client: DapClient, spawned: float) -> None:
        self.adapter = adapter
        self.client = client
        self.spawned = spawned
        self.marks: list[tuple[str, float]] = []
        self.terminals: list[str] = []  # runInTerminal requests' attach sockets (buildx)
        self.thread = 1
        client.answer_reverse = self._reverse

    def mark(self, label: str) -> float:
        now = time.perf_counter()
        self.marks.append((label, now))
        return now

    def phases(self) -> list[tuple[str, float]]:
        """Each mark with the seconds since the previous one (the first since spawn)."""
        out, last = [], self.spawned
        for label, at in self.marks:
            out.append((label, at - last))
            last = at
        return out

    def _reverse(self, request: Message) -> Message | None:
        if request["command"] != "runInTerminal":
            return None
        # An editor would start `buildx dap attach SOCKET` in a terminal; connecting to the
        # socket from here does the same with less work, so buildx is not slowed by it.
        self.terminals.append(request["arguments"]["args"][-1])
        return {}

    async def launch(self, context: Path, lines: Sequence[int], **extra: Any) -> None:
        config = {"contextPath": str(context), **self.adapter.launch, **extra}
        seq = await self.client.send("launch", config)
        await self.client.event("initialized", within=WITHIN)
        self.mark("loaded (launch to initialized)")
        await self.client.request(
            "setBreakpoints",
            {"source": {"path": str(context / "Dockerfile")},
             "breakpoints": [{"line": n} for n in lines]},
        )  # fmt: skip
        await self.client.request("configurationDone")
        response = await self.client.response(seq, within=WITHIN)
        if not response["success"]:
            raise DapError(response)

    async def stop_or_end(self, after: int) -> Message:
        """The first `stopped` or `terminated` event at index ``after`` or later."""
        client = self.client
        with anyio.fail_after(WITHIN):
            while True:
                for event in client.events[after:]:
                    if event["event"] in ("stopped", "terminated"):
                        if event["event"] == "stopped":
                            self.thread = int(event["body"].get("threadId", self.thread))
                        return event
                if client.closed:
                    raise EOFError("the adapter closed the connection")
                # DapClient waits for one event name; this wakes on every message instead.
                await client._changed.wait()

    async def move(self, command: str) -> Message:
        after = len(self.client.events)
        await self.client.request(command, {"threadId": self.thread})
        return await self.stop_or_end(after)

    async def top_frame(self) -> Message:
        frames = await self.client.request("stackTrace", {"threadId": self.thread})
        return dict(frames["stackFrames"][0])

    async def exec(self) -> None:
        """The adapter's exec at this stop, to the end of the command."""
        if self.adapter.name == "ours":
            answer = await self.client.evaluate(self.adapter.exec_command)
            if answer["result"] != "exit code 0":
                raise RuntimeError(f"exec true answered {answer['result']!r}")
            return
        await self.client.evaluate(self.adapter.exec_command)
        await self._buildx_shell(self.terminals[-1])

    async def _buildx_shell(self, socket: str) -> None:
        # buildx starts /bin/sh with a tty once the terminal attaches and announces it; then
        # the shell runs the command and exits, and buildx closes the socket.
        seen = b""
        with anyio.fail_after(30):
            stream = await anyio.connect_unix(socket)
        async with stream:
            try:
                with anyio.fail_after(30):
                    while b"reset after the next step" not in seen:
                        seen += await stream.receive()
                    await stream.send(b"true && echo bench-$((6*7)); exit\n")
                    with suppress(anyio.EndOfStream):
                        while True:
                            seen += await stream.receive()
            except TimeoutError:
                raise RuntimeError(
                    f"buildx's shell did not finish within 30 s; it sent {seen!r}"
                ) from None
        if b"bench-42" not in seen:
            raise RuntimeError(f"buildx's shell did not run the command: {seen!r}")


@asynccontextmanager
async def open_session(adapter: Adapter, cwd: Path, log: Path) -> AsyncIterator[Session]:
    with log.open("ab") as stderr:
        spawned = time.perf_counter()
        process = await anyio.open_process(adapter.argv, cwd=cwd, env=adapter.env, stderr=stderr)
        async with process, anyio.create_task_group() as tg:
            session = Session(adapter, DapClient(process, tg), spawned)
            try:
                await session.client.request(
                    "initialize",
                    {"adapterID": adapter.name, "linesStartAt1": True, "columnsStartAt1": True,
                     "supportsRunInTerminalRequest": adapter.name == "buildx"},
                )  # fmt: skip
                session.mark("start (spawn to initialize answered)")
                yield session
            finally:
                with suppress(Exception), anyio.move_on_after(5):
                    await session.client.request("disconnect")
                # End of input ends either adapter (buildx also exits when its build ends).
                # A signal to one that has exited reaps it behind asyncio's child watcher,
                # which then warns about an unknown pid: signal only one that stays.
                if process.stdin is not None:
                    with suppress(Exception):
                        await process.stdin.aclose()
                for stop in (None, process.terminate, process.kill):
                    if stop is not None and process.returncode is None:
                        stop()
                    with anyio.move_on_after(10):
                        await process.wait()
                tg.cancel_scope.cancel()


class SideFailed(RuntimeError):
    pass


def drive(side: str, log: Path, work: Any, *args: Any) -> Any:
    """One session in its own event loop; a failure carries the adapter's stderr."""
    try:
        return anyio.run(work, *args)
    except Exception as error:
        cause: BaseException = error
        while isinstance(cause, BaseExceptionGroup) and len(cause.exceptions) == 1:
            cause = cause.exceptions[0]  # the task group's wrapping says nothing
        text = log.read_text(errors="replace") if log.exists() else ""
        raise SideFailed(
            f"{side}: {cause!r}\n--- adapter stderr ({log}) ---\n{text[-3000:]}"
        ) from error


def give_up_on(buildx: Buildx, error: Exception) -> None:
    buildx.broken = str(error)
    print(f"buildx could not be driven; timing ours alone from here. {error}", flush=True)


# --- (1) the cached walkthrough ---------------------------------------------------------


async def walkthrough(adapter: Adapter, context: Path, exec_at: int, log: Path) -> Session:
    """Breakpoints on SEED_LINES; exec at the first ``exec_at`` stops; continue to the end."""
    async with open_session(adapter, context, log) as session:
        await session.launch(context, SEED_LINES)
        event = await session.stop_or_end(0)
        lines = []
        while event["event"] == "stopped":
            lines.append(int((await session.top_frame())["line"]))
            session.mark(f"to stop {len(lines)}")
            if len(lines) <= exec_at:
                await session.exec()
                session.mark(f"exec {len(lines)}")
            event = await session.move("continue")
        session.mark("to terminated")
        if lines != SEED_LINES:
            raise RuntimeError(f"{adapter.name} stopped at lines {lines}, not {SEED_LINES}")
        return session


def cached_walkthrough(
    lab: Lab, tmp: Path, buildx: Buildx | None, runs: int, step_cost: float = 0.0
) -> list[float]:
    """Returns buildx's exec times, for (3). ``step_cost`` makes each RUN of the seed take
    that many seconds when it runs, so re-running a cached step shows in the time."""
    print("(1) seed walkthrough, fresh builder importing a registry cache (mode=max):")
    seed = SEED
    if step_cost:
        seed = re.sub(r"^RUN ", f"RUN sleep {step_cost:g} && ", SEED, flags=re.MULTILINE)
        print(f"    each RUN also sleeps {step_cost:g} s when it runs (--step-cost)")
    print(f"    breakpoints on lines {SEED_LINES}, exec at each stop, continue to terminated;")
    print("    time from spawning the adapter to `terminated`")
    context = write_context(tmp / "seed", seed)
    assert lab.registry is not None
    cache = f"{lab.registry.host}/cache:bench-dap-seed-{step_cost:g}"
    exporter = lab.fresh_builder()
    try:
        buildctl_build(exporter, context, "--export-cache", f"type=registry,ref={cache},mode=max")
    finally:
        exporter.stop()
    sides = ["ours"]
    if buildx is not None:
        # buildx's exec works at the first stop of a session only (see README); ours is
        # also timed doing just that, for a like-for-like comparison.
        sides += ["buildx", "ours, 1 exec"]
    sessions: dict[str, list[Session]] = {side: [] for side in sides}
    rows: list[list[object]] = []
    for run in range(1, runs + 1):
        for side in sides if run % 2 else sides[::-1]:
            if side != "ours" and (buildx is None or buildx.broken):
                continue
            builder = lab.fresh_builder()
            log = tmp / f"walk-{side.replace(' ', '').replace(',', '-')}-{run}.log"
            try:
                if side == "buildx":
                    assert buildx is not None
                    adapter, exec_at = buildx.adapter(builder, context, cache), 1
                else:
                    adapter, exec_at = ours(builder, cache), 3 if side == "ours" else 1
                if run == 1:
                    print(f"    {side}: {shlex.join(adapter.argv)}")
                session = drive(side, log, walkthrough, adapter, context, exec_at, log)
            except (SideFailed, subprocess.CalledProcessError) as error:
                if side != "buildx" or buildx is None:
                    raise
                give_up_on(buildx, error)
                continue
            finally:
                builder.stop()
            sessions[side].append(session)
            rows.append([run, side, session.marks[-1][1] - session.spawned])
    if buildx is None or buildx.broken:
        sides = ["ours"]
    print()
    print_table(["run", "side", "spawn to terminated s"], rows)
    print("median of each phase (s); stop N is at line SEED_LINES[N-1]:")
    cells = {
        side: {label: median([dict(s.phases())[label] for s in sessions[side]])
               for label, _ in sessions[side][0].phases()}
        for side in sides
    }  # fmt: skip
    labels = list(cells["ours"])  # ours has every phase
    print_table(
        ["phase", *sides], [[label, *(cells[s].get(label, "-") for s in sides)] for label in labels]
    )
    if "buildx" in sides:
        print(
            "    buildx sends `initialized` before it loads the build: its loading is in "
            "`to stop 1`.\n    buildx stops before a step runs, ours after it (with its "
            "result's layers fetched)."
        )
    totals = {side: median([s.marks[-1][1] - s.spawned for s in sessions[side]]) for side in sides}
    started = {
        side: median([s.marks[-1][1] - s.marks[0][1] for s in sessions[side]]) for side in sides
    }
    print(
        "median spawn to terminated: " + ", ".join(f"{side} {totals[side]:.3f}s" for side in sides)
    )
    print(
        "median initialize answered to terminated: "
        + ", ".join(f"{side} {started[side]:.3f}s" for side in sides)
    )
    if "buildx" not in sides:
        print(f"(1) ours: {totals['ours']:.3f}s; no buildx to compare with (see above)")
    else:
        report_ratio(
            "(1) ours (exec at all 3 stops) / buildx (exec at the first stop)",
            totals["ours"] / totals["buildx"],
            TARGET_WALK_RATIO,
        )
        print(
            f"    like for like, ours with one exec / buildx: "
            f"{totals['ours, 1 exec'] / totals['buildx']:.2f}; without start-up "
            f"(initialize answered to terminated): ours / buildx "
            f"{started['ours'] / started['buildx']:.2f}, ours with one exec / buildx "
            f"{started['ours, 1 exec'] / started['buildx']:.2f}"
        )
    print(flush=True)
    if "buildx" not in sides:
        return []
    return [s for ses in sessions["buildx"] for label, s in ses.phases() if label == "exec 1"]


# --- (2) and (3): stepping and exec on a cached builder ----------------------------------


@dataclass
class StepRun:
    nexts: list[tuple[int, str, str, float]] = field(default_factory=list)  # line, what, result
    execs: list[float] = field(default_factory=list)


async def fill_cache(adapter: Adapter, context: Path, log: Path) -> None:
    async with open_session(adapter, context, log) as session:
        await session.launch(context, [])
        event = await session.stop_or_end(0)
        if event["event"] != "terminated":
            raise RuntimeError(f"{adapter.name} stopped without breakpoints: {event}")


async def step_through(adapter: Adapter, context: Path, execs: int, log: Path) -> StepRun:
    """Stop on entry, `next` to the end; ``execs`` execs at the last step (a RUN)."""
    last_line = len(STEP_DOCKERFILE.splitlines())
    run = StepRun()
    async with open_session(adapter, context, log) as session:
        await session.launch(context, [], stopOnEntry=True)
        event = await session.stop_or_end(0)
        while event["event"] == "stopped":
            started = time.perf_counter()
            event = await session.move("next")
            elapsed = time.perf_counter() - started
            if event["event"] != "stopped":
                break
            frame = await session.top_frame()
            result = ""
            if adapter.name == "ours":
                result = (await session.client.scope("Step", int(frame["id"]))).get("result", "")
            run.nexts.append((int(frame["line"]), str(frame["name"]), result, elapsed))
            if frame["line"] == last_line and not run.execs:
                for _ in range(execs):
                    started = time.perf_counter()
                    await session.exec()
                    run.execs.append(time.perf_counter() - started)
    return run


def stepping(
    lab: Lab, tmp: Path, buildx: Buildx | None, runs: int, execs: int, buildx_execs: list[float]
) -> None:
    print(
        "(2) `next` over cached steps (send next to stopped) and "
        "(3) `exec true` at a stop (evaluate round trip)"
    )
    context = write_context(tmp / "steps", STEP_DOCKERFILE)
    builder = lab.fresh_builder()
    results: dict[str, list[StepRun]] = {"ours": [], "buildx": []}
    try:
        ours_adapter = ours(builder)
        drive(
            "ours", tmp / "fill-ours.log", fill_cache, ours_adapter, context, tmp / "fill-ours.log"
        )
        bx_adapter = None
        if buildx is not None and not buildx.broken:
            try:
                bx_adapter = buildx.adapter(builder, context)
                log = tmp / "fill-buildx.log"
                drive("buildx", log, fill_cache, bx_adapter, context, log)
            except (SideFailed, subprocess.CalledProcessError) as error:
                give_up_on(buildx, error)
                bx_adapter = None
        for number in range(1, runs + 1):
            order = [ours_adapter, *([bx_adapter] if bx_adapter else [])]
            for adapter in order if number % 2 else order[::-1]:
                log = tmp / f"steps-{adapter.name}-{number}.log"
                # buildx's exec works at the first stop only, which is not the last step.
                count = execs if adapter.name == "ours" else 0
                try:
                    done = drive(adapter.name, log, step_through, adapter, context, count, log)
                except SideFailed as error:
                    if adapter is not bx_adapter or buildx is None:
                        raise
                    give_up_on(buildx, error)
                    bx_adapter = None
                    continue
                results[adapter.name].append(done)
    finally:
        builder.stop()
    if buildx is not None and buildx.broken:
        results["buildx"] = []
    first = results["ours"][0]
    print_table(
        ["line", "step", "result", *(f"run {n} ms" for n in range(1, runs + 1))],
        [[line, name[:50], result, *(r.nexts[i][3] * 1000 for r in results["ours"])]
         for i, (line, name, result, _) in enumerate(first.nexts)],
    )  # fmt: skip
    # Only stops the adapter reports as cache hits count (the FROM is a source, not one).
    nexts = [n[3] * 1000 for r in results["ours"] for n in r.nexts if "cache" in n[2]]
    others = sum(len(r.nexts) for r in results["ours"]) - len(nexts)
    print(
        f"ours: {len(nexts)} nexts onto cached steps (not counted: {others} onto others); "
        f"min {min(nexts):.1f} ms, max {max(nexts):.1f} ms"
    )
    if results["buildx"]:
        # buildx does not say what was cached: every step but the FROM, as for ours.
        theirs = [n[3] * 1000 for r in results["buildx"] for n in r.nexts if n[0] != 1]
        print(
            f"buildx, same steps (reference): {len(theirs)} nexts; median "
            f"{median(theirs):.1f} ms, min {min(theirs):.1f} ms, max {max(theirs):.1f} ms"
        )
    report_ratio("(2) median next over a cached step", median(nexts), TARGET_NEXT_MS, " ms")
    print()
    exec_ms = [e * 1000 for r in results["ours"] for e in r.execs]
    print(
        f"ours: {len(exec_ms)} x `exec true` at line {first.nexts[-1][0]}; "
        f"min {min(exec_ms):.1f} ms, max {max(exec_ms):.1f} ms"
    )
    if buildx_execs:
        theirs = [e * 1000 for e in buildx_execs]
        print(
            f"buildx (reference, from (1), first stop: exec, attach to its socket, /bin/sh "
            f"runs `true; exit`): {len(theirs)} execs; median {median(theirs):.1f} ms"
        )
    report_ratio("(3) median exec true round trip", median(exec_ms), TARGET_EXEC_MS, " ms")
    print(flush=True)


# --- (4) three parallel stages without breakpoints -----------------------------------------


async def run_to_end(adapter: Adapter, context: Path, log: Path) -> Session:
    async with open_session(adapter, context, log) as session:
        session.mark("launch sent")
        await session.launch(context, [])
        event = await session.stop_or_end(0)
        session.mark("configured to terminated")
        if event["event"] != "terminated":
            raise RuntimeError(f"stopped without breakpoints: {event}")
        exited = [e for e in session.client.events if e["event"] == "exited"]
        if not exited or exited[0]["body"].get("exitCode") != 0:
            raise RuntimeError(f"the build did not succeed: {exited}")
        return session


def parallel_stages(lab: Lab, tmp: Path, runs: int) -> None:
    print(
        "(4) launch to terminated, no breakpoints, three independent 3 s stages, vs "
        "buildctl build (cache pruned before each)"
    )
    context = write_context(tmp / "parallel", PARALLEL)
    builder = lab.fresh_builder()
    theirs_argv = buildctl_build_argv(builder.address, context)
    print(f"    buildctl: {' '.join(theirs_argv)}", flush=True)
    walls: dict[str, list[float]] = {"ours": [], "buildctl": []}
    spawned: list[float] = []
    rows: list[list[object]] = []
    try:
        for run in range(1, runs + 1):
            for side in ("ours", "buildctl") if run % 2 else ("buildctl", "ours"):
                prune_all(builder)
                if side == "buildctl":
                    wall = run_measured(theirs_argv).check().wall
                    rows.append([run, side, wall, "-"])
                else:
                    log = tmp / f"parallel-{run}.log"
                    session = drive("ours", log, run_to_end, ours(builder), context, log)
                    launched = dict(session.marks)["launch sent"]
                    wall = session.marks[-1][1] - launched
                    spawned.append(session.marks[-1][1] - session.spawned)
                    rows.append([run, side, wall, spawned[-1]])
                walls[side].append(wall)
    finally:
        builder.stop()
    print()
    print_table(["run", "side", "launch (or spawn) to end s", "ours spawn to terminated s"], rows)
    mine, theirs = median(walls["ours"]), median(walls["buildctl"])
    print(
        f"median: ours launch to terminated {mine:.3f}s (spawn to terminated "
        f"{median(spawned):.3f}s), buildctl {theirs:.3f}s"
    )
    report_ratio(
        "(4) ours launch-to-terminated / buildctl wall", mine / theirs, TARGET_PARALLEL_RATIO
    )
    print(
        f"    with our adapter's start-up counted (spawn to terminated): "
        f"{median(spawned) / theirs:.2f}"
    )
    print(flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs of each measurement")
    parser.add_argument("--execs", type=int, default=5, help="exec true per run in (3)")
    parser.add_argument("--buildx", default=None, help=f"a buildx {BUILDX_VERSION} binary")
    parser.add_argument("--no-buildx", action="store_true", help="time ours alone")
    parser.add_argument(
        "--step-cost", type=float, default=0.0,
        help="seconds each seed RUN sleeps when it runs, to show re-run cached steps in (1)",
    )  # fmt: skip
    ns = parser.parse_args()
    print_header("the debugger over DAP")
    binary, about = find_buildx(ns)
    print(f"buildx: {about}", flush=True)
    print()
    with scratch_dir("bench-dap-") as tmp, Lab() as lab:
        buildx = Buildx(binary, tmp / "buildx-config") if binary is not None else None
        buildx_execs = cached_walkthrough(lab, tmp, buildx, ns.runs, ns.step_cost)
        stepping(lab, tmp, buildx, ns.runs, ns.execs, buildx_execs)
        parallel_stages(lab, tmp, ns.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
