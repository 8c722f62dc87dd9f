"""With no builder given, the adapter starts (or reuses) the embedded buildkitd, and in
stdio mode not a byte of the builder's output reaches the protocol stream."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from buildg_dap.buildkit import embedded
from tests.dap.dapclient import dap_session, launch
from tests.integration.cliutil import write_context


@pytest.fixture
def xdg() -> Iterator[dict[str, str]]:
    # Short paths under /tmp: the socket path must fit in 107 bytes.
    base = Path(tempfile.mkdtemp(prefix="bgd-xdg-", dir="/tmp"))
    env = {"XDG_DATA_HOME": str(base / "data"), "XDG_RUNTIME_DIR": str(base / "run"),
           "BUILDKIT_HOST": ""}  # fmt: skip
    try:
        yield env
    finally:
        anyio.run(embedded.stop, embedded.EmbeddedBuilder.locate(env))
        shutil.rmtree(base, ignore_errors=True)


def test_dap_on_the_embedded_builder(tmp_path: Path, xdg: dict[str, str]) -> None:
    context = write_context(tmp_path / "ctx", "FROM scratch\nCOPY a /a\n", {"a": "embedded\n"})

    async def main() -> None:
        async with dap_session(env=xdg) as client:
            await launch(client, {"contextPath": str(context)}, [2])
            assert (await client.stopped(within=180))["reason"] == "breakpoint"
            files = await client.scope("Filesystem")
            assert files == {"a": "-rw-r--r-- 9 bytes"}
            mark = len(client.events)
            await client.request("continue", {"threadId": 1})
            assert (await client.event("exited", after=mark))["body"]["exitCode"] == 0
            await client.request("disconnect")
        # every byte on stdout was a well-formed protocol message
        assert client.failure is None

    anyio.run(main)
    assert embedded.EmbeddedBuilder.locate(xdg).state_dir.is_dir()
