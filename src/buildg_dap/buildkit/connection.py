"""Builder addresses and the gRPC channel to buildkitd, with errors a user can act on."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import grpc
from grpc import aio
from pydantic import BaseModel, ConfigDict

from buildg_dap._proto.buildkit import control_pb2, control_pb2_grpc, gateway_pb2_grpc

# Client-side builds with result return, NewContainer and cache imports on gateway solves.
MIN_VERSION = (0, 11, 0)
# Results (whole LLB definitions, file reads) can be far beyond gRPC's 4 MiB default.
_MAX_MESSAGE = 64 * 1024 * 1024
_CHANNEL_OPTIONS: list[tuple[str, int | str]] = [
    ("grpc.max_receive_message_length", _MAX_MESSAGE),
    ("grpc.max_send_message_length", _MAX_MESSAGE),
    ("grpc.keepalive_time_ms", 30_000),
]


class BuilderError(Exception):
    """A builder cannot be reached or used; the message says why and what to do."""


class TLSConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    ca: Path | None = None
    cert: Path | None = None
    key: Path | None = None
    server_name: str | None = None


class Address(BaseModel):
    """A parsed builder address: ``unix:///path`` or ``tcp://host:port``."""

    model_config = ConfigDict(frozen=True)

    scheme: str
    path: str = ""
    host: str = ""
    port: int = 0

    @classmethod
    def parse(cls, text: str) -> Address:
        text = text.strip()
        if not text:
            raise BuilderError("empty builder address")
        parts = urlsplit(text)
        if parts.scheme == "unix":
            path = (parts.netloc + parts.path) if parts.netloc else parts.path
            if not path:
                raise BuilderError(f"builder address {text!r} names no socket path")
            return cls(scheme="unix", path=path)
        if parts.scheme == "tcp":
            try:
                port = parts.port
            except ValueError as exc:
                raise BuilderError(f"builder address {text!r} has a bad port") from exc
            if not parts.hostname or port is None:
                raise BuilderError(f"builder address {text!r} needs tcp://HOST:PORT")
            return cls(scheme="tcp", host=parts.hostname, port=port)
        raise BuilderError(
            f"unsupported builder address {text!r}: use unix:///path/to/buildkitd.sock "
            "or tcp://host:port"
        )

    def target(self) -> str:
        if self.scheme == "unix":
            return f"unix://{self.path}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def __str__(self) -> str:
        return f"unix://{self.path}" if self.scheme == "unix" else f"tcp://{self.target()}"


def _check_socket(path: str) -> None:
    """Fail with the real reason before gRPC turns it into a vague UNAVAILABLE."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise BuilderError(
            f"buildkitd socket {path} does not exist: is buildkitd running? "
            "(start one, or leave --addr unset to use the embedded builder)"
        ) from None
    except PermissionError:
        raise BuilderError(
            f"permission denied reaching buildkitd socket {path}: "
            "run as a user that can open it"
        ) from None
    if not stat.S_ISSOCK(info.st_mode):
        raise BuilderError(f"{path} is not a socket: is it really buildkitd's address?")
    if not os.access(path, os.R_OK | os.W_OK):
        raise BuilderError(
            f"permission denied on buildkitd socket {path}: run as a user that can open it"
        )


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
    """One gRPC channel to buildkitd and its two service stubs. Owned by whoever opened it."""

    address: Address
    channel: aio.Channel
    control: control_pb2_grpc.ControlAsyncStub
    gateway: gateway_pb2_grpc.LLBBridgeAsyncStub
    version: str = ""

    async def close(self) -> None:
        await self.channel.close()

    async def __aenter__(self) -> Connection:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


async def connect(
    address: Address, tls: TLSConfig | None = None, *, wait: float = 10.0
) -> Connection:
    """Open a channel and check the daemon answers and is new enough."""
    if address.scheme == "unix":
        if tls is not None:
            raise BuilderError("TLS options apply to tcp:// builder addresses only")
        _check_socket(address.path)
    options = list(_CHANNEL_OPTIONS)
    if tls is not None and tls.server_name:
        options.append(("grpc.ssl_target_name_override", tls.server_name))
    if tls is None:
        channel = aio.insecure_channel(address.target(), options=options)
    else:
        channel = aio.secure_channel(address.target(), _credentials(tls), options=options)
    conn = Connection(
        address=address,
        channel=channel,
        control=control_pb2_grpc.ControlStub(channel),
        gateway=gateway_pb2_grpc.LLBBridgeStub(channel),
    )
    try:
        info = await conn.control.Info(control_pb2.InfoRequest(), timeout=wait)
    except aio.AioRpcError as exc:
        await channel.close()
        raise _explain(address, tls, exc) from None
    except BaseException:
        await channel.close()
        raise
    conn.version = info.buildkitVersion.version
    if parse_version(conn.version) < MIN_VERSION:
        await channel.close()
        wanted = ".".join(map(str, MIN_VERSION))
        raise BuilderError(
            f"buildkitd at {address} is version {conn.version or 'unknown'}; "
            f"buildg-dap needs v{wanted} or newer"
        )
    return conn


def address_from_env(flag: str | None) -> Address | None:
    """The builder named by ``--addr`` or ``BUILDKIT_HOST``; None means the embedded one."""
    text = flag or os.environ.get("BUILDKIT_HOST", "")
    return Address.parse(text) if text else None


__all__ = [
    "MIN_VERSION",
    "Address",
    "BuilderError",
    "Connection",
    "TLSConfig",
    "address_from_env",
    "connect",
]
