"""Debugging over DAP on builders beyond the local socket: mTLS on 127.0.0.1, a BuildKit
container reached through ``docker exec``, a buildkitd reached over ssh."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from tests.dap.dapclient import dap_session, launch, walk_seed
from tests.integration.cliutil import write_context
from tests.lab import Buildkitd, Lab, Registry, buildctl_build
from tests.lab.certs import Certs
from tests.lab.dockerd import Dockerd
from tests.lab.registry import free_port
from tests.lab.sshd import Sshd
from tests.remote.conftest import CONTAINER

SEED = (Path(__file__).resolve().parents[2] / "examples" / "seed" / "Dockerfile").read_text()


@pytest.fixture(scope="module")
def seed_cache(tmp_path_factory: pytest.TempPathFactory, builder_a: Buildkitd,
               registry: Registry) -> tuple[Path, str]:  # fmt: skip
    context = write_context(tmp_path_factory.mktemp("seed"), SEED)
    cache = f"{registry.host}/cache:remote-seed"
    buildctl_build(builder_a, context, "--export-cache", f"type=registry,ref={cache},mode=max")
    return context, cache


async def _walk(config: dict[str, object], env: dict[str, str], context: Path) -> None:
    """The seed walkthrough: two breakpoints on cached steps, exec at each, to the end."""
    async with dap_session(env=env) as client:
        answer = await launch(client, {"contextPath": str(context), **config}, [5, 10])
        assert [b["verified"] for b in answer["breakpoints"]] == [True, True]
        await walk_seed(client)
        await client.request("disconnect")


@pytest.fixture(scope="module")
def tls_builder(
    tmp_path_factory: pytest.TempPathFactory, lab: Lab, registry: Registry
) -> Iterator[tuple[str, Certs]]:
    certs = Certs(tmp_path_factory.mktemp("tls"), "dap")
    builder = Buildkitd(
        registry.host,
        tcp_port=free_port(),
        extra_args=["--tlscacert", certs.ca, "--tlscert", certs.server,
                    "--tlskey", certs.server_key],
    )  # fmt: skip
    try:
        yield builder.address, certs
    finally:
        builder.stop()


def test_mutual_tls_launch_reaches_a_breakpoint(
    tmp_path: Path, tls_builder: tuple[str, Certs]
) -> None:
    address, certs = tls_builder
    context = write_context(tmp_path / "ctx", "FROM busybox\nRUN echo tls > /tls\nRUN true\n")

    async def walk() -> None:
        async with dap_session() as client:
            config = {
                "contextPath": str(context), "builder": address,
                "builderTLS": {"ca": str(certs.ca), "cert": str(certs.client),
                               "key": str(certs.client_key), "serverName": "127.0.0.1"},
            }  # fmt: skip
            await launch(client, config, [3])
            stop = await client.stopped()
            assert stop["reason"] == "breakpoint"
            assert (await client.top_frame())["line"] == 3
            assert (await client.evaluate("exec cat /tls"))["result"] == "exit code 0"
            assert client.output("stdout").endswith("tls\n")
            await client.request("disconnect")

    anyio.run(walk)


def test_mutual_tls_launch_without_certificates_is_refused(
    tmp_path: Path, tls_builder: tuple[str, Certs]
) -> None:
    address, _ = tls_builder
    context = write_context(tmp_path / "ctx", "FROM busybox\n")

    async def walk() -> str:
        async with dap_session() as client:
            seq = await client.send("launch", {"contextPath": str(context), "builder": address})
            response = await client.response(seq)
            assert not response["success"]
            return str(response["message"])

    assert anyio.run(walk).startswith(
        f"cannot start the build: buildkitd at {address} closed the connection: it may "
        "require TLS"
    )


def test_seed_walkthrough_on_docker_container(
    seed_cache: tuple[Path, str], dockerd: Dockerd
) -> None:
    context, cache = seed_cache
    config = {"builder": f"docker-container://{CONTAINER}", "cacheFrom": [cache]}
    anyio.run(_walk, config, dockerd.env(), context)


def test_seed_walkthrough_over_ssh(
    seed_cache: tuple[Path, str], sshd: Sshd, fresh_builder: Buildkitd
) -> None:
    context, cache = seed_cache
    socket = fresh_builder.address.removeprefix("unix://")
    config = {"builder": f"ssh://root@127.0.0.1:{sshd.port}{socket}", "cacheFrom": [cache]}
    anyio.run(_walk, config, sshd.env(), context)
