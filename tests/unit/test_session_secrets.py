"""``--secret`` specs (buildx's rules) and the Secrets service over gRPC."""

from __future__ import annotations

import logging
from pathlib import Path

import grpc
import pytest
from grpc import aio

from buildg_dap._proto.session import secrets_pb2, secrets_pb2_grpc
from buildg_dap.buildkit.session.secrets import (
    MAX_SECRET_SIZE,
    SecretSpec,
    SecretSpecError,
    check_sources,
    secrets,
)
from tests.unit.loopback import grpc_service

VALUE = "s3cr3t-9f1c"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.parametrize(
    ("text", "spec"),
    [
        ("id=tok,src=/run/tok", SecretSpec(id="tok", src=Path("/run/tok"))),
        ("id=tok,source=/run/tok", SecretSpec(id="tok", src=Path("/run/tok"))),
        ("ID=tok,SRC=/run/tok,Type=file", SecretSpec(id="tok", src=Path("/run/tok"))),
        ("id=tok,env=MY_VAR", SecretSpec(id="tok", env="MY_VAR")),
        # type=env turns src into the variable's name.
        ("type=env,id=tok,src=MY_VAR", SecretSpec(id="tok", env="MY_VAR")),
        ("id=tok,type=env,env=A,src=B", SecretSpec(id="tok", env="A")),
        # Both given: BuildKit reads the variable.
        ("id=tok,env=A,src=/f", SecretSpec(id="tok", env="A")),
        ('id=tok,"src=/dir,with,commas"', SecretSpec(id="tok", src=Path("/dir,with,commas"))),
        ("id=tok,src=a=b", SecretSpec(id="tok", src=Path("a=b"))),
    ],
)
def test_parse(text: str, spec: SecretSpec) -> None:
    assert SecretSpec.parse(text) == spec


def test_bare_id_is_a_variable_when_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BUILD_TOKEN", VALUE)
    assert SecretSpec.parse("id=BUILD_TOKEN") == SecretSpec(id="BUILD_TOKEN", env="BUILD_TOKEN")
    monkeypatch.delenv("BUILD_TOKEN")
    assert SecretSpec.parse("id=BUILD_TOKEN") == SecretSpec(
        id="BUILD_TOKEN", src=Path("BUILD_TOKEN")
    )
    assert SecretSpec.parse("id=BUILD_TOKEN,type=env") == SecretSpec(
        id="BUILD_TOKEN", src=Path("BUILD_TOKEN")
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("id=", "invalid secret spec 'id=': secret missing ID"),
        ("src=/f", "invalid secret spec 'src=/f': secret missing ID"),
        ("", "invalid secret spec '': secret missing ID"),
        ("tok", "invalid secret spec 'tok': invalid field 'tok' must be a key=value pair"),
        ("id=a,type=ssh", "invalid secret spec 'id=a,type=ssh': unsupported secret type 'ssh'"),
        (
            "id=a,mode=0400",
            "invalid secret spec 'id=a,mode=0400': unexpected key 'mode' in 'mode=0400'",
        ),
        ("id=a, src=x", "invalid secret spec 'id=a, src=x': unexpected key ' src' in ' src=x'"),
        (
            'id=a,"src=x',
            "invalid secret spec 'id=a,\"src=x': failed to parse csv secret: "
            "unexpected end of data",
        ),
    ],
)
def test_parse_errors(text: str, message: str) -> None:
    with pytest.raises(SecretSpecError) as caught:
        SecretSpec.parse(text)
    assert str(caught.value) == message
    assert isinstance(caught.value, ValueError)


def test_check_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    good = tmp_path / "good"
    good.write_text(VALUE)
    big = tmp_path / "big"
    big.write_bytes(b"x" * (MAX_SECRET_SIZE + 1))
    monkeypatch.setenv("SET_VAR", "1")
    monkeypatch.delenv("UNSET_VAR", raising=False)
    check_sources([SecretSpec(id="a", src=good), SecretSpec(id="b", env="SET_VAR")])
    cases = [
        (
            SecretSpec(id="f", src=tmp_path / "nope"),
            f"secret 'f': file {tmp_path}/nope does not exist",
        ),
        (
            SecretSpec(id="e", env="UNSET_VAR"),
            "secret 'e': environment variable UNSET_VAR is not set",
        ),
        (
            SecretSpec(id="b", src=big),
            f"secret 'b': file {big} is 512001 bytes; the limit is 512000 bytes",
        ),
    ]
    for spec, message in cases:
        with pytest.raises(SecretSpecError) as caught:
            check_sources([spec])
        assert str(caught.value) == message


async def get(channel: aio.Channel, ident: str) -> bytes:
    reply = await secrets_pb2_grpc.SecretsStub(channel).GetSecret(
        secrets_pb2.GetSecretRequest(ID=ident)
    )
    return reply.data


@pytest.mark.anyio
async def test_service(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret_file = tmp_path / "tok"
    secret_file.write_bytes(VALUE.encode() + b"\n\x00")
    monkeypatch.setenv("MY_VAR", VALUE + "-env")
    specs = [
        SecretSpec(id="file", src=tmp_path / "old"),
        SecretSpec(id="file", src=secret_file),  # the later spec wins
        SecretSpec(id="env", env="MY_VAR"),
        SecretSpec(id="gone", src=tmp_path / "gone"),
    ]
    async with grpc_service(secrets(specs)) as channel:
        assert await get(channel, "file") == VALUE.encode() + b"\n\x00"
        assert await get(channel, "env") == (VALUE + "-env").encode()
        with pytest.raises(aio.AioRpcError) as unknown:
            await get(channel, "other")
        with pytest.raises(aio.AioRpcError) as gone:
            await get(channel, "gone")
        secret_file.write_bytes(b"x" * (MAX_SECRET_SIZE + 1))
        with pytest.raises(aio.AioRpcError) as big:
            await get(channel, "file")
    assert (unknown.value.code(), unknown.value.details()) == (
        grpc.StatusCode.NOT_FOUND,
        "not found",
    )
    assert (gone.value.code(), gone.value.details()) == (
        grpc.StatusCode.UNKNOWN,
        f"secret gone: cannot read {tmp_path}/gone: No such file or directory",
    )
    assert (big.value.code(), big.value.details()) == (
        grpc.StatusCode.UNKNOWN,
        "invalid secret size 512001",
    )
    assert VALUE not in caplog.text
