"""BuildKit's own Dockerfile checks: the Dockerfile frontend's ``frontend.lint`` subrequest.

The frontend parses the Dockerfile given as its ``dockerfile`` input, runs its check
rules over every stage and answers with JSON in the result's metadata, without building
anything: the rules' names, descriptions and documentation links, each warning's
location, and the error that stopped the parse when there is one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from pydantic import BaseModel, Field, ValidationError, field_validator

from buildg_dap.buildkit.build import DOCKERFILE_FRONTEND
from buildg_dap.buildkit.control import CacheEntry
from buildg_dap.buildkit.errors import SolveError
from buildg_dap.buildkit.gateway import Gateway
from buildg_dap.buildkit.llb import LINT_INPUT_PREFIX, dockerfile_input

LINT_REQUEST = "frontend.lint"
_RESULT_KEY = "result.json"


class Position(BaseModel):
    # Go's encoding/json leaves zero values out (omitempty): 0 is the default.
    line: int = 0  # 1-based
    character: int = 0  # 0-based


class SourceRange(BaseModel):
    start: Position = Field(default_factory=Position)
    end: Position = Field(default_factory=Position)


class Location(BaseModel):
    sourceIndex: int = 0
    ranges: list[SourceRange] = Field(default_factory=list)


class LintWarning(BaseModel):
    ruleName: str
    description: str = ""
    url: str = ""
    detail: str = ""
    location: Location | None = None


class BuildError(BaseModel):
    """What stopped the frontend from reading the Dockerfile (a parse error, say)."""

    message: str
    location: Location = Field(default_factory=Location)


class LintResults(BaseModel):
    warnings: list[LintWarning] = Field(default_factory=list)
    buildError: BuildError | None = None

    @field_validator("warnings", mode="before")
    @classmethod
    def _none_is_empty(cls, value: object) -> object:
        return [] if value is None else value  # Go encodes an empty slice as null


async def lint_dockerfile(
    gateway: Gateway,
    frontend_options: Mapping[str, str],
    cache_imports: Sequence[CacheEntry],
    filename: str,
    data: bytes,
) -> LintResults:
    """The checks' findings for ``data``, read as the Dockerfile named ``filename``.

    ``frontend_options`` are a build's (build args, target, check settings); raises
    SolveError when the frontend cannot answer at all (a lost builder, say).
    """
    options = {**frontend_options, "filename": filename, "requestid": LINT_REQUEST}
    inputs = dockerfile_input(filename, data, f"{LINT_INPUT_PREFIX}{filename}")
    result = await gateway.solve_frontend(DOCKERFILE_FRONTEND, options, cache_imports, inputs)
    raw = result.metadata.get(_RESULT_KEY)
    if raw is None:
        raise SolveError(f"the Dockerfile frontend gave no {_RESULT_KEY} for {LINT_REQUEST}")
    try:
        return LintResults.model_validate(json.loads(raw))
    except (ValueError, ValidationError) as exc:
        raise SolveError(f"the Dockerfile frontend's lint result is not readable: {exc}") from None
