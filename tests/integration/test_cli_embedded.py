"""The embedded builder: started on first use, reused, stopped; all under temporary XDG dirs."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from buildg_dap.buildkit import embedded
from tests.integration.cliutil import run_cli, write_context

pytestmark = pytest.mark.integration


def alive(pid: int) -> bool:
    """Running, as opposed to gone or a zombie left for an init that does not reap."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


@pytest.fixture
def xdg() -> Iterator[dict[str, str]]:
    # Short paths under /tmp: the socket path must fit in 107 bytes.
    base = Path(tempfile.mkdtemp(prefix="bgd-xdg-", dir="/tmp"))
    env = {"XDG_DATA_HOME": str(base / "data"), "XDG_RUNTIME_DIR": str(base / "run")}
    builder = embedded.EmbeddedBuilder.locate(env)
    try:
        yield env
    finally:
        # Whatever a failing test left running goes too.
        anyio.run(embedded.stop, builder)
        shutil.rmtree(base, ignore_errors=True)


def test_start_reuse_stop(xdg: dict[str, str], tmp_path: Path) -> None:
    env = {**xdg, "BUILDKIT_HOST": ""}
    builder = embedded.EmbeddedBuilder.locate(xdg)
    done = run_cli("builder", "status", env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"builder:  embedded (state {builder.state_dir})\nrunning:  no\n"

    context = write_context(tmp_path / "ctx", "FROM scratch\nCOPY a /a\n", {"a": "embedded\n"})
    out = tmp_path / "out"
    done = run_cli("build", "--progress", "quiet", "-o", out, context, env=env)
    assert done.returncode == 0, done.stderr
    assert (out / "a").read_text() == "embedded\n"
    pid = int(builder.pid_file.read_text())
    assert builder.socket.is_socket()
    assert builder.log_file.is_file()
    assert alive(pid)
    assert f"--root\0{builder.root}\0".encode() in Path(f"/proc/{pid}/cmdline").read_bytes()

    done = run_cli("build", "--progress", "quiet", "-o", out, context, env=env)
    assert done.returncode == 0, done.stderr
    assert int(builder.pid_file.read_text()) == pid  # reused, not restarted

    done = run_cli("builder", "status", env=env)
    assert done.returncode == 0, done.stderr
    assert f"running:  yes (pid {pid})\n" in done.stdout
    assert f"address:  unix://{builder.socket}\n" in done.stdout
    assert "version:  v0.32.2" in done.stdout

    done = run_cli("builder", "du", env=env)
    assert done.returncode == 0, done.stderr
    assert "Total:" in done.stdout

    done = run_cli("builder", "prune", "--all", env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("removed ")

    done = run_cli("builder", "stop", env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"stopped buildkitd (pid {pid})\n"
    assert not alive(pid)
    assert not builder.pid_file.exists()

    done = run_cli("builder", "stop", env=env)
    assert done.stdout == "embedded builder is not running\n"


def test_stop_refuses_a_foreign_pid(xdg: dict[str, str]) -> None:
    builder = embedded.EmbeddedBuilder.locate(xdg)
    builder.runtime_dir.mkdir(parents=True)
    # Our own pid: alive, but not a buildkitd with our --root.
    builder.pid_file.write_text(f"{os.getpid()}\n")
    done = run_cli("builder", "stop", env={**xdg, "BUILDKIT_HOST": ""})
    assert done.returncode == 0, done.stderr
    assert done.stdout == "embedded builder is not running\n"
    assert alive(os.getpid())


def test_stop_with_addr_is_refused(xdg: dict[str, str]) -> None:
    done = run_cli("builder", "stop", "--addr", "unix:///nowhere.sock", env=xdg)
    assert done.returncode == 1
    assert done.stderr == (
        "error: builder stop only stops the embedded builder; unset --addr/BUILDKIT_HOST\n"
    )
