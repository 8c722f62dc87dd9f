"""A build for several platforms under DAP, on the real daemon: one thread per platform,
breakpoints in each, per-thread moves, and one end for the whole build.

The lab's busybox is a single linux/amd64 image. BuildKit builds it for linux/arm64
anyway (with an InvalidBaseImagePlatform warning), and its RUN steps run here because
the binaries inside are amd64: so both platforms stop, each with its own TARGETARCH.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio

from buildg_dap.buildkit.connection import Address, connect
from buildg_dap.buildkit.control import worker_platforms
from buildg_dap.debugger.platforms import can_run
from tests.dap.dapclient import DapClient, dap_session, launch
from tests.integration.cliutil import recorded_lines, write_context
from tests.lab import Buildkitd, Registry

ARCH = """\
FROM busybox
ARG TARGETARCH
RUN echo $TARGETARCH > /arch
"""
PLATFORMS = ["linux/amd64", "linux/arm64"]

# linux/arm64 takes its base from an image that is not there: its program does not load.
PER_PLATFORM_BASE = """\
FROM busybox AS base-amd64
FROM {registry}/library/nothing-here AS base-arm64
FROM base-$TARGETARCH
ARG TARGETARCH
RUN echo $TARGETARCH > /arch
"""


def _runs_arm64(builder: Buildkitd) -> bool:
    async def ask() -> list[str]:
        async with await connect(Address.parse(builder.address)) as conn:
            return await worker_platforms(conn)

    return can_run("linux/arm64", anyio.run(ask))


async def _launch(client: DapClient, context: Path, builder: Buildkitd,
                  breakpoints: list[dict[str, Any]]) -> list[dict[str, Any]]:  # fmt: skip
    seq = await client.send(
        "launch",
        {"contextPath": str(context), "builder": builder.address, "platform": PLATFORMS},
    )
    await client.event("initialized", within=180)
    answer = await client.request(
        "setBreakpoints",
        {"source": {"path": str(context / "Dockerfile")}, "breakpoints": breakpoints},
    )
    await client.request("configurationDone")
    response = await client.response(seq)
    assert response["success"], response
    return list(answer["breakpoints"])


async def _stopped(client: DapClient, count: int) -> dict[int, dict[str, Any]]:
    """The first ``count`` stops, by thread."""
    with anyio.fail_after(120):
        while True:
            stops = [e["body"] for e in client.events if e["event"] == "stopped"]
            if len(stops) >= count:
                return {s["threadId"]: s for s in stops[:count]}
            await client.event("stopped", after=len(client.events) - 1)
            await anyio.sleep(0.05)


async def _top(client: DapClient, thread: int) -> dict[str, Any]:
    frames = (await client.request("stackTrace", {"threadId": thread}))["stackFrames"]
    return dict(frames[0])


async def _exec(client: DapClient, frame: int, command: str) -> str:
    mark = len(client.output("stdout"))
    await client.request("evaluate", {"expression": f"exec {command}", "context": "repl",
                                      "frameId": frame})  # fmt: skip
    return client.output("stdout")[mark:]


def _count(client: DapClient, name: str) -> int:
    return sum(1 for e in client.events if e["event"] == name)


def test_each_platform_is_a_thread_that_stops_at_the_breakpoint(
    tmp_path: Path, builder_a: Buildkitd
) -> None:
    context = write_context(tmp_path / "ctx", ARCH)
    arm64_runs = _runs_arm64(builder_a)

    async def main() -> None:
        async with dap_session() as client:
            answer = await _launch(client, context, builder_a, [{"line": 3}])
            assert len(answer) == 1 and answer[0]["verified"]
            stops = await _stopped(client, 2)
            assert set(stops) == {1, 2}
            for stop in stops.values():
                assert stop["reason"] == "breakpoint"
                assert stop["hitBreakpointIds"] == [answer[0]["id"]]
                assert stop["allThreadsStopped"] is False
            threads = (await client.request("threads"))["threads"]
            names = {t["id"]: t["name"] for t in threads}
            assert names[1] == "build (linux/amd64)"
            assert names[2].startswith("build (linux/arm64)")
            assert ("cannot run linux/arm64 programs here" in names[2]) is not arm64_runs
            important = client.output("important")
            assert ("linux/arm64: this builder cannot run" in important) is not arm64_runs

            amd64, arm64 = await _top(client, 1), await _top(client, 2)
            assert amd64["line"] == arm64["line"] == 3
            assert amd64["id"] != arm64["id"]
            assert await _exec(client, amd64["id"], "cat /arch") == "amd64\n"
            assert await _exec(client, arm64["id"], "cat /arch") == "arm64\n"
            # Variable references are the thread's own too.
            refs = []
            for frame in (amd64, arm64):
                scopes = (await client.request("scopes", {"frameId": frame["id"]}))["scopes"]
                refs += [s["variablesReference"] for s in scopes]
            assert len(set(refs)) == len(refs)
            # Each platform's build output is led by its platform.
            assert "[linux/arm64] " in client.output("console")

            mark = len(client.events)
            continued = await client.request("continue", {"threadId": 1})
            assert continued["allThreadsContinued"] is False
            await client.event("thread", lambda b: b == {"reason": "exited", "threadId": 1},
                               after=mark)  # fmt: skip
            assert _count(client, "exited") == 0
            # The other thread is still stopped where it was.
            threads = (await client.request("threads"))["threads"]
            assert [t["id"] for t in threads] == [2]
            assert await _exec(client, arm64["id"], "cat /arch") == "arm64\n"

            await client.request("continue", {"threadId": 2})
            assert await client.ended(after=mark) == 0
            await anyio.sleep(0.5)
            assert _count(client, "exited") == _count(client, "terminated") == 1
            # one step record for both platforms, a line each
            assert sorted(recorded_lines(context)) == [1, 3]
            await client.request("disconnect")

    anyio.run(main)


def test_a_condition_stops_only_the_platform_it_holds_for(
    tmp_path: Path, builder_a: Buildkitd
) -> None:
    context = write_context(tmp_path / "ctx", ARCH)

    async def main() -> None:
        async with dap_session() as client:
            answer = await _launch(
                client, context, builder_a, [{"line": 3, "condition": 'TARGETARCH == "amd64"'}]
            )
            assert answer[0]["verified"]
            # linux/arm64 runs through to its end; linux/amd64 stops.
            await client.event("thread", lambda b: b == {"reason": "exited", "threadId": 2})
            assert "linux/arm64: build finished" in client.output("console")
            stops = await _stopped(client, 1)
            assert list(stops) == [1]
            assert (await _top(client, 1))["line"] == 3
            assert _count(client, "stopped") == 1

            mark = len(client.events)
            await client.request("continue", {"threadId": 1})
            assert await client.ended(after=mark) == 0
            assert _count(client, "stopped") == 1
            await client.request("disconnect")

    anyio.run(main)


def test_a_platform_whose_program_does_not_load_stops_its_own_thread(
    tmp_path: Path, builder_a: Buildkitd, registry: Registry
) -> None:
    context = write_context(tmp_path / "ctx", PER_PLATFORM_BASE.format(registry=registry.host))

    async def main() -> None:
        async with dap_session() as client:
            await _launch(client, context, builder_a, [{"line": 5}])
            stops = await _stopped(client, 2)
            assert stops[1]["reason"] == "breakpoint"
            failed = stops[2]
            assert failed["reason"] == "exception"
            assert "nothing-here" in failed["text"]
            top = await _top(client, 2)
            assert top["name"].startswith("(did not load)") and top["line"] == 2
            info = await client.request("exceptionInfo", {"threadId": 2})
            assert "nothing-here" in info["description"]
            names = [t["name"] for t in (await client.request("threads"))["threads"]]
            assert len(names) == 2
            # The platform that loaded is debugged as usual.
            assert await _exec(client, (await _top(client, 1))["id"], "cat /arch") == "amd64\n"

            mark = len(client.events)
            await client.request("continue", {"threadId": 2})
            await client.event("thread", lambda b: b == {"reason": "exited", "threadId": 2},
                               after=mark)  # fmt: skip
            assert "linux/arm64: build failed" in client.output("stderr")
            await client.request("continue", {"threadId": 1})
            assert await client.ended(after=mark) == 1
            assert _count(client, "exited") == 1
            await client.request("disconnect")

    anyio.run(main)


def test_a_frontend_result_per_platform_is_debugged_as_that_platforms_program(
    tmp_path: Path, builder_a: Buildkitd
) -> None:
    # BUILDKIT_MULTI_PLATFORM makes the frontend answer with a map of results per
    # platform even for one platform.
    context = write_context(tmp_path / "ctx", ARCH)

    async def main() -> None:
        async with dap_session() as client:
            await launch(
                client,
                {"contextPath": str(context), "builder": builder_a.address,
                 "platform": "linux/amd64", "buildArgs": {"BUILDKIT_MULTI_PLATFORM": "1"}},
                [3],
            )  # fmt: skip
            assert (await client.stopped())["reason"] == "breakpoint"
            assert (await client.scope("Environment"))["build args"] == "TARGETARCH=amd64"
            await client.evaluate("exec cat /arch")
            assert client.output("stdout").endswith("amd64\n")
            mark = len(client.events)
            await client.request("continue", {"threadId": 1})
            assert (await client.event("exited", after=mark))["body"]["exitCode"] == 0

    anyio.run(main)
