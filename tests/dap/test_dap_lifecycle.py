"""The adapter's life around the build: the client vanishing mid-exec or mid-build, the
builder dying, pausing a running build, and the TCP transport with a trace log."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import anyio
import pytest

from buildg_dap.dap.wire import wrap_stream
from tests.dap.dapclient import DapClient, dap_session, launch
from tests.integration.cliutil import recorded_lines, write_context
from tests.integration.processes import runc_containers, sleeping, wait_for
from tests.lab import Buildkitd
from tests.lab.service import clean_env

SLEEPER = """\
FROM busybox
RUN echo ready > /ready
RUN sleep {marker}
"""

PARALLEL = """\
FROM busybox AS quick
RUN echo quick > /quick

FROM busybox AS slow
RUN sleep {marker}

FROM busybox
COPY --from=quick /quick /quick
COPY --from=slow /etc/hostname /slow
"""


async def _vanish(client: DapClient) -> float:
    """Close the client's end as a crashed editor would; how long the adapter took to
    exit."""
    started = time.monotonic()
    assert client.process.stdin is not None
    await client.process.stdin.aclose()
    with anyio.fail_after(5):
        await client.process.wait()
    return time.monotonic() - started


async def _stop_before_the_sleep(client: DapClient, context: Path, builder: Buildkitd) -> None:
    """Launch SLEEPER with a breakpoint on line 2 and wait for that stop."""
    await launch(client, {"contextPath": str(context), "builder": builder.address}, [2])
    await client.stopped()


async def _until_sleeping(marker: str, what: str) -> None:
    """Wait, off the event loop, until the build's ``sleep {marker}`` runs."""
    await anyio.to_thread.run_sync(lambda: wait_for(lambda: sleeping(marker), what, 120))


@pytest.mark.parametrize("where", ["exec", "build"])
def test_client_vanishing_releases_everything(
    tmp_path: Path, fresh_builder: Buildkitd, where: str
) -> None:
    marker = str(4000 + os.getpid() % 1000 + (0 if where == "exec" else 1))
    context = write_context(tmp_path / "ctx", SLEEPER.format(marker=marker))

    async def main() -> None:
        async with dap_session() as client:
            await _stop_before_the_sleep(client, context, fresh_builder)
            if where == "exec":
                await client.send("evaluate", {"expression": f"exec sleep {marker}",
                                               "context": "repl"})  # fmt: skip
            else:
                await client.send("continue", {"threadId": 1})
            await _until_sleeping(marker, "the sleep to start")
            assert runc_containers(fresh_builder)
            took = await _vanish(client)
            assert took < 5

    anyio.run(main)
    wait_for(lambda: not sleeping(marker), "the sleep to be gone", 30)
    wait_for(lambda: not runc_containers(fresh_builder), "runc containers to be gone", 30)
    # the session's step record: what completed before the client left
    assert recorded_lines(context) == {1: ("executed", ""), 2: ("executed", "")}


def test_losing_the_builder_ends_the_session(tmp_path: Path, fresh_builder: Buildkitd) -> None:
    marker = str(5000 + os.getpid() % 1000)
    context = write_context(tmp_path / "ctx", SLEEPER.format(marker=marker))

    async def main() -> None:
        async with dap_session() as client:
            await _stop_before_the_sleep(client, context, fresh_builder)
            mark = len(client.events)
            await client.request("continue", {"threadId": 1})
            await _until_sleeping(marker, "the sleep to start")
            await anyio.to_thread.run_sync(fresh_builder.crash)
            await client.event("terminated", after=mark, within=60)
            said = client.output("important")
            assert f"lost the connection to buildkitd at {fresh_builder.address}" in said
            assert not [e for e in client.events[mark:] if e["event"] == "stopped"]
            await client.request("disconnect")
            with anyio.fail_after(5):
                await client.process.wait()

    anyio.run(main)


def test_pause_stops_at_the_latest_evaluated_step(
    tmp_path: Path, fresh_builder: Buildkitd
) -> None:
    marker = str(6000 + os.getpid() % 1000)
    context = write_context(tmp_path / "ctx", PARALLEL.format(marker=marker))

    async def main() -> None:
        async with dap_session() as client:
            await launch(client, {"contextPath": str(context),
                                  "builder": fresh_builder.address}, [])  # fmt: skip
            # both stages run at once: the slow one is running while the quick one is done
            await _until_sleeping(marker, "the slow stage to run")
            await client.event(
                "output",
                lambda b: bool(re.search(r"\[quick 2/2\] RUN echo quick[^#]*#\d+ DONE",
                                         client.output("console"))),
            )  # fmt: skip
            mark = len(client.events)
            started = time.monotonic()
            await client.request("pause", {"threadId": 1})
            stopped = await client.stopped(after=mark, within=30)
            assert time.monotonic() - started < 10
            assert stopped["reason"] == "pause"
            # the build's order: the final stage's FROM, the quick stage, the COPY from
            # it, then the slow stage's FROM: the last step evaluated before its RUN
            assert (await client.top_frame())["line"] == 4
            await client.evaluate("exec echo paused")
            assert client.output("stdout").endswith("paused\n")
            await client.request("disconnect")

    anyio.run(main)
    wait_for(lambda: not sleeping(marker), "the slow stage to be cancelled", 30)


def test_tcp_transport_and_trace_log(tmp_path: Path) -> None:
    log = tmp_path / "trace.log"
    adapter = subprocess.Popen(
        [sys.executable, "-m", "buildg_dap", "dap", "--listen", "0", "--log", str(log)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clean_env(),
    )  # fmt: skip
    try:
        assert adapter.stderr is not None
        line = adapter.stderr.readline()
        match = re.match(r"listening on 127\.0\.0\.1:(\d+)$", line.strip())
        assert match, line

        async def talk() -> None:
            async with await anyio.connect_tcp("127.0.0.1", int(match.group(1))) as stream:
                reader, writer = wrap_stream(stream)
                await writer.write({"seq": 1, "type": "request", "command": "initialize",
                                    "arguments": {"adapterID": "x"}})  # fmt: skip
                answer = await reader.read()
                assert answer is not None and answer["success"] is True
                body = answer["body"]
                assert isinstance(body, dict) and body["supportsStepBack"] is True
                await writer.write({"seq": 2, "type": "request", "command": "disconnect"})
                assert (await reader.read() or {}).get("command") == "disconnect"

        anyio.run(talk)
        assert adapter.wait(timeout=10) == 0
        assert adapter.stdout is not None and adapter.stdout.read() == ""
        trace = log.read_text()
        assert '<- {"seq": 1, "type": "request", "command": "initialize"' in trace
        assert '"supportsStepBack": true' in trace
    finally:
        if adapter.poll() is None:
            adapter.kill()
            adapter.wait()


def test_listen_address_is_checked() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "buildg_dap", "dap", "--listen", "host:port"],
        capture_output=True, text=True, env=clean_env(), timeout=30,
    )  # fmt: skip
    assert done.returncode == 2
    assert "--listen 'host:port': give PORT or HOST:PORT" in done.stderr
