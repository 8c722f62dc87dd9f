"""buildx builders by name: buildx's configuration store (``$BUILDX_CONFIG``, else
``$DOCKER_CONFIG/buildx``, else ``~/.docker/buildx``) holds one JSON file per builder
under ``instances/``. A builder's first node says where its BuildKit runs."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from buildg_dap.buildkit.address import DOCKER_SOCKET, Address, BuilderError, TLSConfig


class Node(BaseModel):
    model_config = ConfigDict(extra="ignore")

    Name: str = ""
    Endpoint: str = ""
    DriverOpts: dict[str, str] | None = None


class Builder(BaseModel):
    model_config = ConfigDict(extra="ignore")

    Name: str
    Driver: str = ""
    Nodes: list[Node] = Field(default_factory=list)


def _docker_dir(env: Mapping[str, str]) -> Path:
    if env.get("DOCKER_CONFIG"):
        return Path(env["DOCKER_CONFIG"])
    return Path(env.get("HOME", "~")).expanduser() / ".docker"


def config_dir(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    if env.get("BUILDX_CONFIG"):
        return Path(env["BUILDX_CONFIG"])
    return _docker_dir(env) / "buildx"


def load_builders(env: Mapping[str, str] | None = None) -> list[Builder]:
    """Every builder in the store, by name; unreadable entries are left out."""
    instances = config_dir(env) / "instances"
    found = []
    for path in sorted(instances.glob("*")) if instances.is_dir() else []:
        try:
            found.append(Builder.model_validate_json(path.read_bytes()))
        except (OSError, ValidationError, ValueError):
            continue
    return found


def _docker_endpoint(endpoint: str, env: Mapping[str, str]) -> str:
    """A Docker endpoint (a host, or a docker context's name) as a host address."""
    if "://" in endpoint:
        return endpoint
    if endpoint in ("", "default"):
        return env.get("DOCKER_HOST", "") or f"unix://{DOCKER_SOCKET}"
    digest = hashlib.sha256(endpoint.encode()).hexdigest()
    meta = _docker_dir(env) / "contexts" / "meta" / digest / "meta.json"
    try:
        host = json.loads(meta.read_text())["Endpoints"]["docker"]["Host"]
    except (OSError, ValueError, KeyError, TypeError):
        raise BuilderError(f"docker context {endpoint!r} not found ({meta})") from None
    return str(host)


def builder_address(builder: Builder, env: Mapping[str, str] | None = None) -> Address:
    """Where ``builder``'s first node's BuildKit is reached, with its TLS files."""
    env = os.environ if env is None else env
    if not builder.Nodes:
        raise BuilderError(f"buildx builder {builder.Name!r} has no nodes")
    node = builder.Nodes[0]
    opts = node.DriverOpts or {}
    driver = builder.Driver
    if driver == "remote":
        address = Address.parse(node.Endpoint)
        if opts.keys() & {"cacert", "cert", "key", "servername"}:
            tls = TLSConfig(
                ca=Path(opts["cacert"]) if opts.get("cacert") else None,
                cert=Path(opts["cert"]) if opts.get("cert") else None,
                key=Path(opts["key"]) if opts.get("key") else None,
                server_name=opts.get("servername") or None,
            )
            address = address.model_copy(update={"tls": tls})
    elif driver == "docker-container":
        # buildx names the container after the node.
        address = Address(
            scheme="docker-container",
            name=f"buildx_buildkit_{node.Name}",
            docker=node.Endpoint if node.Endpoint != "default" else "",
        )
    elif driver == "docker":
        host = _docker_endpoint(node.Endpoint, env)
        if not host.startswith("unix://"):
            raise BuilderError(
                f"buildx builder {builder.Name!r} is Docker Engine at {host}; only a local "
                "socket is supported: use docker-engine:///path/to/docker.sock"
            )
        address = Address(scheme="docker-engine", path=host.removeprefix("unix://"))
    elif driver == "kubernetes":
        raise BuilderError(
            f"buildx builder {builder.Name!r} runs in Kubernetes: name one of its pods, "
            "kube-pod://POD?namespace=NS (kubectl get pods lists them)"
        )
    else:
        raise BuilderError(f"buildx builder {builder.Name!r} has driver {driver!r}, unsupported")
    return address.model_copy(update={"builder": builder.Name})


def resolve_builder(name: str, env: Mapping[str, str] | None = None) -> Address:
    builders = load_builders(env)
    for builder in builders:
        if builder.Name == name:
            return builder_address(builder, env)
    known = ", ".join(b.Name for b in builders) or "none"
    raise BuilderError(
        f"no buildx builder named {name!r} in {config_dir(env)} (known: {known}); "
        "a builder address looks like unix:///path, tcp://host:port or "
        "docker-container://NAME"
    )
