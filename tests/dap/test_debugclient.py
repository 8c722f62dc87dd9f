"""The adapter driven by VS Code's DebugClient (@vscode/debugadapter-testsupport) under
node's test runner: the scenarios are in tests/dap/js/; this prepares the contexts, a
registry cache exported by another builder and a fresh builder, and runs them."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.integration.cliutil import write_context
from tests.lab import Buildkitd, Registry, buildctl_build
from tests.lab.service import clean_env

ROOT = Path(__file__).resolve().parents[2]
JS = ROOT / "tests" / "dap" / "js"
SEED = (ROOT / "examples" / "seed" / "Dockerfile").read_text()
FAILING = """\
FROM busybox
RUN echo before > /before
RUN sh -c 'echo partial > /p; exit 3'
"""


def _tails(folder: Path, lines: int = 80) -> str:
    parts = []
    for log in sorted(folder.glob("*.log")):
        text = log.read_text(errors="replace").splitlines()[-lines:]
        parts.append(f"--- {log.name} (last {lines} lines) ---\n" + "\n".join(text))
    return "\n".join(parts)


def test_debugclient_scenarios(
    tmp_path: Path, builder_a: Buildkitd, fresh_builder: Buildkitd, registry: Registry
) -> None:
    # Missing tools are a broken setup, not a reason to skip.
    node = shutil.which("node")
    assert node is not None, "node is not installed: run scripts/setup.sh"
    assert (JS / "node_modules" / "@vscode" / "debugadapter-testsupport").is_dir(), (
        "the JS test dependencies are not installed: run scripts/setup.sh"
    )
    context = write_context(tmp_path / "ctx", SEED)
    failing = write_context(tmp_path / "fail", FAILING)
    cache = f"{registry.host}/cache:dap-debugclient"
    buildctl_build(builder_a, context, "--export-cache", f"type=registry,ref={cache},mode=max")
    traces = tmp_path / "traces"
    traces.mkdir()
    env = clean_env() | {
        "PYTHON": sys.executable,
        "BUILDG_DAP_BUILDER": fresh_builder.address,
        "BUILDG_DAP_CACHE": cache,
        "BUILDG_DAP_CONTEXT": str(context),
        "BUILDG_DAP_FAIL_CONTEXT": str(failing),
        "BUILDG_DAP_TRACE_DIR": str(traces),
    }
    run = subprocess.run(
        [node, "--test", "--test-reporter=spec", str(JS)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200,
    )  # fmt: skip
    report = f"{run.stdout}\n{run.stderr}"
    print(report)  # pytest shows it with -s, or on failure
    assert run.returncode == 0, f"node --test exited {run.returncode}\n{report}\n{_tails(traces)}"
