"""``buildg-dap cache inspect`` from the command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.integration.debugsession import write_context
from tests.lab import Buildkitd, Registry, buildctl_build


def _inspect(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "buildg_dap", "cache", "inspect", *args],
                          capture_output=True, text=True, timeout=60, check=False)


def test_inspect_table_json_and_errors(
    tmp_path: Path, builder_a: Buildkitd, registry: Registry
) -> None:
    context = write_context(tmp_path / "ctx", "FROM busybox\nRUN echo one > /one\n")
    ref = f"{registry.host}/cache:cli-inspect"
    buildctl_build(builder_a, context, "--export-cache", f"type=registry,ref={ref},mode=max")
    table = _inspect(ref)
    assert table.returncode == 0, table.stderr
    assert table.stdout.startswith(f"cache {ref}@sha256:")
    assert "\nLAYERS\n" in table.stdout and "\nRECORDS\n" in table.stdout
    as_json = _inspect(ref, "--json")
    assert as_json.returncode == 0, as_json.stderr
    report = json.loads(as_json.stdout)
    assert report["summary"]["layers"] == len(report["layers"]) > 0

    image = _inspect(f"{registry.host}/library/busybox:latest")
    assert image.returncode == 1
    assert image.stderr.strip() == (
        f"error: {registry.host}/library/busybox:latest is an image, not a BuildKit build "
        "cache (no application/vnd.buildkit.cacheconfig.v0 config); export one with "
        "--cache-to type=registry,ref=...,mode=max"
    )
    missing = _inspect(f"{registry.host}/nothing:here")
    assert missing.returncode == 1
    assert missing.stderr.strip() == (
        f"error: cache {registry.host}/nothing:here not found (manifest unknown)"
    )
