"""``buildg-dap lsp`` with the editor setups of examples/editors, headless, on the real
daemon: Neovim's built-in LSP client (check-lsp.lua)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.lab import Buildkitd
from tests.lab.service import clean_env

ROOT = Path(__file__).resolve().parents[2]
EDITORS = ROOT / "examples" / "editors"
SERVER = f"{sys.executable} -m buildg_dap lsp"


def _editor_env(tmp_path: Path, builder: Buildkitd) -> dict[str, str]:
    """The builder and this environment's server; the editor's own files under tmp_path."""
    return clean_env() | {
        "BUILDG_DAP_BUILDER": builder.address,
        "BUILDG_DAP_LSP_COMMAND": SERVER,
        "HOME": str(tmp_path / "home"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
    }


def test_neovim_lsp_client(tmp_path: Path, builder_a: Buildkitd) -> None:
    # Missing tools are a broken setup, not a reason to skip.
    nvim = shutil.which("nvim")
    assert nvim is not None, "nvim is not installed: run scripts/setup.sh"
    check = EDITORS / "neovim" / "check-lsp.lua"
    run = subprocess.run(
        [nvim, "--headless", "--clean", "-n", "-c", f"luafile {check}"],
        cwd=tmp_path, env=_editor_env(tmp_path, builder_a),
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    output = f"--- stdout ---\n{run.stdout}\n--- stderr ---\n{run.stderr}"
    assert run.returncode == 0, output
    assert "check-lsp: OK" in run.stdout, output
    assert "needs nvim-dap" in run.stdout, output
