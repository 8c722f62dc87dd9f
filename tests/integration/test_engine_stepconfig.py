"""The configuration in effect at a step (env, workdir, user, shell, build args), as the
Dockerfile frontend computes it, and what ``info`` and ``exec`` show from it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from buildg_dap.debugger.engine import Engine, Stop
from buildg_dap.debugger.inspect import describe
from buildg_dap.debugger.mounts import Where, step_layout
from buildg_dap.debugger.process import ProcessIO, container, run_process
from buildg_dap.debugger.program import Step
from buildg_dap.debugger.stepconfig import StepConfig, step_config
from tests.dockerfiles import CONFIG_HEAD
from tests.integration.cliutil import write_context
from tests.integration.engineutil import open_engine, request_for
from tests.lab import Buildkitd

# The lab's busybox has no adduser applet; a passwd line makes the user exist.
STAGED = CONFIG_HEAD + """\
RUN echo 'tester:x:1234:1234::/work:/bin/sh' >> /etc/passwd
USER tester
RUN true
"""
DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module", autouse=True)
async def one_event_loop() -> AsyncIterator[None]:
    """Keeps anyio's test runner, and so one event loop, for the whole module: grpc.aio
    can still complete a finished test's cancelled calls, which fails on a closed loop."""
    yield


async def stop_at(engine: Engine, line: int) -> Step:
    engine.breakpoints.add(engine.prog, line)
    stop = await engine.continue_()
    assert stop.step is not None and stop.step.line == line, stop
    return stop.step


def current(engine: Engine) -> Stop:
    stop = engine.stop
    assert stop is not None
    return stop


async def exec_out(engine: Engine, *args: str) -> str:
    """Run ``args`` at the current stop as exec does; stdout and stderr together."""
    stop = engine.stop
    assert stop is not None and stop.step is not None
    layout = await step_layout(
        stop.step,
        Where.RESULT,
        config=await step_config(engine, stop.step),
        root_result=stop.result_id,
        resolve=engine.resolve,
    )
    layout.process.args = list(args)
    chunks: list[bytes] = []

    async def write(data: bytes) -> None:
        chunks.append(data)

    gateway = engine.build.gateway
    async with container(gateway, layout.request) as container_id:
        code = await run_process(
            gateway, container_id, layout.process, ProcessIO(stdout=write, stderr=write)
        )
    text = b"".join(chunks).decode()
    assert code == 0, text
    return text


def agrees_with_run(config: StepConfig, step: Step) -> None:
    """A RUN's own exec op is what its command got: the frontend's answer must match."""
    meta = step.node.op.exec.meta
    assert config.env == list(meta.env)
    assert config.workdir == (meta.cwd or "/")
    assert config.user == meta.user
    assert config.shell == list(meta.args[: len(config.shell)])


@pytest.mark.anyio
async def test_exec_and_info_see_the_config_at_each_line(
    tmp_path: Path, builder_a: Buildkitd
) -> None:
    context = write_context(tmp_path / "ctx", STAGED, {"f": "f\n"})
    async with open_engine(builder_a, request_for(context)) as engine:
        step = await stop_at(engine, 1)  # FROM: the image's own env
        config = await step_config(engine, step)
        assert config.env == [DEFAULT_PATH]
        assert (config.workdir, config.user, config.build_args) == ("/", "", {})
        assert config.shell == ["/bin/sh", "-c"]
        assert await exec_out(engine, "sh", "-c", "echo $PATH") == DEFAULT_PATH[5:] + "\n"

        # COPY: the ENV and WORKDIR after it are not in effect yet, the ARG is.
        step = await stop_at(engine, 4)
        config = await step_config(engine, step)
        assert "A=1" in config.env and not any(e.startswith("B=") for e in config.env)
        assert "GREETING=hello" in config.env
        assert config.build_args == {"GREETING": "hello"}
        assert (config.workdir, config.user) == ("/", "")
        env = await exec_out(engine, "env")
        assert "A=1\n" in env and "GREETING=hello\n" in env and "B=" not in env
        assert await exec_out(engine, "pwd") == "/\n"
        assert await exec_out(engine, "id", "-u") == "0\n"
        info = describe(engine, current(engine), config)
        assert (info.env, info.workdir, info.user) == (config.env, "/", "")
        assert info.build_args == {"GREETING": "hello"}
        assert info.shell == ["/bin/sh", "-c"]
        lines = info.lines()
        assert "Shell:       /bin/sh -c" in lines
        assert lines[lines.index("Build args:") + 1] == "  GREETING=hello"

        step = await stop_at(engine, 6)  # WORKDIR
        config = await step_config(engine, step)
        assert config.workdir == "/work" and "B=2" in config.env and config.user == ""
        assert await exec_out(engine, "pwd") == "/work\n"

        step = await stop_at(engine, 7)  # RUN before USER: still root
        config = await step_config(engine, step)
        agrees_with_run(config, step)
        assert config.user == ""

        step = await stop_at(engine, 9)  # RUN after USER
        config = await step_config(engine, step)
        agrees_with_run(config, step)
        assert config.user == "tester" and config.workdir == "/work"
        assert config.build_args == {"GREETING": "hello"}
        assert await exec_out(engine, "id", "-un") == "tester\n"
        info = describe(engine, current(engine), config)
        assert info.user == "tester" and info.env == config.env


MULTI_STAGE = """\
# check=error=true
ARG BASE=busybox
FROM ${BASE} AS a
SHELL ["/bin/sh", "-ec"]
ENV X=1
ARG X=2
ARG Y
RUN <<EOT
echo "$X $Y" > /hi
EOT
ENV Z=3
FROM busybox AS final
COPY --from=a /hi /hi
RUN cat /hi
"""


@pytest.mark.anyio
async def test_every_run_agrees_and_other_stages_and_targets_do_not_leak(
    tmp_path: Path, builder_a: Buildkitd
) -> None:
    context = write_context(tmp_path / "ctx", MULTI_STAGE)
    request = request_for(context, target="final", build_args={"Y": "why"})
    async with open_engine(builder_a, request) as engine:
        runs = [s for s in engine.prog.steps if s.node.kind == "exec"]
        assert [s.line for s in runs] == [8, 14]
        for step in runs:
            agrees_with_run(await step_config(engine, step), step)

        # A heredoc RUN is one step, lines 8-10; what follows it is not in effect.
        heredoc = runs[0]
        assert (heredoc.range.start_line, heredoc.range.end_line) == (8, 10)
        config = await step_config(engine, heredoc)
        assert config.shell == ["/bin/sh", "-ec"]
        assert config.build_args == {"X": "2", "Y": "why"}
        assert not any(e.startswith("Z=") for e in config.env)

        # Stage a's FROM is not the target, and the global ARG is not in its scope.
        (from_a,) = engine.prog.steps_at(3)
        config = await step_config(engine, from_a)
        assert config.env == [DEFAULT_PATH] and config.build_args == {}

        # The final stage starts from a clean config: no SHELL, no build args.
        config = await step_config(engine, runs[1])
        assert config.shell == ["/bin/sh", "-c"] and config.build_args == {}

        await stop_at(engine, 14)
        assert await exec_out(engine, "cat", "/hi") == "2 why\n"


@pytest.mark.anyio
async def test_answers_are_kept_per_program_and_reload_asks_again(
    tmp_path: Path, builder_a: Buildkitd
) -> None:
    context = write_context(tmp_path / "ctx", STAGED, {"f": "f\n"})
    async with open_engine(builder_a, request_for(context)) as engine:
        (copy,) = engine.prog.steps_at(4)
        first = await step_config(engine, copy)
        assert await step_config(engine, copy) is first
        (context / "Dockerfile").write_text(STAGED.replace("ENV A=1", "ENV A=9"))
        await engine.reload()
        (copy,) = engine.prog.steps_at(4)
        again = await step_config(engine, copy)
        assert "A=9" in again.env and "A=1" not in again.env
