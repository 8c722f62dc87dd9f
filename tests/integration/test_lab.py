"""The lab itself works: builds pull busybox through the mirror, registries answer."""

from __future__ import annotations

from pathlib import Path

from tests.lab import Buildkitd, Registry, buildctl_build
from tests.lab.busybox import BUSYBOX_BIN


def build_dockerfile(builder: Buildkitd, dockerfile: str, workdir: Path) -> Path:
    context = workdir / "context"
    context.mkdir()
    (context / "Dockerfile").write_text(dockerfile)
    out = workdir / "out"
    buildctl_build(
        builder,
        context,
        "--output",
        f"type=local,dest={out}",
    )
    return out


def test_run_step_on_busybox(builder_a: Buildkitd, tmp_path: Path) -> None:
    out = build_dockerfile(builder_a, "FROM busybox\nRUN echo hi > /hi\n", tmp_path)
    assert (out / "hi").read_text() == "hi\n"


def test_fresh_builder_pulls_busybox(fresh_builder: Buildkitd, tmp_path: Path) -> None:
    out = build_dockerfile(fresh_builder, "FROM busybox\nRUN busybox true\n", tmp_path)
    # Byte-equal to Debian's binary: the image came from the lab registry, not Docker Hub.
    assert (out / "bin" / "busybox").read_bytes() == BUSYBOX_BIN.read_bytes()


def test_registry_lists_busybox(registry: Registry) -> None:
    with registry.client() as client:
        answer = client.get("/v2/_catalog")
    assert answer.status_code == 200
    assert "library/busybox" in answer.json()["repositories"]


def test_auth_registry_needs_credentials(auth_registry: Registry) -> None:
    with auth_registry.client(authenticated=False) as client:
        assert client.get("/v2/").status_code == 401
    with auth_registry.client() as client:
        assert client.get("/v2/").status_code == 200
