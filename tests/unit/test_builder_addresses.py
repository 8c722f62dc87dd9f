"""Builder addresses as buildctl and buildx spell them, the helpers they run, and buildx
builders read from a configuration store (files as buildx writes them)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from buildg_dap.buildkit.address import Address, BuilderError, TLSConfig


@pytest.mark.parametrize(
    ("text", "argv"),
    [
        ("docker-container://bk", ["docker", "exec", "-i", "bk", "buildctl", "dial-stdio"]),
        ("kube-pod://p?namespace=ns&context=c&container=k",
         ["kubectl", "--context", "c", "--namespace", "ns", "exec", "-i", "p", "-c", "k",
          "--", "buildctl", "dial-stdio"]),
        ("kube-pod://p", ["kubectl", "exec", "-i", "p", "--", "buildctl", "dial-stdio"]),
        ("ssh://me@host:2222/run/buildkit/buildkitd.sock",
         ["ssh", "-o", "BatchMode=yes", "-T", "-l", "me", "-p", "2222", "--", "host",
          "buildctl", "--addr", "unix:///run/buildkit/buildkitd.sock", "dial-stdio"]),
        ("ssh://host", ["ssh", "-o", "BatchMode=yes", "-T", "--", "host", "buildctl",
                        "dial-stdio"]),
    ],
)  # fmt: skip
def test_helpers(text: str, argv: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BUILDG_DAP_SSH_OPTS", raising=False)
    address = Address.parse(text)
    assert address.helper_argv() == argv
    assert str(address) == text


def test_ssh_options_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BUILDG_DAP_SSH_OPTS", "-F '/tmp/my config'")
    assert Address.parse("ssh://h").helper_argv()[4:6] == ["-F", "/tmp/my config"]


def test_docker_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    assert Address.parse("docker://").path == "/var/run/docker.sock"
    assert Address.parse("docker-engine:///tmp/d.sock").path == "/tmp/d.sock"
    monkeypatch.setenv("DOCKER_HOST", "unix:///tmp/other.sock")
    assert str(Address.parse("docker-engine://")) == "docker-engine:///tmp/other.sock"
    monkeypatch.setenv("DOCKER_HOST", "tcp://10.0.0.1:2375")
    with pytest.raises(BuilderError, match="reached through a local socket"):
        Address.parse("docker://")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("docker-container://", "needs docker-container://CONTAINER"),
        ("kube-pod://p?pod=x", r"unknown parameter 'pod' \(known: namespace, context, "),
        ("kube-pod://p/extra", "needs kube-pod://POD"),
        ("ssh://user:secret@h", "needs ssh://\\[USER@\\]HOST"),
        ("ssh://h:notaport", "has a bad port"),
        ("a b", "unsupported builder address"),
    ],
)
def test_bad_addresses(text: str, message: str) -> None:
    with pytest.raises(BuilderError, match=message):
        Address.parse(text)


def _store(root: Path, *builders: dict[str, object]) -> dict[str, str]:
    (root / "instances").mkdir(parents=True)
    for builder in builders:
        (root / "instances" / str(builder["Name"])).write_text(json.dumps(builder))
    return {"BUILDX_CONFIG": str(root), "HOME": str(root)}


def _node(name: str, endpoint: str, opts: dict[str, str] | None = None) -> dict[str, object]:
    return {"Name": name, "Endpoint": endpoint, "Platforms": None, "DriverOpts": opts,
            "Flags": None, "Files": None}  # fmt: skip


def test_buildx_builders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = _store(
        tmp_path,
        {"Name": "rem", "Driver": "remote", "Dynamic": False, "Nodes": [_node(
            "rem0", "tcp://127.0.0.1:1234",
            {"cacert": "/c/ca.pem", "cert": "/c/cert.pem", "key": "/c/key.pem",
             "servername": "bk"})]},
        {"Name": "dc", "Driver": "docker-container", "Dynamic": False,
         "Nodes": [_node("dc0", "unix:///tmp/d.sock")]},
        {"Name": "eng", "Driver": "docker", "Dynamic": False, "Nodes": [_node("eng", "default")]},
        {"Name": "k8s", "Driver": "kubernetes", "Dynamic": False, "Nodes": [_node("k0", "k")]},
    )  # fmt: skip
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("DOCKER_HOST", raising=False)

    remote = Address.parse("rem")
    assert (str(remote), remote.builder) == ("tcp://127.0.0.1:1234", "rem")
    assert remote.tls == TLSConfig(ca=Path("/c/ca.pem"), cert=Path("/c/cert.pem"),
                                   key=Path("/c/key.pem"), server_name="bk")  # fmt: skip
    container = Address.parse("dc")
    assert container.helper_argv()[:5] == [
        "docker", "--host", "unix:///tmp/d.sock", "exec", "-i"
    ]
    assert container.name == "buildx_buildkit_dc0"
    assert str(Address.parse("eng")) == "docker-engine:///var/run/docker.sock"
    with pytest.raises(BuilderError, match="runs in Kubernetes: name one of its pods"):
        Address.parse("k8s")
    with pytest.raises(BuilderError, match=r"no buildx builder named 'nope' in .* \(known: "
                       r"dc, eng, k8s, rem\)"):  # fmt: skip
        Address.parse("nope")
