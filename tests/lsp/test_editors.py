"""``buildg-dap lsp`` with the editor setups of examples/editors, headless, on the real
daemon: Neovim's built-in LSP client (check-lsp.lua), Emacs's lsp-mode (check-lsp.el, with
the lenses carried out by dap-mode, and without it) and eglot (check-eglot.el); and the
adapter with Emacs's dap-mode (check.el)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.lab import Buildkitd
from tests.lab.service import clean_env

ROOT = Path(__file__).resolve().parents[2]
EDITORS = ROOT / "examples" / "editors"
SERVER = f"{sys.executable} -m buildg_dap lsp"
ADAPTER = f"{sys.executable} -m buildg_dap dap"


def _editor_env(tmp_path: Path, builder: Buildkitd) -> dict[str, str]:
    """The builder and this environment's server; the editor's own files under tmp_path."""
    (tmp_path / "home").mkdir(exist_ok=True)
    return clean_env() | {
        "BUILDG_DAP_BUILDER": builder.address,
        "BUILDG_DAP_LSP_COMMAND": SERVER,
        "BUILDG_DAP_COMMAND": ADAPTER,
        "HOME": str(tmp_path / "home"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
    }


def _run(argv: list[str], tmp_path: Path, env: dict[str, str]) -> str:
    """Runs a check; its whole output, which must end in success."""
    # Missing tools are a broken setup, not a reason to skip.
    assert shutil.which(argv[0]), f"{argv[0]} is not installed: run scripts/setup.sh"
    run = subprocess.run(
        argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=400,
    )  # fmt: skip
    output = f"--- stdout ---\n{run.stdout}\n--- stderr ---\n{run.stderr}"
    assert run.returncode == 0, output
    return output


def test_neovim_lsp_client(tmp_path: Path, builder_a: Buildkitd) -> None:
    check = EDITORS / "neovim" / "check-lsp.lua"
    output = _run(
        ["nvim", "--headless", "--clean", "-n", "-c", f"luafile {check}"],
        tmp_path, _editor_env(tmp_path, builder_a),
    )  # fmt: skip
    assert "check-lsp: OK" in output, output
    assert 'buildg-dap: "Debug to here" needs nvim-dap' in output, output


@pytest.mark.parametrize("dap_mode", [True, False], ids=["dap-mode", "without-dap-mode"])
def test_emacs_lsp_mode(tmp_path: Path, builder_a: Buildkitd, dap_mode: bool) -> None:
    env = _editor_env(tmp_path, builder_a)
    if not dap_mode:
        env["BUILDG_DAP_WITHOUT_DAP_MODE"] = "1"
    check = EDITORS / "emacs" / "check-lsp.el"
    output = _run(["emacs", "--batch", "-l", str(check)], tmp_path, env)
    assert "check-lsp: OK" in output, output
    if dap_mode:
        assert "stopped at [base 2/2] RUN" in output, output
        assert "the lens breakpoint removed" in output, output
        assert "target base, build ended" in output, output
    else:
        assert 'buildg-dap: "Debug to here" needs dap-mode' in output, output


def test_emacs_eglot(tmp_path: Path, builder_a: Buildkitd) -> None:
    check = EDITORS / "emacs" / "check-eglot.el"
    env = _editor_env(tmp_path, builder_a)
    output = _run(["emacs", "--batch", "-l", str(check)], tmp_path, env)
    assert "check-eglot: OK" in output, output


def test_emacs_dap_mode_debugs_the_seed(tmp_path: Path, builder_a: Buildkitd) -> None:
    """check.el: dap-mode and buildg-dap.el, the seed walkthrough's stop at line 5."""
    env = _editor_env(tmp_path, builder_a)
    dockerfile = tmp_path / "seed" / "Dockerfile"
    dockerfile.parent.mkdir()
    shutil.copy(ROOT / "examples" / "seed" / "Dockerfile", dockerfile)
    env["BUILDG_DAP_DOCKERFILE"] = str(dockerfile)
    output = _run(["emacs", "--batch", "-l", str(EDITORS / "emacs" / "check.el")], tmp_path, env)
    assert "stopped at [build2 2/2] RUN echo hi > /hi line 5" in output, output
    assert "exec cat /hi: exit code 0" in output, output
    assert "build ended: OK" in output, output
