"""Builder addresses, spelled as buildctl and buildx spell them.

- ``unix:///path`` and ``tcp://HOST:PORT`` (TLS optional): gRPC dials them itself.
- ``docker-container://NAME``, ``kube-pod://POD?namespace=N&context=C&container=C``,
  ``ssh://[USER@]HOST[:PORT][/SOCKET]``: a helper program (the docker CLI, kubectl, the
  ssh client) runs ``buildctl dial-stdio`` next to buildkitd and carries the connection
  over its standard input and output.
- ``docker://`` or ``docker-engine://[SOCKET]``: the BuildKit inside Docker Engine,
  through the Engine API's gRPC upgrade endpoint.
- A bare name: a buildx builder, looked up in buildx's configuration store.
"""

from __future__ import annotations

import os
import re
import shlex
import stat
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qs, urlsplit

from pydantic import BaseModel, ConfigDict

Scheme = Literal["unix", "tcp", "docker-container", "kube-pod", "ssh", "docker-engine"]
DOCKER_SOCKET = "/var/run/docker.sock"
HELPER_SCHEMES = ("docker-container", "kube-pod", "ssh")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_KUBE_KEYS = ("namespace", "context", "container")


class BuilderError(Exception):
    """A builder cannot be reached or used; the message says why and what to do."""


class TLSConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    ca: Path | None = None
    cert: Path | None = None
    key: Path | None = None
    server_name: str | None = None


class Address(BaseModel):
    """A parsed builder address; ``builder`` names the buildx builder it came from."""

    model_config = ConfigDict(frozen=True)

    scheme: Scheme
    path: str = ""  # unix socket; ssh: remote buildkitd socket; docker-engine: its socket
    host: str = ""
    port: int = 0
    user: str = ""
    name: str = ""  # container or pod
    docker: str = ""  # docker-container: the Docker host or context it runs in
    namespace: str = ""
    context: str = ""
    container: str = ""
    builder: str = ""
    tls: TLSConfig | None = None  # the buildx builder's own TLS files

    @classmethod
    def parse(cls, text: str) -> Address:
        text = text.strip()
        if not text:
            raise BuilderError("empty builder address")
        if "://" not in text:
            if _NAME.fullmatch(text):
                from buildg_dap.buildkit.buildx import resolve_builder

                return resolve_builder(text)
            raise BuilderError(_unsupported(text))
        parts = urlsplit(text)
        parser = _PARSERS.get(parts.scheme)
        if parser is None:
            raise BuilderError(_unsupported(text))
        return parser(text)

    def target(self) -> str:
        """gRPC's target for unix and tcp addresses."""
        if self.scheme == "unix":
            return f"unix://{self.path}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def dialed_by_grpc(self) -> bool:
        return self.scheme in ("unix", "tcp")

    def __str__(self) -> str:
        if self.scheme == "unix":
            return f"unix://{self.path}"
        if self.scheme == "tcp":
            return f"tcp://{self.target()}"
        if self.scheme == "docker-container":
            return f"docker-container://{self.name}"
        if self.scheme == "kube-pod":
            query = "&".join(f"{k}={getattr(self, k)}" for k in _KUBE_KEYS if getattr(self, k))
            return f"kube-pod://{self.name}" + (f"?{query}" if query else "")
        if self.scheme == "ssh":
            user = f"{self.user}@" if self.user else ""
            port = f":{self.port}" if self.port else ""
            return f"ssh://{user}{self.host}{port}{self.path}"
        return f"docker-engine://{self.path}"

    def helper_argv(self) -> list[str]:
        """The helper that carries the connection over its stdio (helper schemes only)."""
        if self.scheme == "docker-container":
            docker = ["docker"]
            if "://" in self.docker:
                docker += ["--host", self.docker]
            elif self.docker:
                docker += ["--context", self.docker]
            return [*docker, "exec", "-i", self.name, "buildctl", "dial-stdio"]
        if self.scheme == "kube-pod":
            argv = ["kubectl"]
            if self.context:
                argv += ["--context", self.context]
            if self.namespace:
                argv += ["--namespace", self.namespace]
            argv += ["exec", "-i", self.name]
            if self.container:
                argv += ["-c", self.container]
            return [*argv, "--", "buildctl", "dial-stdio"]
        if self.scheme == "ssh":
            # BatchMode: the helper's stdin carries gRPC, so ssh must never prompt on it.
            argv = ["ssh", "-o", "BatchMode=yes", "-T"]
            argv += shlex.split(os.environ.get("BUILDG_DAP_SSH_OPTS", ""))
            if self.user:
                argv += ["-l", self.user]
            if self.port:
                argv += ["-p", str(self.port)]
            remote = ["buildctl"]
            if self.path:
                remote += ["--addr", shlex.quote(f"unix://{self.path}")]
            return [*argv, "--", self.host, *remote, "dial-stdio"]
        raise ValueError(f"{self} is not reached through a helper")


def _unsupported(text: str) -> str:
    return (
        f"unsupported builder address {text!r}: use unix:///path/to/buildkitd.sock, "
        "tcp://host:port, docker-container://NAME, kube-pod://POD, ssh://[user@]host, "
        "docker-engine://[socket] or the name of a buildx builder"
    )


def _unix(text: str) -> Address:
    parts = urlsplit(text)
    path = (parts.netloc + parts.path) if parts.netloc else parts.path
    if not path:
        raise BuilderError(f"builder address {text!r} names no socket path")
    return Address(scheme="unix", path=path)


def _tcp(text: str) -> Address:
    parts = urlsplit(text)
    try:
        port = parts.port
    except ValueError as exc:
        raise BuilderError(f"builder address {text!r} has a bad port") from exc
    if not parts.hostname or port is None:
        raise BuilderError(f"builder address {text!r} needs tcp://HOST:PORT")
    return Address(scheme="tcp", host=parts.hostname, port=port)


def _docker_container(text: str) -> Address:
    parts = urlsplit(text)
    name = parts.netloc + parts.path.rstrip("/")
    if not _NAME.fullmatch(name):
        raise BuilderError(f"builder address {text!r} needs docker-container://CONTAINER")
    return Address(scheme="docker-container", name=name)


def _kube_pod(text: str) -> Address:
    parts = urlsplit(text)
    if not parts.netloc or parts.path not in ("", "/"):
        raise BuilderError(
            f"builder address {text!r} needs kube-pod://POD[?namespace=NS&context=CTX"
            "&container=NAME]"
        )
    query = parse_qs(parts.query, keep_blank_values=True)
    unknown = sorted(set(query) - set(_KUBE_KEYS))
    if unknown:
        raise BuilderError(
            f"builder address {text!r}: unknown parameter {unknown[0]!r} "
            f"(known: {', '.join(_KUBE_KEYS)})"
        )
    values = {key: query[key][-1] for key in _KUBE_KEYS if key in query}
    return Address.model_validate({"scheme": "kube-pod", "name": parts.netloc, **values})


def _ssh(text: str) -> Address:
    parts = urlsplit(text)
    try:
        port = parts.port or 0
    except ValueError as exc:
        raise BuilderError(f"builder address {text!r} has a bad port") from exc
    if not parts.hostname or parts.password or parts.query:
        raise BuilderError(f"builder address {text!r} needs ssh://[USER@]HOST[:PORT][/SOCKET]")
    path = parts.path if parts.path not in ("", "/") else ""
    return Address(
        scheme="ssh", host=parts.hostname, port=port, user=parts.username or "", path=path
    )


def _docker_engine(text: str) -> Address:
    parts = urlsplit(text)
    path = parts.netloc + parts.path
    if not path:
        host = os.environ.get("DOCKER_HOST", "")
        if host and not host.startswith("unix://"):
            raise BuilderError(
                f"{text}: DOCKER_HOST is {host}; the Docker Engine builder is reached "
                "through a local socket: use docker-engine:///path/to/docker.sock"
            )
        path = host.removeprefix("unix://") or DOCKER_SOCKET
    return Address(scheme="docker-engine", path=path)


_PARSERS = {
    "unix": _unix,
    "tcp": _tcp,
    "docker-container": _docker_container,
    "kube-pod": _kube_pod,
    "ssh": _ssh,
    "docker": _docker_engine,
    "docker-engine": _docker_engine,
}


def address_from_env(flag: str | None) -> Address | None:
    """The builder named by ``--addr`` or ``BUILDKIT_HOST``; None means the embedded one."""
    text = flag or os.environ.get("BUILDKIT_HOST", "")
    return Address.parse(text) if text else None


def check_unix_socket(path: str, name: str, *, missing: str, who: str, really: str) -> None:
    """Fail with the real reason before a dial turns it into a vague error. ``name``
    says whose socket it is, ``missing`` what to do when it is absent, ``who`` who may
    open it, ``really`` whose address it should have been."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise BuilderError(f"{name} socket {path} does not exist: {missing}") from None
    except PermissionError:
        raise BuilderError(f"permission denied reaching {name} socket {path}: {who}") from None
    if not stat.S_ISSOCK(info.st_mode):
        raise BuilderError(f"{path} is not a socket: is it really {really}?")
    if not os.access(path, os.R_OK | os.W_OK):
        raise BuilderError(f"permission denied on {name} socket {path}: {who}")
