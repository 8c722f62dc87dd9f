"""The founding walkthrough over DAP: a fresh builder debugs from a registry cache that
another builder exported; cached RUN steps stop and answer exec without running again."""

from __future__ import annotations

import re
from pathlib import Path

import anyio

from tests.dap.dapclient import Message, dap_session, launch, walk_seed
from tests.integration.cliutil import recorded_lines, write_context
from tests.lab import Buildkitd, Registry, buildctl_build

ROOT = Path(__file__).resolve().parents[2]
SEED = (ROOT / "examples" / "seed" / "Dockerfile").read_text()


def test_seed_walkthrough_over_dap(
    tmp_path: Path, builder_a: Buildkitd, fresh_builder: Buildkitd, registry: Registry
) -> None:
    context = write_context(tmp_path / "ctx", SEED)
    cache = f"{registry.host}/cache:dap-seed"
    buildctl_build(builder_a, context, "--export-cache", f"type=registry,ref={cache},mode=max")

    async def walk() -> None:
        async with dap_session() as client:
            answer = await launch(
                client,
                {"contextPath": str(context), "builder": fresh_builder.address,
                 "cacheFrom": [cache]},
                [5, 10],
            )  # fmt: skip
            assert [b["verified"] for b in answer["breakpoints"]] == [True, True]
            assert [b["line"] for b in answer["breakpoints"]] == [5, 10]

            async def at_line_5(first: Message) -> None:
                assert first["hitBreakpointIds"] == [answer["breakpoints"][0]["id"]]
                step = await client.scope("Step")
                assert step["instruction"] == "RUN echo hi > /hi"
                assert step["result"] == f"from imported cache {cache}"

            await walk_seed(client, at_line_5)
            console = client.output("console")
            for step_name in ("[build2 2/2] RUN echo hi > /hi",
                              "[build1 2/2] RUN echo hello > /hello",
                              "[stage-2 4/4] RUN cat /hello /hi"):
                assert re.search(rf"#\d+ {re.escape(step_name)}\n#\d+ CACHED", console), console
            # asking the frontend for each step's configuration is not build progress
            assert "step configuration" not in console
            # only the two execs printed: the cached RUN cat /hello /hi never ran here
            assert client.output("stdout", "stderr") == "hi\nhello\nhi\n"
            # the step record says where each RUN and COPY came from
            recorded = recorded_lines(context)
            assert [recorded[line] for line in (2, 5, 8, 9, 10)] == [("cached", cache)] * 5
            await client.request("disconnect")

    anyio.run(walk)
