"""The debug walkthrough: build on one builder exporting its cache to a registry, then
debug on a fresh builder from that cache, stepping into steps that never run there.

Everything runs locally: a registry with a busybox image and two private buildkitds
(the same lab the tests use). With a terminal and --interactive, the debug session is
yours; otherwise the classic script runs (break 5, break 10, continue, exec, ...).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.lab import Lab  # noqa: E402

SCRIPT = ["break 5", "break 10", "continue", "exec cat /hi", "continue",
          "exec cat /hello /hi", "q"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interactive", action="store_true",
                        help="drive the debug session yourself")
    parser.add_argument("context", nargs="?", type=Path, default=ROOT / "examples" / "seed")
    args = parser.parse_args()
    cli = [sys.executable, "-m", "buildg_dap"]
    with Lab() as lab:
        assert lab.registry is not None
        ci_builder, my_builder = lab.builder("ci"), lab.builder("laptop")
        cache = f"{lab.registry.host}/myimagecache:debug"
        print(f"== building {args.context} on the CI builder, exporting cache to {cache}",
              flush=True)
        subprocess.run(
            [*cli, "build", "--addr", ci_builder.address,
             "--cache-to", f"type=registry,ref={cache},mode=max", str(args.context)],
            check=True,
        )
        print(f"\n== debugging on a fresh builder with --cache-from={cache}", flush=True)
        debug = [*cli, "debug", "--addr", my_builder.address, f"--cache-from={cache}",
                 str(args.context)]
        if args.interactive:
            return subprocess.run(debug, check=False).returncode
        script = "".join(line + "\n" for line in SCRIPT)
        return subprocess.run(debug, input=script, text=True, check=False).returncode


if __name__ == "__main__":
    raise SystemExit(main())
