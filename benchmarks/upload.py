"""Context upload: our client vs buildctl sending the same 500 MiB / 20,000-file context.

    .venv/bin/python benchmarks/upload.py [--runs 3] [--mib 500] [--files 20000]

Each measurement gets a brand-new buildkitd, so neither side can reuse a local-source
snapshot from an earlier run (BuildKit keeps one per session shared key and directory
name and then transfers only what changed). After each build, `buildctl du` must show a
"local source for context" record holding the whole context, or the run is reported as
not having transferred it.
"""

from __future__ import annotations

import argparse
import os
import pstats
import random
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from common import (
    Lab,
    Measured,
    buildctl_build_argv,
    client_vertex_times,
    local_context_bytes,
    median,
    plain_vertex_times,
    print_header,
    print_table,
    report_ratio,
    run_measured,
    scratch_dir,
)

MIB = 1024 * 1024
KIB = 1024
SEED = 20_000
DOCKERFILE = "FROM scratch\nCOPY . /ctx\n"
LOAD_CONTEXT = "[internal] load build context"
TARGET_RATIO = 1.3
TARGET_RSS_MB = 120.0
# du counts whole blocks, so a full transfer shows at least the bytes of the files.
FULL = 1.0


@dataclass
class Sample:
    side: str
    run: int
    wall: float
    peak_rss_mb: float
    cpu: float  # the client's own user+system seconds
    transferred: int
    load_context: float | None  # buildkitd's "[internal] load build context" vertex, s


def file_sizes(total: int, count: int, rng: random.Random) -> list[int]:
    """Five 10-50 MiB files (at 500 MiB in all), 2% of 100 KiB-1 MiB, the rest a few KiB each,
    summing to exactly `total`."""
    # Scaled with `total` so that smaller trial contexts keep the same shape.
    scale = total / (500 * MIB)
    large = [int(rng.randint(10 * MIB, 50 * MIB) * scale) for _ in range(5)]
    medium = [rng.randint(100 * KIB, MIB) for _ in range(count // 50)]
    remaining = total - sum(large) - sum(medium)
    n_small = count - len(large) - len(medium)
    if remaining < n_small * KIB:
        raise SystemExit(f"--mib too small for {count} files")
    weights = [rng.randint(1 * KIB, 12 * KIB) for _ in range(n_small)]
    scale = remaining / sum(weights)
    small = [max(1, int(w * scale)) for w in weights]
    small[-1] += remaining - sum(small)
    sizes = large + medium + small
    rng.shuffle(sizes)
    return sizes


def generate_context(root: Path, total: int, count: int) -> None:
    """Incompressible, never-repeating content from a seeded generator: reproducible
    from run to run, and no transfer can win by compressing or deduplicating it."""
    rng = random.Random(SEED)
    root.mkdir()
    (root / "Dockerfile").write_text(DOCKERFILE)
    for index, size in enumerate(file_sizes(total, count - 1, rng)):
        # 1,000 directories two levels deep, 20 files each: a tree, not one flat dir.
        folder = root / f"d{index % 100:03d}" / f"s{index // 100 % 10}"
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / f"f{index:05d}.bin", "wb") as out:
            left = size
            while left:
                chunk = min(left, 8 * MIB)
                out.write(rng.randbytes(chunk))
                left -= chunk


def tree_bytes(root: Path) -> tuple[int, int]:
    total = files = 0
    for folder, _, names in os.walk(root):
        for name in names:
            total += os.lstat(os.path.join(folder, name)).st_size
            files += 1
    return total, files


def our_argv(addr: str, context: Path) -> list[str]:
    """The product CLI's `build` once it exists, else the library-level client."""
    probe = subprocess.run(
        [sys.executable, "-m", "buildg_dap", "build", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode == 0 and "--no-cache" in probe.stdout:
        return [sys.executable, "-m", "buildg_dap", "build", "--addr", addr, "--no-cache",
                str(context)]
    client = Path(__file__).with_name("client_build.py")
    return [sys.executable, str(client), "--addr", addr, str(context)]


def measure(lab: Lab, side: str, run: int, context: Path) -> Sample:
    # The previous run's builder wrote (and deleted) the whole context: let that reach
    # the disk now, not during this measurement.
    os.sync()
    builder = lab.fresh_builder()
    try:
        if side == "ours":
            argv = our_argv(builder.address, context)
        else:
            argv = buildctl_build_argv(builder.address, context, "--no-cache", "--progress=plain")
        done: Measured = run_measured(argv).check()
        transferred = local_context_bytes(builder)
    finally:
        builder.stop()
    print(f"  run {run} {side}: {done.wall:.2f}s  ({' '.join(argv[:2])} ...)", flush=True)
    # Our CLI prints plain progress as buildctl does; client_build.py prints its own lines.
    times = plain_vertex_times(done.stderr) or client_vertex_times(done.stdout)
    return Sample(
        side, run, done.wall, done.peak_rss_kb / 1024, done.cpu, transferred,
        times.get(LOAD_CONTEXT),
    )


def profile_ours(lab: Lab, context: Path, out: Path) -> None:
    """One more upload of ours under cProfile (main thread only: the event loop, where
    the packets are built and written), and the functions that took the most time."""
    builder = lab.fresh_builder()
    try:
        argv = [sys.executable, "-m", "cProfile", "-o", str(out),
                str(Path(__file__).with_name("client_build.py")),
                "--addr", builder.address, str(context)]
        done = run_measured(argv).check()
    finally:
        builder.stop()
    print(f"profiled run (cProfile overhead included): {done.wall:.2f}s wall, "
          f"{done.cpu:.2f}s cpu\n  {' '.join(argv)}")
    stats = pstats.Stats(str(out))
    stats.sort_stats("tottime").print_stats(15)
    stats.sort_stats("cumulative").print_stats(25)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--mib", type=int, default=500, help="context size in MiB")
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--profile", action="store_true",
                        help="afterwards, profile one more upload of ours with cProfile")
    parser.add_argument("--no-warmup", dest="warmup", action="store_false",
                        help="skip the uncounted first round (run 0)")
    parser.add_argument("--builder-state", type=Path, default=Path("/tmp"),
                        help="where builders keep their state, e.g. /dev/shm (a tmpfs) to "
                        "take the disk's write speed out of the comparison")
    ns = parser.parse_args()
    print_header("context upload: ours vs buildctl")
    with scratch_dir("bench-upload-") as tmp, Lab(ns.builder_state) as lab:
        base = tmp / "ctx"
        generate_context(base, ns.mib * MIB, ns.files)
        size, files = tree_bytes(base)
        print(f"context: {files} files, {size / MIB:.1f} MiB under {base}")
        print(f"  ours: {' '.join(our_argv('ADDR', base))}")
        template = buildctl_build_argv("ADDR", base, "--no-cache", "--progress=plain")
        print(f"  buildctl: {' '.join(template)}")
        print(f"  every measurement on a new buildkitd (lab.fresh_builder()), state under "
              f"{ns.builder_state}\n", flush=True)
        samples: list[Sample] = []
        context = base
        # Run 0 is a warm-up, not counted: a VM disk is often much faster for its first
        # half gigabyte of writes than after, which would favour whoever goes first.
        for run in range(0 if ns.warmup else 1, ns.runs + 1):
            # Alternate who goes first so neither always finds the page cache warmer.
            order = ("ours", "buildctl") if run % 2 else ("buildctl", "ours")
            for side in order:
                # A new directory name as well, so not even the name repeats.
                renamed = tmp / f"ctx-{run}-{side}"
                context.rename(renamed)
                context = renamed
                sample = measure(lab, side, run, context)
                if run:
                    samples.append(sample)
        print()
        rows = [
            [s.run, s.side, s.wall, "?" if s.load_context is None else s.load_context,
             s.cpu, f"{s.peak_rss_mb:.1f}",
             f"{s.transferred / MIB:.1f}", f"{s.transferred / MIB / s.wall:.0f}",
             "yes" if s.transferred >= FULL * size else "NO"]
            for s in samples
        ]
        print_table(
            ["run", "side", "wall s", "load context s", "client cpu s", "peak RSS MiB",
             "context in builder MiB", "MiB/s", "full transfer"],
            rows,
        )
        ours = [s for s in samples if s.side == "ours"]
        theirs = [s for s in samples if s.side == "buildctl"]
        ours_wall = median([s.wall for s in ours])
        theirs_wall = median([s.wall for s in theirs])
        print(f"median wall: ours {ours_wall:.2f}s, buildctl {theirs_wall:.2f}s")
        report_ratio("ours/buildctl wall", ours_wall / theirs_wall, TARGET_RATIO)
        ours_load = [s.load_context for s in ours if s.load_context is not None]
        theirs_load = [s.load_context for s in theirs if s.load_context is not None]
        if ours_load and theirs_load:
            # The transfer alone, as buildkitd timed it (buildctl prints 0.1 s steps).
            print(f"median '{LOAD_CONTEXT}': ours {median(ours_load):.2f}s, "
                  f"buildctl {median(theirs_load):.2f}s, "
                  f"ratio {median(ours_load) / median(theirs_load):.2f}")
        report_ratio(
            "ours peak RSS (wait4 ru_maxrss, max over runs)",
            max(s.peak_rss_mb for s in ours), TARGET_RSS_MB, " MiB",
        )
        if any(s.transferred < FULL * size for s in samples):
            print("WARNING: some run did not hold the whole context in the builder")
        if ns.profile:
            print()
            profile_ours(lab, context, tmp / "ours.prof")
    return 0


if __name__ == "__main__":
    sys.exit(main())
