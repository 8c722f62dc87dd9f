"""``--ssh`` specs and the SSH service, forwarding to an echo server on a Unix socket."""

from __future__ import annotations

import socket
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import grpc
import pytest
from anyio.abc import SocketStream
from grpc import aio

from buildg_dap._proto.session import ssh_pb2, ssh_pb2_grpc
from buildg_dap.buildkit.session.ssh import SSHSpec, SSHSpecError, ssh
from tests.unit.loopback import grpc_service


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def short_dir() -> Iterator[Path]:
    # Unix socket paths are limited to ~100 bytes; pytest's tmp_path can be longer.
    with tempfile.TemporaryDirectory(prefix="bgd-") as tmp:
        yield Path(tmp)


@asynccontextmanager
async def echo_agent(path: Path) -> AsyncIterator[list[int]]:
    """Echoes every byte back; closes after the peer's EOF. Yields per-connection counts."""
    counts: list[int] = []

    async def echo(stream: SocketStream) -> None:
        total = 0
        async with stream:
            async for chunk in stream:
                total += len(chunk)
                await stream.send(chunk)
        counts.append(total)

    listener = await anyio.create_unix_listener(path)
    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, echo)
        yield counts
        tg.cancel_scope.cancel()


def make_socket(path: Path) -> Path:
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(path))
    return path


# --- specs -----------------------------------------------------------------------


def test_parse(short_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    agent = make_socket(short_dir / "agent.sock")
    other = make_socket(short_dir / "other.sock")
    monkeypatch.setenv("SSH_AUTH_SOCK", str(agent))
    assert SSHSpec.parse("default") == SSHSpec(id="default", socket=agent)
    assert SSHSpec.parse("github") == SSHSpec(id="github", socket=agent)
    assert SSHSpec.parse("github=") == SSHSpec(id="github", socket=agent)
    assert SSHSpec.parse(f"work={other}") == SSHSpec(id="work", socket=other)
    assert SSHSpec.parse(f"={other}") == SSHSpec(id="default", socket=other)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (
            "work={dir}/id_ed25519",
            "{dir}/id_ed25519 is a file, not an agent socket: forwarding "
            "key files is not supported; load the key into ssh-agent "
            "and use default",
        ),
        ("work={dir}/missing", "{dir}/missing does not exist"),
        ("work={dir}", "{dir} is not an agent socket"),
        ("work={dir}/agent.sock,{dir}/agent.sock", "only one agent socket can be forwarded per id"),
        ("work={dir}/agent.sock,", "empty path"),
        ("default", "SSH_AUTH_SOCK is not set; start ssh-agent or give ID=SOCKET"),
    ],
)
def test_parse_errors(
    short_dir: Path, monkeypatch: pytest.MonkeyPatch, text: str, reason: str
) -> None:
    make_socket(short_dir / "agent.sock")
    (short_dir / "id_ed25519").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\n")
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    spec = text.format(dir=short_dir)
    with pytest.raises(SSHSpecError) as caught:
        SSHSpec.parse(spec)
    assert str(caught.value) == f"invalid ssh spec {spec!r}: {reason.format(dir=short_dir)}"
    assert isinstance(caught.value, ValueError)


# --- service ---------------------------------------------------------------------


@pytest.mark.anyio
async def test_check_agent(short_dir: Path) -> None:
    specs = [SSHSpec(id="default", socket=make_socket(short_dir / "a.sock"))]
    async with grpc_service(ssh(specs)) as channel:
        stub = ssh_pb2_grpc.SSHStub(channel)
        await stub.CheckAgent(ssh_pb2.CheckAgentRequest(ID="default"))
        await stub.CheckAgent(ssh_pb2.CheckAgentRequest())  # empty means default
        with pytest.raises(aio.AioRpcError) as caught:
            await stub.CheckAgent(ssh_pb2.CheckAgentRequest(ID="github"))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert caught.value.details() == "unset ssh forward key github"


async def forward(
    channel: aio.Channel, ident: str | None, chunks: list[bytes] | None
) -> bytes:
    """Sends ``chunks`` then half-closes, as buildkitd does; returns all that came back."""
    metadata = (("buildkit.ssh.id", ident),) if ident is not None else None
    call = ssh_pb2_grpc.SSHStub(channel).ForwardAgent(metadata=metadata)
    # With None nothing is sent, not even the half-close: grpcio's client may report a
    # write racing the service's early status as its own INTERNAL error instead.
    if chunks is not None:
        for chunk in chunks:
            await call.write(ssh_pb2.BytesMessage(data=chunk))
        await call.done_writing()
    received = b""
    async for message in call:
        received += message.data
    assert await call.code() == grpc.StatusCode.OK
    return received


@pytest.mark.anyio
async def test_forward_agent_round_trip(short_dir: Path) -> None:
    specs = [
        SSHSpec(id="default", socket=short_dir / "default.sock"),
        SSHSpec(id="work", socket=short_dir / "work.sock"),
    ]
    big = bytes(range(256)) * 1024  # larger than one chunk either way
    async with (
        echo_agent(short_dir / "default.sock") as default_counts,
        echo_agent(short_dir / "work.sock") as work_counts,
        grpc_service(ssh(specs)) as channel,
    ):
        assert await forward(channel, "work", [b"hello ", b"agent", big]) == (b"hello agent" + big)
        assert await forward(channel, None, [b"to default"]) == b"to default"
        assert await forward(channel, "", []) == b""
    # Each stream was its own connection, to the agent the id named.
    assert work_counts == [11 + len(big)]
    assert sorted(default_counts) == [0, 10]


@pytest.mark.anyio
async def test_forward_agent_errors(short_dir: Path) -> None:
    specs = [SSHSpec(id="default", socket=short_dir / "gone.sock")]
    async with grpc_service(ssh(specs)) as channel:
        with pytest.raises(aio.AioRpcError) as unknown:
            await forward(channel, "github", None)
        with pytest.raises(aio.AioRpcError) as gone:
            await forward(channel, "default", None)
    assert (unknown.value.code(), unknown.value.details()) == (
        grpc.StatusCode.NOT_FOUND,
        "unset ssh forward key github",
    )
    assert (gone.value.code(), gone.value.details()) == (
        grpc.StatusCode.UNAVAILABLE,
        f"failed to dial agent default at {short_dir}/gone.sock: No such file or directory",
    )
