"""The command line starts without the heavy libraries: a command loads them when it
runs, so ``buildg-dap --help`` and ``buildg-dap CMD --help`` answer at once."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("grpc", "google.protobuf", "pydantic", "httpx", "anyio", "buildg_dap._proto",
         "buildg_dap._dap")  # fmt: skip

# In a new interpreter, so that nothing imported by other tests counts.
_PROBE = """
import json, sys
from buildg_dap import cli
args = sys.argv[1:]
if args:
    try:
        cli.main(args)
    except SystemExit:
        pass
print(json.dumps(sorted(sys.modules)))
"""


def _loaded(*args: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *args], capture_output=True, text=True, check=True
    )
    modules: list[str] = json.loads(done.stdout.splitlines()[-1])
    return [m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY)]


def test_importing_the_cli_loads_no_heavy_library() -> None:
    assert _loaded() == []


@pytest.mark.parametrize(
    "command",
    ["", "build", "debug", "dap", "attach", "builder", "builder status", "builder prune",
     "cache", "cache inspect"],
)  # fmt: skip
def test_help_loads_no_heavy_library(command: str) -> None:
    assert _loaded(*command.split(), "--help") == []
