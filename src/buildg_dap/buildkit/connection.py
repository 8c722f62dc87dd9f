"""Builder addresses and the gRPC channel to buildkitd, with errors a user can act on."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from grpc import aio

from buildg_dap._proto.buildkit import control_pb2, control_pb2_grpc, gateway_pb2_grpc
from buildg_dap.buildkit.address import (
    Address,
    BuilderError,
    TLSConfig,
    address_from_env,
    check_unix_socket,
)

# Client-side builds with result return, NewContainer and cache imports on gateway solves.
MIN_VERSION = (0, 11, 0)
# Results (whole LLB definitions, file reads) can be far beyond gRPC's 4 MiB default.
_MAX_MESSAGE = 64 * 1024 * 1024
_CHANNEL_OPTIONS: list[tuple[str, int | str]] = [
    ("grpc.max_receive_message_length", _MAX_MESSAGE),
    ("grpc.max_send_message_length", _MAX_MESSAGE),
    ("grpc.keepalive_time_ms", 30_000),
]


def _check_socket(path: str) -> None:
    check_unix_socket(
        path, "buildkitd",
        missing="is buildkitd running? "
        "(start one, or leave --addr unset to use the embedded builder)",
        who="run as a user that can open it", really="buildkitd's address",
    )  # fmt: skip


def _credentials(tls: TLSConfig) -> grpc.ChannelCredentials:
    def read(path: Path | None, what: str) -> bytes | None:
        if path is None:
            return None
        try:
            return path.read_bytes()
        except OSError as exc:
            raise BuilderError(f"cannot read TLS {what} {path}: {exc.strerror}") from None

    if (tls.cert is None) != (tls.key is None):
        raise BuilderError("TLS client certificate and key must be given together")
    return grpc.ssl_channel_credentials(
        root_certificates=read(tls.ca, "CA certificate"),
        private_key=read(tls.key, "key"),
        certificate_chain=read(tls.cert, "certificate"),
    )


def _explain(address: Address, tls: TLSConfig | None, exc: aio.AioRpcError) -> BuilderError:
    detail = exc.details() or ""
    lowered = detail.lower()
    if exc.code() == grpc.StatusCode.UNAVAILABLE:
        if any(word in lowered for word in ("ssl", "handshake", "tls", "certificate")):
            mode = "with TLS" if tls else "without TLS"
            return BuilderError(
                f"TLS handshake with buildkitd at {address} failed ({mode}): check the "
                f"CA, certificate and key, and whether the daemon expects TLS ({detail})"
            )
        if tls is None and any(w in lowered for w in ("socket closed", "eof", "reset", "frame")):
            return BuilderError(
                f"buildkitd at {address} closed the connection: it may require TLS "
                "(--tlscacert/--tlscert/--tlskey)"
            )
        if "refused" in lowered or "no such file" in lowered:
            return BuilderError(
                f"nothing is listening at {address}: is buildkitd running there?"
            )
        return BuilderError(f"cannot reach buildkitd at {address}: {detail}")
    if exc.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
        return BuilderError(f"buildkitd at {address} did not answer in time")
    return BuilderError(f"buildkitd at {address} failed: {exc.code().name}: {detail}")


def parse_version(text: str) -> tuple[int, int, int]:
    core = text.lstrip("v").split("-", 1)[0].split("+", 1)[0]
    numbers = [int(n) if n.isdigit() else 0 for n in core.split(".")[:3]]
    while len(numbers) < 3:
        numbers.append(0)
    return numbers[0], numbers[1], numbers[2]


@dataclass
class Connection:
    """One gRPC channel to buildkitd and its two service stubs. Owned by whoever opened it,
    with whatever carries it (a relay and its helper processes) until ``close``."""

    address: Address
    channel: aio.Channel
    control: control_pb2_grpc.ControlAsyncStub
    gateway: gateway_pb2_grpc.LLBBridgeAsyncStub
    version: str = ""
    answers_info: bool = True  # False before v0.11, which has no Control.Info
    # Where the address is Docker Engine: its /version answer.
    engine: dict[str, object] = field(default_factory=dict)
    _resources: AsyncExitStack = field(default_factory=AsyncExitStack)

    def at_least(self, version: tuple[int, int, int]) -> bool:
        """Whether the daemon is ``version`` or newer (one without Control.Info is not)."""
        return self.answers_info and parse_version(self.version) >= version

    def hold(self, release: Callable[[], object]) -> None:
        """Call ``release`` when the connection closes."""
        self._resources.callback(release)

    async def close(self) -> None:
        try:
            await self.channel.close()
        finally:
            await self._resources.aclose()

    async def __aenter__(self) -> Connection:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


async def _too_old(conn: Connection) -> BuilderError:
    wanted = ".".join(map(str, MIN_VERSION))
    if conn.engine:
        engine = f"Docker Engine {conn.engine.get('Version', '?')}"
        which = f"the BuildKit in {engine} at {conn.address.path}"
    else:
        which = f"buildkitd at {conn.address}"
    if conn.answers_info:
        found = f"is version {conn.version or 'unknown'}"
    else:
        found = f"is older than v{wanted} (it does not answer Control.Info)"
    message = f"{which} {found}; buildg-dap needs v{wanted} or newer"
    from buildg_dap.buildkit.support import missing_for_debugging

    try:
        missing = await missing_for_debugging(conn)
    except Exception:  # the probe is a courtesy; the version already decided
        missing = []
    if missing:
        message += f" (it lacks {'; '.join(missing)})"
    return BuilderError(message)


async def connect(
    address: Address,
    tls: TLSConfig | None = None,
    *,
    wait: float = 10.0,
    require: tuple[int, int, int] | None = MIN_VERSION,
) -> Connection:
    """Open a channel and check the daemon answers and is ``require`` or newer (None
    accepts any, even one too old to say its version)."""
    from buildg_dap.buildkit.transports import carrier

    tls = tls or address.tls
    if address.scheme == "unix":
        if tls is not None:
            raise BuilderError("TLS options apply to tcp:// builder addresses only")
        _check_socket(address.path)
    elif address.scheme != "tcp" and tls is not None:
        raise BuilderError(f"TLS options do not apply to {address.scheme}:// builder addresses")
    resources = AsyncExitStack()
    try:
        target, explain_failure, engine = await carrier(address, resources)
    except BaseException:
        await resources.aclose()
        raise
    options = list(_CHANNEL_OPTIONS)
    if tls is not None and tls.server_name:
        options.append(("grpc.ssl_target_name_override", tls.server_name))
    if tls is None:
        channel = aio.insecure_channel(target, options=options)
    else:
        channel = aio.secure_channel(target, _credentials(tls), options=options)
    conn = Connection(
        address=address,
        channel=channel,
        control=control_pb2_grpc.ControlStub(channel),
        gateway=gateway_pb2_grpc.LLBBridgeStub(channel),
        engine=engine,
        _resources=resources,
    )
    try:
        try:
            info = await conn.control.Info(control_pb2.InfoRequest(), timeout=wait)
            conn.version = info.buildkitVersion.version
        except aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.UNIMPLEMENTED:
                raise explain_failure() or _explain(address, tls, exc) from None
            # Before v0.11 there is no Info; ListWorkers tells it answers at all.
            conn.answers_info = False
            try:
                await conn.control.ListWorkers(control_pb2.ListWorkersRequest(), timeout=wait)
            except aio.AioRpcError as exc2:
                raise explain_failure() or _explain(address, tls, exc2) from None
        if require is not None and not conn.at_least(require):
            raise await _too_old(conn)
    except BaseException:
        await conn.close()
        raise
    return conn


__all__ = [
    "MIN_VERSION",
    "Address",
    "BuilderError",
    "Connection",
    "TLSConfig",
    "address_from_env",
    "connect",
]
