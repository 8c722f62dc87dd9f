"""Builders reached through helpers and Docker Engine: a private dockerd running a BuildKit
container, an OpenSSH server on loopback, and a kubectl stand-in (no cluster exists here)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.lab import Buildkitd, Lab, Registry
from tests.lab.dockerd import Dockerd, dockerd_available
from tests.lab.sshd import Sshd, sshd_available

pytestmark = pytest.mark.integration
CONTAINER = "bgd-buildkit"
STOPPED = "bgd-buildkit-stopped"
# A kubectl stand-in: `kubectl [--context C] [--namespace N] exec -i POD [-c NAME] -- CMD…`
# runs CMD here, with BUILDKIT_HOST set to the address $LAB_KUBE_PODS/POD holds, and
# records its arguments in $LAB_KUBE_PODS/calls.
KUBECTL = """\
#!/bin/sh
printf '%s\\n' "$*" >> "$LAB_KUBE_PODS/calls"
pod=""
while [ $# -gt 0 ]; do
  case "$1" in
    --context|--namespace|-c) shift 2 ;;
    exec|-i) shift ;;
    --) shift; break ;;
    *) pod="$1"; shift ;;
  esac
done
if [ ! -f "$LAB_KUBE_PODS/$pod" ]; then
  echo "Error from server (NotFound): pods \\"$pod\\" not found" >&2
  exit 1
fi
BUILDKIT_HOST=$(cat "$LAB_KUBE_PODS/$pod") exec "$@"
"""


@pytest.fixture(scope="session")
def dockerd(lab: Lab, registry: Registry, auth_registry: Registry) -> Iterator[Dockerd]:
    if not dockerd_available():
        pytest.fail("dockerd is not installed: run scripts/setup.sh")
    daemon = Dockerd(registry.host)
    try:
        daemon.import_buildkit_image([auth_registry.host])
        daemon.run_buildkit(CONTAINER)
        daemon.run_buildkit(STOPPED, start=False)
        yield daemon
    finally:
        daemon.stop()


@pytest.fixture(scope="session")
def sshd() -> Iterator[Sshd]:
    if not sshd_available():
        pytest.fail("sshd is not installed: run scripts/setup.sh")
    server = Sshd()
    yield server
    server.stop()


@pytest.fixture
def kubectl(tmp_path: Path, builder_a: Buildkitd) -> dict[str, str]:
    """The environment that puts the stand-in first on PATH, with pod ``lab-pod``."""
    bin_dir, pods = tmp_path / "bin", tmp_path / "pods"
    bin_dir.mkdir()
    pods.mkdir()
    script = bin_dir / "kubectl"
    script.write_text(KUBECTL)
    script.chmod(0o755)
    (pods / "lab-pod").write_text(builder_a.address)
    return {"PATH": f"{bin_dir}:{os.environ['PATH']}", "LAB_KUBE_PODS": str(pods)}
