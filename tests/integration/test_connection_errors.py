"""Every way of failing to reach a builder ends in a message that says what to do."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from buildg_dap.buildkit.connection import Address, BuilderError, TLSConfig, connect
from tests.lab import Buildkitd, Registry
from tests.lab.certs import Certs
from tests.lab.registry import free_port


@pytest.fixture(scope="module")
def context(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ctx")
    (path / "Dockerfile").write_text("FROM busybox\n")
    return path


def _debug(
    context: Path, addr: str, *prefix: str, extra: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*prefix, sys.executable, "-m", "buildg_dap", "debug", "--addr", addr, *extra,
         str(context)],
        input="q\n", capture_output=True, text=True, timeout=60, check=False,
    )


def test_socket_missing(context: Path) -> None:
    done = _debug(context, "unix:///tmp/bgd-no-such-dir/buildkitd.sock")
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "error: buildkitd socket /tmp/bgd-no-such-dir/buildkitd.sock does not exist: "
        "is buildkitd running? (start one, or leave --addr unset to use the embedded builder)"
    )


def test_permission_denied(tmp_path: Path, context: Path) -> None:
    path = tmp_path / "root-only.sock"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(path))
        server.listen()
        os.chown(path, 65534, 65534)
        path.chmod(0o600)
        # Root reads everything; without the DAC capabilities it is an ordinary user.
        done = _debug(context, f"unix://{path}", "setpriv", "--bounding-set",
                      "-dac_override,-dac_read_search")
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"error: permission denied on buildkitd socket {path}: "
        "run as a user that can open it"
    )


def test_nothing_listening_on_a_socket(tmp_path: Path, context: Path) -> None:
    path = tmp_path / "stale.sock"
    with socket.socket(socket.AF_UNIX) as gone:
        gone.bind(str(path))  # the file stays, nobody listens
    done = _debug(context, f"unix://{path}")
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"error: nothing is listening at unix://{path}: is buildkitd running there?"
    )


def test_nothing_listening_on_a_port(context: Path) -> None:
    port = free_port()
    done = _debug(context, f"tcp://127.0.0.1:{port}")
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"error: nothing is listening at tcp://127.0.0.1:{port}: is buildkitd running there?"
    )


def test_bad_addresses() -> None:
    with pytest.raises(BuilderError, match=r"unsupported builder address 'npipe://x': use"):
        Address.parse("npipe://x")
    with pytest.raises(BuilderError, match=r"builder address 'tcp://h' needs tcp://HOST:PORT"):
        Address.parse("tcp://h")


@pytest.fixture(scope="module")
def tls_builder(
    tmp_path_factory: pytest.TempPathFactory, registry: Registry
) -> Iterator[tuple[str, Certs, Certs]]:
    root = tmp_path_factory.mktemp("tls")
    good, other = Certs(root, "good"), Certs(root, "other")
    builder = Buildkitd(
        registry.host,
        tcp_port=free_port(),
        extra_args=["--tlscacert", good.ca, "--tlscert", good.server,
                    "--tlskey", good.server_key],
    )
    try:
        yield builder.address, good, other
    finally:
        builder.stop()


def test_mutual_tls_connects(tls_builder: tuple[str, Certs, Certs]) -> None:
    address, good, _ = tls_builder

    async def check() -> str:
        tls = TLSConfig(ca=good.ca, cert=good.client, key=good.client_key)
        async with await connect(Address.parse(address), tls) as conn:
            return conn.version

    assert anyio.run(check) == "v0.32.2"


def test_tls_required_but_not_given(
    tls_builder: tuple[str, Certs, Certs], context: Path
) -> None:
    address, _, _ = tls_builder
    done = _debug(context, address)
    assert done.returncode == 1
    assert done.stderr.startswith(
        f"error: buildkitd at {address} closed the connection: it may require TLS "
        "(--tlscacert/--tlscert/--tlskey)"
    ), done.stderr


def test_tls_with_the_wrong_authority(
    tls_builder: tuple[str, Certs, Certs], context: Path
) -> None:
    address, _, other = tls_builder
    done = _debug(context, address, extra=("--tlscacert", str(other.ca), "--tlscert",
                                  str(other.client), "--tlskey", str(other.client_key)))
    assert done.returncode == 1
    assert done.stderr.startswith(
        f"error: TLS handshake with buildkitd at {address} failed (with TLS): check the "
        "CA, certificate and key, and whether the daemon expects TLS"
    ), done.stderr
