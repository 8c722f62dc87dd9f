"""The generated protobuf code matches protos/: regenerating changes nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_generated_code_is_fresh() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_protos.py"), "--check"],
        capture_output=True, text=True, check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_check_notices_a_stale_file(tmp_path: Path) -> None:
    # Same script against a copy with one generated file altered must fail.
    copy = tmp_path / "repo"
    copy.mkdir()
    for part in ("scripts", "protos", "src"):
        subprocess.run(["cp", "-r", str(ROOT / part), str(copy / part)], check=True)
    stale = copy / "src" / "buildg_dap" / "_proto" / "buildkit" / "ops_pb2.py"
    stale.write_text(stale.read_text() + "\n# edited\n")
    done = subprocess.run(
        [sys.executable, str(copy / "scripts" / "gen_protos.py"), "--check"],
        capture_output=True, text=True, check=False,
    )
    assert done.returncode == 1
    assert "buildkit/ops_pb2.py" in done.stdout
