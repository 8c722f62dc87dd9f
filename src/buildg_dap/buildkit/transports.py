"""What carries a connection to each kind of builder address, and what went wrong when it
could not: gRPC itself for unix and tcp, a relay otherwise (see ``relay``)."""

from __future__ import annotations

import shlex
import shutil
from collections.abc import Callable
from contextlib import AsyncExitStack

from buildg_dap.buildkit.address import Address, BuilderError
from buildg_dap.buildkit.dockerengine import check_socket, engine_dial, engine_version
from buildg_dap.buildkit.relay import Relay, helper_dial, open_relay

Explain = Callable[[], BuilderError | None]

_INSTALL = {
    "docker": "the docker CLI (e.g. apt-get install docker.io)",
    "kubectl": "kubectl",
    "ssh": "the OpenSSH client (e.g. apt-get install openssh-client)",
}


def check_helper(address: Address) -> list[str]:
    """The helper's command line; fails when its program is not on PATH."""
    argv = address.helper_argv()
    if shutil.which(argv[0]) is None:
        raise BuilderError(
            f"{address} is reached through {argv[0]}, which is not on PATH: install "
            f"{_INSTALL.get(argv[0], argv[0])}"
        )
    return argv


async def carrier(
    address: Address, resources: AsyncExitStack
) -> tuple[str, Explain, dict[str, object]]:
    """gRPC's target for ``address``, a way to explain a failure to reach it, and (for
    Docker Engine) the engine's ``/version``. Whatever the connection needs to stay up
    is entered into ``resources``."""
    if address.dialed_by_grpc:
        return address.target(), lambda: None, {}
    engine: dict[str, object] = {}
    relay: Relay
    if address.scheme == "docker-engine":
        check_socket(address.path)
        engine = await engine_version(address.path)
        relay = await resources.enter_async_context(open_relay(engine_dial(address.path)))
        through = f"Docker Engine {engine.get('Version', '')}".strip()
    else:
        argv = check_helper(address)
        relay = await resources.enter_async_context(open_relay(helper_dial(argv)))
        through = f"`{shlex.join(argv)}`"

    def explain() -> BuilderError | None:
        why = relay.failure()
        if not why:
            return None
        return BuilderError(f"cannot reach buildkitd at {address} through {through}: {why}")

    return relay.target, explain, engine
