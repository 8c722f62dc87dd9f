"""The embedded builder under concurrent commands, after a crash, when hung, and stop's
refusal while it is in use."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from buildg_dap.buildkit import embedded
from buildg_dap.command import BuilderOptions
from tests.integration.cliutil import run_cli
from tests.integration.test_cli_embedded import alive

pytestmark = pytest.mark.integration


@pytest.fixture
def builder(monkeypatch: pytest.MonkeyPatch) -> Iterator[embedded.EmbeddedBuilder]:
    base = Path(tempfile.mkdtemp(prefix="bgd-xdg-", dir="/tmp"))
    env = {"XDG_DATA_HOME": str(base / "data"), "XDG_RUNTIME_DIR": str(base / "run")}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("BUILDKIT_HOST", raising=False)
    located = embedded.EmbeddedBuilder.locate(env)
    try:
        yield located
    finally:
        anyio.run(lambda: embedded.stop(located, force=True))
        shutil.rmtree(base, ignore_errors=True)


def _pid(builder: embedded.EmbeddedBuilder) -> int:
    return int(builder.pid_file.read_text())


def test_concurrent_starts_share_one_daemon(builder: embedded.EmbeddedBuilder) -> None:
    async def both() -> None:
        async with anyio.create_task_group() as tg:
            for _ in range(2):
                tg.start_soon(embedded.ensure_started, builder)

    anyio.run(both)
    pid = _pid(builder)
    assert alive(pid)
    anyio.run(embedded.ensure_started, builder)
    assert _pid(builder) == pid


def test_crashed_daemon_is_restarted(builder: embedded.EmbeddedBuilder) -> None:
    anyio.run(embedded.ensure_started, builder)
    crashed = _pid(builder)
    os.killpg(crashed, signal.SIGKILL)
    anyio.run(embedded._wait_exit, crashed)
    assert builder.socket.exists()  # stale: nobody listens any more
    anyio.run(embedded.ensure_started, builder)
    assert _pid(builder) != crashed
    assert anyio.run(embedded.builder_version, builder.address) == "v0.32.2"


def test_hung_daemon_is_replaced(builder: embedded.EmbeddedBuilder) -> None:
    anyio.run(embedded.ensure_started, builder)
    hung = _pid(builder)
    os.kill(hung, signal.SIGSTOP)
    try:
        anyio.run(embedded.ensure_started, builder)
    finally:
        if alive(hung):
            os.kill(hung, signal.SIGCONT)
    assert not alive(hung)
    assert _pid(builder) != hung


def test_stop_refuses_while_in_use_and_waits_with_force(
    builder: embedded.EmbeddedBuilder,
) -> None:
    env = {key: os.environ[key] for key in ("XDG_DATA_HOME", "XDG_RUNTIME_DIR")}

    async def hold_and_stop() -> tuple[str, str]:
        async with await BuilderOptions(address=None).connect():
            refused = run_cli("builder", "stop", env=env)
            assert refused.returncode == 1
            forced = run_cli("builder", "stop", "--force", env=env)
            assert forced.returncode == 0, forced.stderr
        return refused.stderr, forced.stdout

    refused, forced = anyio.run(hold_and_stop)
    assert refused.startswith("error: the embedded buildkitd (pid ")
    assert refused.endswith(
        "is in use by another buildg-dap command: stop it once that ends, or pass --force\n"
    )
    pid = int(forced.removeprefix("stopped buildkitd (pid ").rstrip(")\n"))
    assert not alive(pid)  # stop returned after the daemon had exited
    assert not builder.socket.exists()
