"""DAP requests one by one against the real daemon: stepping, scopes, conditions and log
points, failures, restart, and what the client's errors get back."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.dap.dapclient import DapClient, DapError, dap_session, launch
from tests.dockerfiles import CONFIG_HEAD, TWO_STAGES
from tests.integration.cliutil import write_context
from tests.lab import Buildkitd

CONFIGURED = CONFIG_HEAD + """\
RUN adduser -D tester
USER tester
RUN echo "$GREETING" > /tmp/said
"""

FAILING = """\
FROM busybox
RUN echo partial > /partial && exit 3
RUN echo never
"""

def run(
    builder: Buildkitd, context: Path, lines: list[int],
    body: Callable[[DapClient], Awaitable[None]], **config: Any,
) -> None:  # fmt: skip
    async def main() -> None:
        async with dap_session() as client:
            await launch(
                client, {"contextPath": str(context), "builder": builder.address, **config}, lines
            )
            await body(client)

    anyio.run(main)


def test_copy_line_sees_its_own_env_workdir_and_user(tmp_path: Path, builder_a: Buildkitd) -> None:
    context = write_context(tmp_path / "ctx", CONFIGURED, {"f": "data\n"})

    async def body(client: DapClient) -> None:
        assert (await client.stopped())["reason"] == "breakpoint"
        env = await client.scope("Environment")
        assert env["A"] == "1" and "B" not in env
        assert env["build args"] == "GREETING=hello"
        await client.evaluate("exec env")
        out = client.output("stdout")
        assert "A=1" in out and "B=2" not in out and "GREETING=hello" in out
        mark = len(client.output("stdout"))
        await client.evaluate("exec pwd")
        assert client.output("stdout")[mark:] == "/\n"
        mark = len(client.output("stdout"))
        await client.evaluate("exec id -u")
        assert client.output("stdout")[mark:] == "0\n"
        step = await client.scope("Step")
        assert step["workdir"] == "/" and step["user"] == "root"
        hover = await client.evaluate("$A", context="hover")
        assert hover["result"] == "1"
        with pytest.raises(DapError, match="B is not set at line 4"):
            await client.evaluate("B", context="hover")

    run(builder_a, context, [4], body)


def test_failing_run_stops_with_exception(tmp_path: Path, builder_a: Buildkitd) -> None:
    context = write_context(tmp_path / "ctx", FAILING)

    async def body(client: DapClient) -> None:
        stopped = await client.stopped()
        assert stopped["reason"] == "exception"
        assert "exit code: 3" in stopped["text"]
        assert (await client.top_frame())["line"] == 2
        info = await client.request("exceptionInfo", {"threadId": 1})
        assert info["exceptionId"] == "exit code 3"
        await client.evaluate("exec cat /partial")
        assert client.output("stdout").endswith("partial\n")
        step = await client.scope("Step")
        assert step["status"] == "failed" and step["exit code"] == "3"
        mark = len(client.events)
        await client.request("continue", {"threadId": 1})
        assert await client.ended(after=mark) == 1

    run(builder_a, context, [], body)


def test_stepping_back_and_forth(tmp_path: Path, builder_a: Buildkitd) -> None:
    context = write_context(tmp_path / "ctx", TWO_STAGES)

    async def line_after(client: DapClient, command: str, reason: str) -> int:
        mark = len(client.events)
        await client.request(command, {"threadId": 1})
        assert (await client.stopped(after=mark))["reason"] == reason
        return int((await client.top_frame())["line"])

    async def body(client: DapClient) -> None:
        assert (await client.stopped())["reason"] == "entry"
        frames = (await client.request("stackTrace", {"threadId": 1}))["stackFrames"]
        assert frames[0]["name"].startswith("(entry)")
        locations = await client.request(
            "breakpointLocations", {"source": frames[0]["source"], "line": 1, "endLine": 5}
        )
        assert [b["line"] for b in locations["breakpoints"]] == [1, 2, 4, 5]
        source = await client.request("source", {"source": frames[0]["source"],
                                                 "sourceReference": 0})  # fmt: skip
        assert source["content"] == TWO_STAGES
        completions = await client.request("completions", {"text": "e", "column": 2})
        assert [t["label"] for t in completions["targets"]] == ["exec"]
        first = await line_after(client, "stepIn", "step")
        second = await line_after(client, "stepIn", "step")
        assert first != second
        # stepping back is exact: the earlier stop, its files and all
        assert await line_after(client, "stepBack", "step") == first
        assert await line_after(client, "stepIn", "step") == second
        # stepIn follows the build's order through both stages up to the final RUN
        line = second
        while line != 5:
            line = await line_after(client, "stepIn", "step")
        # step over: the COPY is next in this stage; the stage it copies from is
        # evaluated without stopping in it
        assert await line_after(client, "next", "step") == 6
        changes = await client.scope("Changes")
        assert changes == {"/one": "added (4 bytes)"}
        files = await client.scope("Filesystem")
        assert "one" in files and "two" in files and "bin/" in files
        assert await line_after(client, "stepOut", "step") == 7
        assert await line_after(client, "reverseContinue", "entry") in (1, 4)

    run(builder_a, context, [], body, stopOnEntry=True)


def test_conditions_log_points_and_hit_counts(tmp_path: Path, builder_a: Buildkitd) -> None:
    context = write_context(tmp_path / "ctx", CONFIGURED, {"f": "data\n"})

    async def body(client: DapClient) -> None:
        dockerfile = str(context / "Dockerfile")
        answer = await client.request(
            "setBreakpoints",
            {"source": {"path": dockerfile}, "breakpoints": [
                {"line": 3, "logMessage": "greeting is {GREETING}, A={A}"},
                {"line": 4, "condition": 'TARGETARCH == "no-such-arch"'},
                {"line": 6, "condition": 'A == "1" && B != ""'},
                {"line": 7, "condition": "A =="},
                {"line": 99},
            ]},
        )  # fmt: skip
        verified = [b["verified"] for b in answer["breakpoints"]]
        assert verified == [True, True, True, False, False]
        assert "invalid condition" in answer["breakpoints"][3]["message"]
        assert "beyond the end" in answer["breakpoints"][4]["message"]
        mark = len(client.events)
        await client.request("continue", {"threadId": 1})
        stopped = await client.stopped(after=mark)
        assert stopped["hitBreakpointIds"] == [answer["breakpoints"][2]["id"]]
        assert (await client.top_frame())["line"] == 6
        assert "greeting is hello, A=1\n" in client.output("console")

    run(builder_a, context, [], body, stopOnEntry=True)


def test_restart_keeps_breakpoints_and_survives_a_broken_dockerfile(
    tmp_path: Path, builder_a: Buildkitd
) -> None:
    context = write_context(tmp_path / "ctx", TWO_STAGES)

    async def body(client: DapClient) -> None:
        await client.stopped()
        assert (await client.top_frame())["line"] == 5
        (context / "Dockerfile").write_text("FROM busybox\nNOTANINSTRUCTION x\n")
        with pytest.raises(DapError, match="did not reload"):
            await client.request("restart")
        # the session goes on with the previous program
        assert (await client.top_frame())["line"] == 5
        # a comment pushes the breakpoint's step one line down: the client is told
        changed = TWO_STAGES.replace("echo two", "echo TWO")
        (context / "Dockerfile").write_text(changed.replace("FROM busybox\n", "FROM busybox\n#\n"))
        mark = len(client.events)
        await client.request("restart")
        moved = await client.event("breakpoint", after=mark)
        assert moved["body"]["reason"] == "changed"
        assert moved["body"]["breakpoint"]["line"] == 6
        assert (await client.stopped(after=mark))["reason"] == "breakpoint"
        assert (await client.top_frame())["line"] == 6
        await client.evaluate("exec cat /two")
        assert client.output("stdout").endswith("TWO\n")

    run(builder_a, context, [5], body)


def test_client_errors_get_error_responses(tmp_path: Path, builder_a: Buildkitd) -> None:
    context = write_context(tmp_path / "ctx", TWO_STAGES)

    async def main() -> None:
        async with dap_session() as client:
            with pytest.raises(DapError, match="unknown launch field 'dockerFile'"):
                await client.request("launch", {"contextPath": str(context), "dockerFile": "x"})
            with pytest.raises(DapError, match="'stopOnEntry'"):
                await client.request("launch", {"stopOnEntry": "yes please"})
            with pytest.raises(DapError, match="unsupported request 'frobnicate'"):
                await client.request("frobnicate")
            with pytest.raises(DapError, match="no build launched"):
                await client.request("stackTrace", {"threadId": 1})
            await launch(client, {"contextPath": str(context), "builder": builder_a.address,
                                  "stopOnEntry": True}, [])  # fmt: skip
            await client.stopped()
            with pytest.raises(DapError, match='unknown command "frob"'):
                await client.evaluate("frob nicate")
            with pytest.raises(DapError, match="not stopped at a step yet"):
                await client.evaluate("exec true")
            with pytest.raises(DapError, match="scopes: invalid arguments"):
                await client.request("scopes", {"frameId": "one"})
            with pytest.raises(DapError, match="already runs a build"):
                await client.request("launch", {"contextPath": str(context)})
            await client.request("next", {"threadId": 1})
            await client.event("stopped", lambda b: b["reason"] == "step")
            # runc's own message reaches the console; the process did not run
            failed = await client.evaluate("exec /no/such/binary")
            assert failed["result"] == "exit code 1"
            assert "/no/such/binary" in client.output("stderr")
            assert "no such file or directory" in client.output("stderr")
            # the session goes on after a failed exec
            await client.evaluate("exec true")
            await client.request("disconnect")

    anyio.run(main)
