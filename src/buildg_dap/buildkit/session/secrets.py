"""Build secrets (``--secret id=ID[,type=file|env][,src=FILE|env=VAR]``) for buildkitd.

Specs follow buildx (util/buildflags/secrets.go); a spec naming neither a file nor a
variable means the variable ``ID`` if it is set, else the file ``ID`` (BuildKit's
secretsprovider). Values are read when buildkitd asks and never logged.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from pathlib import Path

import anyio
import grpc
from pydantic import BaseModel, ConfigDict, model_validator

from buildg_dap._proto.session import secrets_pb2
from buildg_dap.buildkit.session.rpcserver import Attachable, CallContext

# BuildKit refuses larger secrets (secretsprovider.MaxSecretSize).
MAX_SECRET_SIZE = 500 * 1024


class SecretSpecError(ValueError):
    pass


class SecretSpec(BaseModel):
    """One secret and where its value lives: exactly one of a file or a variable."""

    model_config = ConfigDict(frozen=True)

    id: str
    src: Path | None = None
    env: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> SecretSpec:
        if (self.src is None) == (self.env is None):
            raise ValueError("a secret reads either a file or an environment variable")
        return self

    @classmethod
    def parse(cls, text: str, base: Path = Path()) -> SecretSpec:
        """buildx's form; a relative ``src`` is taken from ``base``."""

        def invalid(reason: str) -> SecretSpecError:
            return SecretSpecError(f"invalid secret spec {text!r}: {reason}")

        try:
            fields = next(csv.reader([text], strict=True), [])
        except csv.Error as exc:
            raise invalid(f"failed to parse csv secret: {exc}") from None
        ident, kind, src, env = "", "", "", ""
        for field in fields:
            key, sep, value = field.partition("=")
            key = key.lower()
            if not sep:
                raise invalid(f"invalid field '{field}' must be a key=value pair")
            if key == "type":
                if value not in ("file", "env"):
                    raise invalid(f"unsupported secret type {value!r}")
                kind = value
            elif key == "id":
                ident = value
            elif key in ("src", "source"):
                src = value
            elif key == "env":
                env = value
            else:
                raise invalid(f"unexpected key '{key}' in '{field}'")
        if not ident:
            raise invalid("secret missing ID")
        if kind == "env" and not env:
            src, env = "", src
        if not src and not env:
            if ident in os.environ:
                env = ident
            else:
                src = ident
        # buildx sends both when both are given; BuildKit then reads the variable.
        return cls(id=ident, src=None if env else base / src, env=env or None)


def check_sources(specs: Sequence[SecretSpec]) -> None:
    """Fail before the build when a file is missing or too big, or a variable unset."""
    for spec in specs:
        if spec.env is not None and spec.env not in os.environ:
            raise SecretSpecError(f"secret {spec.id!r}: environment variable {spec.env} is not set")
        if spec.src is None:
            continue
        try:
            size = spec.src.stat().st_size
        except FileNotFoundError:
            raise SecretSpecError(f"secret {spec.id!r}: file {spec.src} does not exist") from None
        except OSError as exc:
            raise SecretSpecError(
                f"secret {spec.id!r}: cannot read {spec.src}: {exc.strerror}"
            ) from None
        if size > MAX_SECRET_SIZE:
            raise SecretSpecError(
                f"secret {spec.id!r}: file {spec.src} is {size} bytes; "
                f"the limit is {MAX_SECRET_SIZE} bytes"
            )


class SecretsService:
    def __init__(self, specs: Sequence[SecretSpec]) -> None:
        # Later specs for the same id win, as in buildx.
        self._specs = {spec.id: spec for spec in specs}

    async def GetSecret(
        self, request: secrets_pb2.GetSecretRequest, context: CallContext
    ) -> secrets_pb2.GetSecretResponse:
        spec = self._specs.get(request.ID)
        if spec is None:
            # BuildKit's message; buildkitd turns it into "secret ID: not found".
            await context.abort(grpc.StatusCode.NOT_FOUND, "not found")
        if spec.env is not None:
            data = os.environ.get(spec.env, "").encode()
        else:
            assert spec.src is not None  # guaranteed by the model
            try:
                data = await anyio.Path(spec.src).read_bytes()
            except OSError as exc:
                await context.abort(
                    grpc.StatusCode.UNKNOWN,
                    f"secret {request.ID}: cannot read {spec.src}: {exc.strerror}",
                )
        if len(data) > MAX_SECRET_SIZE:
            await context.abort(grpc.StatusCode.UNKNOWN, f"invalid secret size {len(data)}")
        return secrets_pb2.GetSecretResponse(data=data)


def secrets(specs: Sequence[SecretSpec]) -> Attachable:
    service = SecretsService(specs)
    return Attachable(
        descriptor=secrets_pb2.DESCRIPTOR.services_by_name["Secrets"],
        servicer=service,
    )
