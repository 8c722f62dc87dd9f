"""The ``launch`` request's arguments, validated, and the build command they describe.

Field names follow Docker's own Dockerfile debugger (``dockerfile``, ``contextPath``,
``target``, ``stopOnEntry``) so a configuration moves between the
two. Unknown fields are refused with the list of what is allowed; fields every client
adds to any configuration (``type``, ``name``, ``__sessionId``, …) are accepted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from buildg_dap.buildkit.connection import Address, BuilderError, TLSConfig, address_from_env
from buildg_dap.buildkit.options import OptionError
from buildg_dap.buildkit.session.secrets import SecretSpecError
from buildg_dap.buildkit.session.ssh import SSHSpecError
from buildg_dap.command import BuildCommand, BuilderOptions
from buildg_dap.dockerauth.config import ConfigError

# What editors put into every debug configuration, whatever its type.
_GENERIC = frozenset(
    {
        "type", "request", "name", "noDebug", "preLaunchTask", "postDebugTask",
        "internalConsoleOptions", "debugServer", "presentation", "suppressMultipleSessionWarning",
        "serverReadyAction", "trace",
    }
)  # fmt: skip


class LaunchError(ValueError):
    """Launch arguments that cannot be used; the message names the field."""


class BuilderTLS(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ca: Path | None = None
    cert: Path | None = None
    key: Path | None = None
    serverName: str | None = None


class LaunchArguments(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dockerfile: str = "Dockerfile"
    contextPath: str | None = None
    target: str = ""
    buildArgs: dict[str, str] = Field(default_factory=dict)
    cacheFrom: list[str] = Field(default_factory=list)
    cacheTo: list[str] = Field(default_factory=list)
    secrets: list[str] = Field(default_factory=list)
    ssh: list[str] = Field(default_factory=list)
    platform: list[str] = Field(default_factory=list)
    image: str = ""
    builder: str | None = None
    builderTLS: BuilderTLS | None = None
    stopOnEntry: bool = False
    cwd: str | None = None  # what relative paths start from (default: the adapter's)
    noCache: bool = False

    @field_validator("platform", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    def command(self, cwd: Path) -> BuildCommand:
        """The build to debug; relative paths resolve against the ``cwd`` field, itself
        relative to ``cwd`` (the adapter's working directory)."""
        if self.cwd is not None:
            cwd = cwd / self.cwd
        if self.contextPath is not None:
            context = (cwd / self.contextPath).resolve()
            dockerfile = context / self.dockerfile
        else:
            dockerfile = (cwd / self.dockerfile).resolve()
            context = dockerfile.parent
        tls = None
        if self.builderTLS is not None:
            t = self.builderTLS
            tls = TLSConfig(ca=t.ca, cert=t.cert, key=t.key, server_name=t.serverName)
        try:
            address = Address.parse(self.builder) if self.builder else address_from_env(None)
            return BuildCommand.create(
                context=context,
                dockerfile=dockerfile,
                builder=BuilderOptions(address=address, tls=tls),
                target=self.target,
                build_args=dict(self.buildArgs),
                platforms=self.platform,
                no_cache=self.noCache,
                cache_from=self.cacheFrom,
                cache_to=self.cacheTo,
                secrets=self.secrets,
                ssh=self.ssh,
                base=cwd,
            )
        except (OptionError, SecretSpecError, SSHSpecError, BuilderError, ConfigError) as exc:
            raise LaunchError(str(exc)) from None


def _describe(error: ValidationError) -> str:
    problems = []
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"]) or "arguments"
        if item["type"] == "extra_forbidden":
            # An unknown key inside builderTLS is one of BuilderTLS's, not a top-level one.
            model = BuilderTLS if item["loc"][:1] == ("builderTLS",) else LaunchArguments
            allowed = ", ".join(sorted(model.model_fields))
            problems.append(f"unknown launch field {field!r} (allowed: {allowed})")
        else:
            problems.append(f"launch field {field!r}: {item['msg']}")
    return "; ".join(problems)


def parse_launch(raw: dict[str, Any]) -> LaunchArguments:
    mine = {k: v for k, v in raw.items() if k not in _GENERIC and not k.startswith("__")}
    try:
        return LaunchArguments.model_validate(mine)
    except ValidationError as exc:
        raise LaunchError(_describe(exc)) from None
