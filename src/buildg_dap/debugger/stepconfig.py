"""The configuration in effect at a step: env, workdir, user, shell and build args.

Only a RUN's exec op carries an environment. FROM, COPY, ENV, WORKDIR, ... steps have
none of their own, and working it out here would mean re-implementing the Dockerfile
frontend's dispatch (base image config, global and stage ARG scoping, build-arg
overrides, SHELL, ONBUILD, escapes) and drifting from it. So we ask the frontend: the
Dockerfile cut after the step's last line, plus a synthetic ``RUN true``, converted to
LLB without evaluating anything. That RUN's exec op holds the env (build args
included), cwd and user a command at that line gets, and its args begin with the shell;
the image config in the result metadata holds the env without build args, so the
difference is the build args in effect.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from weakref import WeakKeyDictionary

from pydantic import BaseModel, ValidationError

from buildg_dap.buildkit.build import DOCKERFILE_FRONTEND
from buildg_dap.buildkit.control import CacheEntry
from buildg_dap.buildkit.errors import SolveError
from buildg_dap.buildkit.gateway import Gateway
from buildg_dap.buildkit.llb import CONFIG_INPUT_PREFIX, Graph, dockerfile_input
from buildg_dap.debugger.errors import EngineError
from buildg_dap.debugger.program import Program, Step

if TYPE_CHECKING:
    from buildg_dap.debugger.engine import Engine

# Single-platform results carry the image config under this metadata key.
IMAGE_CONFIG_KEY = "containerimage.config"
# The frontend's lint setting; it overrides the Dockerfile's ``# check=`` directive.
_CHECK_OPTION = "build-arg:BUILDKIT_DOCKERFILE_CHECK"
_MULTI_PLATFORM_OPTIONS = ("build-arg:BUILDKIT_MULTI_PLATFORM", "multi-platform")
_PROBE = "true"
# The frontend looks its base images up again on every call, under this name.
_LOOKUP_VERTEX = re.compile(r"^\[(\S+ )?internal\] load metadata for ")


@dataclass(frozen=True)
class StepConfig:
    """What a process started at a step sees, as the Dockerfile frontend computes it."""

    env: list[str]  # the process environment: image env, ENV and build args in effect
    workdir: str
    user: str  # empty means the image default (root)
    shell: list[str]  # what a shell-form RUN at this line would be prefixed with
    build_args: dict[str, str]  # the ARG values in effect (also present in ``env``)


class _ImageConfig(BaseModel):
    # Only the env is read: cwd, user and shell come from the probe itself, which is
    # what a process gets (an unset WorkingDir in the config is "/" there, for one).
    Env: list[str] | None = None


class _Image(BaseModel):
    config: _ImageConfig = _ImageConfig()


# Per program (a reload makes a new one), per step end line.
_memo: WeakKeyDictionary[Program, dict[int, StepConfig]] = WeakKeyDictionary()


async def step_config(engine: Engine, step: Step) -> StepConfig:
    """The configuration in effect at ``step``'s line (after the step has run)."""
    program = engine.prog
    known = _memo.setdefault(program, {})
    end = step.range.end_line
    if end not in known:
        known[end] = await _ask_frontend(engine, program, end)
    return known[end]


def is_probe_vertex(name: str) -> bool:
    """Whether a progress vertex is a step_config call's bookkeeping rather than the
    build's own work; front ends showing progress during a session leave them out."""
    return name.startswith(CONFIG_INPUT_PREFIX) or bool(_LOOKUP_VERTEX.match(name))


def cut_dockerfile(data: bytes, end_line: int, between: bytes = b"") -> bytes:
    """Lines 1..``end_line``, then ``between`` (whole lines), then the probe RUN."""
    # The frontend's parser splits on "\n" (a "\r" before it is trimmed), so do we.
    kept = data.split(b"\n")[:end_line]
    return b"\n".join(kept) + b"\n" + between + f"RUN {_PROBE}\n".encode()


def env_map(env: Sequence[str]) -> dict[str, str]:
    """``KEY=VALUE`` items by key (an item without ``=`` is an empty value)."""
    pairs = (item.split("=", 1) for item in env)
    return {pair[0]: pair[1] if len(pair) > 1 else "" for pair in pairs}


async def _ask_frontend(engine: Engine, program: Program, end_line: int) -> StepConfig:
    return await probe_config(
        engine.build.gateway,
        engine.request.frontend_options(),
        engine.request.cache_imports,
        cut_dockerfile(program.source.data, end_line),
        f"lines 1-{end_line}",
    )


async def probe_config(
    gateway: Gateway,
    frontend_options: Mapping[str, str],
    cache_imports: Sequence[CacheEntry],
    cut: bytes,
    where: str,
) -> StepConfig:
    """The configuration the probe RUN ending ``cut`` gets (a Dockerfile made by
    :func:`cut_dockerfile`, or one ending the same way); ``where`` names the place in
    errors and in the build's progress. Raises EngineError."""
    options = dict(frontend_options)
    filename = options["filename"]
    # The cut file's last stage is the step's own; a target would select another one.
    options.pop("target", None)
    # The probe reads one result and its one image config; these ask for a map per platform.
    for key in _MULTI_PLATFORM_OPTIONS:
        options.pop(key, None)
    # Warnings were shown for the whole file already; the cut must not repeat them
    # (nor fail on them with check=error=true). A user's own setting is kept.
    options.setdefault(_CHECK_OPTION, "skip=all")
    inputs = dockerfile_input(filename, cut, f"{CONFIG_INPUT_PREFIX}{filename} {where}")
    try:
        result = await gateway.solve_frontend(DOCKERFILE_FRONTEND, options, cache_imports, inputs)
    except SolveError as exc:
        raise EngineError(f"cannot read the configuration at {where}: {exc.message}") from None
    if result.WhichOneof("result") != "ref":
        raise EngineError("the frontend returned no single result for the step's configuration")
    graph = Graph(getattr(result.ref, "def"))
    head = graph.result
    probe = graph.nodes.get(head.digest) if head is not None else None
    if probe is None or probe.kind != "exec" or list(probe.op.exec.meta.args[-1:]) != [_PROBE]:
        raise EngineError(f"the frontend's LLB for {where} does not end with the probe")
    try:
        image = _Image.model_validate(json.loads(result.metadata[IMAGE_CONFIG_KEY]))
    except (KeyError, ValueError, ValidationError) as exc:
        raise EngineError(f"the frontend returned no usable image config: {exc}") from None
    meta = probe.op.exec.meta
    env = list(meta.env)
    image_env = env_map(image.config.Env or [])
    # ARG values go into the state's env but not into the image config.
    build_args = {
        key: value for key, value in env_map(env).items() if image_env.get(key) != value
    }
    return StepConfig(
        env=env,
        workdir=meta.cwd or "/",
        user=meta.user,
        shell=list(meta.args[:-1]),
        build_args=build_args,
    )
