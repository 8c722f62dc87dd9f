"""Build secrets (``--secret id=ID,src=FILE|env=VAR``) served to buildkitd on request.

Values are read when buildkitd asks, never logged, and never kept beyond the call.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio
import grpc
from grpc import aio
from pydantic import BaseModel, ConfigDict

from buildg_dap._proto.session import secrets_pb2, secrets_pb2_grpc
from buildg_dap.buildkit.session.bridge import Attachable


class SecretSpecError(ValueError):
    pass


class SecretSpec(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    src: Path | None = None
    env: str | None = None

    @classmethod
    def parse(cls, text: str) -> SecretSpec:
        """buildx's CSV form: ``id=ID[,type=file|env][,src|source=PATH][,env=VAR]``."""
        try:
            fields = next(csv.reader([text]))
        except (csv.Error, StopIteration):
            raise SecretSpecError(f"invalid secret spec {text!r}: not valid CSV") from None
        values: dict[str, str] = {}
        kind = ""
        for field in fields:
            key, sep, value = field.partition("=")
            key = key.strip().lower()
            if not sep:
                raise SecretSpecError(
                    f"invalid secret spec {text!r}: field '{field}' must be a key=value pair"
                )
            if key == "type":
                if value not in ("file", "env"):
                    raise SecretSpecError(
                        f"invalid secret spec {text!r}: unsupported type {value!r}"
                    )
                kind = value
            elif key in ("id", "src", "source", "env"):
                values["src" if key == "source" else key] = value
            else:
                raise SecretSpecError(f"invalid secret spec {text!r}: unexpected key '{key}'")
        if not values.get("id"):
            raise SecretSpecError(f"invalid secret spec {text!r}: id is required")
        if kind == "env" and not values.get("env"):
            values["env"] = values.pop("src", "")
        src, env = values.get("src"), values.get("env")
        return cls(id=values["id"], src=Path(src) if src else None, env=env or None)

    def read(self) -> bytes | None:
        """The value, or None if its source does not exist (BuildKit then says not found)."""
        env, src = self.env, self.src
        if env is None and src is None:
            # A bare id: an environment variable of that name, else a file of that name.
            env = self.id if self.id in os.environ else None
            src = None if env else Path(self.id)
        if env is not None:
            value = os.environ.get(env)
            return value.encode() if value is not None else None
        assert src is not None
        try:
            return src.expanduser().read_bytes()
        except FileNotFoundError:
            return None


def check_sources(specs: Sequence[SecretSpec]) -> None:
    """Fail before the build when a named file or variable is missing."""
    for spec in specs:
        if spec.src is not None and not spec.src.expanduser().is_file():
            raise SecretSpecError(f"secret {spec.id!r}: file {spec.src} does not exist")
        if spec.env is not None and spec.env not in os.environ:
            raise SecretSpecError(f"secret {spec.id!r}: environment variable {spec.env} is not set")


class SecretsService(secrets_pb2_grpc.SecretsServicer):
    def __init__(self, specs: Sequence[SecretSpec]) -> None:
        self._specs = {spec.id: spec for spec in specs}

    async def GetSecret(
        self, request: secrets_pb2.GetSecretRequest, context: aio.ServicerContext[Any, Any]
    ) -> secrets_pb2.GetSecretResponse:
        spec = self._specs.get(request.ID)
        data = await anyio.to_thread.run_sync(spec.read) if spec is not None else None
        if data is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"secret {request.ID} not found")
        return secrets_pb2.GetSecretResponse(data=data)


def secrets(specs: Sequence[SecretSpec]) -> Attachable:
    service = SecretsService(specs)
    return Attachable(
        descriptor=secrets_pb2.DESCRIPTOR.services_by_name["Secrets"],
        register=lambda server: secrets_pb2_grpc.add_SecretsServicer_to_server(service, server),
    )
