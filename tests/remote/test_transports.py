"""Builds and builder status through each transport, and each way one fails."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.integration.cliutil import CLI, run_cli, write_context
from tests.lab import Buildkitd, Registry
from tests.lab.dockerd import Dockerd
from tests.lab.service import clean_env
from tests.lab.sshd import Sshd
from tests.remote.conftest import CONTAINER, STOPPED

DOCKERFILE = """\
FROM busybox AS work
RUN echo "built by $(cat /etc/hostname >/dev/null; echo buildkit)" > /out
FROM scratch
COPY --from=work /out /out
"""


def _build(tmp_path: Path, addr: str, env: dict[str, str]) -> str:
    context = write_context(tmp_path / "ctx", DOCKERFILE)
    out = tmp_path / "out"
    done = run_cli("build", "--progress", "quiet", "-o", out, "--addr", addr, context, env=env)
    assert done.returncode == 0, done.stderr
    return (out / "out").read_text()


def test_docker_container_build(tmp_path: Path, dockerd: Dockerd) -> None:
    assert _build(tmp_path, f"docker-container://{CONTAINER}", dockerd.env()) == (
        "built by buildkit\n"
    )


def test_ssh_build(tmp_path: Path, sshd: Sshd, builder_a: Buildkitd) -> None:
    socket = builder_a.address.removeprefix("unix://")
    addr = f"ssh://root@127.0.0.1:{sshd.port}{socket}"
    assert _build(tmp_path, addr, sshd.env()) == "built by buildkit\n"


def test_kube_pod_status_through_a_kubectl_stand_in(kubectl: dict[str, str]) -> None:
    addr = "kube-pod://lab-pod?namespace=lab&context=kind-lab&container=buildkitd"
    done = run_cli("builder", "status", "--addr", addr, env=kubectl)
    assert done.returncode == 0, done.stderr
    assert f"address:  {addr}\n" in done.stdout
    assert "version:  v0.32.2\n" in done.stdout
    calls = (Path(kubectl["LAB_KUBE_PODS"]) / "calls").read_text().splitlines()
    assert calls[0] == (
        "--context kind-lab --namespace lab exec -i lab-pod -c buildkitd -- buildctl dial-stdio"
    )


def test_docker_engine_status_build_and_debug(
    tmp_path: Path, dockerd: Dockerd, registry: Registry
) -> None:
    addr = f"docker-engine://{dockerd.socket}"
    done = run_cli("builder", "status", "--addr", addr)
    assert done.returncode == 0, done.stderr
    assert "version:  older than v0.11 (no Control.Info)\n" in done.stdout
    assert "engine:   Docker Engine 20.10.24" in done.stdout

    # The engine has no mirror: the seed's images come from the lab registry by name.
    seed = (Path(__file__).parents[2] / "examples" / "seed" / "Dockerfile").read_text()
    seed = seed.replace("FROM busybox", f"FROM {registry.host}/library/busybox")
    context = write_context(tmp_path / "seed", seed)
    # The engine runs without a bridge (--bridge=none): RUN steps get no network.
    done = run_cli("build", "--network", "none", "--addr", addr, context)
    assert done.returncode == 0, done.stderr
    assert "RUN cat /hello /hi" in done.stderr

    done = run_cli("debug", "--addr", addr, context)
    assert done.returncode == 1
    assert done.stderr.startswith(
        f"error: the BuildKit in Docker Engine 20.10.24+dfsg1 at {dockerd.socket} is older "
        "than v0.11.0 (it does not answer Control.Info); buildg-dap needs v0.11.0 or newer "
        "(it lacks evaluating results (gateway.evaluate); reading files inside debug "
        "containers (gateway.exec.filesystem)"
    ), done.stderr


def test_helper_missing(tmp_path: Path) -> None:
    context = write_context(tmp_path / "ctx", "FROM busybox\n")
    done = run_cli("debug", "--addr", "docker-container://x", context,
                   env={"PATH": str(tmp_path)})  # fmt: skip
    assert done.returncode == 1
    assert done.stderr == (
        "error: docker-container://x is reached through docker, which is not on PATH: "
        "install the docker CLI (e.g. apt-get install docker.io)\n"
    )


def test_container_not_running(tmp_path: Path, dockerd: Dockerd) -> None:
    context = write_context(tmp_path / "ctx", "FROM busybox\n")
    done = run_cli("debug", "--addr", f"docker-container://{STOPPED}", context, env=dockerd.env())
    assert done.returncode == 1
    assert done.stderr.startswith(
        f"error: cannot reach buildkitd at docker-container://{STOPPED} through "
        f"`docker exec -i {STOPPED} buildctl dial-stdio`: docker exited with status 1: "
        "Error response from daemon: Container "
    ), done.stderr
    assert done.stderr.rstrip().endswith("is not running"), done.stderr


def test_ssh_auth_failure(tmp_path: Path, sshd: Sshd) -> None:
    context = write_context(tmp_path / "ctx", "FROM busybox\n")
    addr = f"ssh://root@127.0.0.1:{sshd.port}"
    done = run_cli("debug", "--addr", addr, context, env=sshd.env(sshd.stranger))
    assert done.returncode == 1
    assert done.stderr.startswith(f"error: cannot reach buildkitd at {addr} through `ssh "), (
        done.stderr
    )
    assert done.stderr.rstrip().endswith(
        "ssh exited with status 255: root@127.0.0.1: Permission denied (publickey)."
    ), done.stderr


def test_kube_pod_not_found(tmp_path: Path, kubectl: dict[str, str]) -> None:
    done = run_cli("builder", "status", "--addr", "kube-pod://nope", env=kubectl)
    assert done.returncode == 1
    assert done.stderr == (
        "error: cannot reach buildkitd at kube-pod://nope through `kubectl exec -i nope -- "
        "buildctl dial-stdio`: kubectl exited with status 1: Error from server (NotFound): "
        'pods "nope" not found\n'
    )


def test_engine_socket_permission_denied(dockerd: Dockerd) -> None:
    # Where another user can read it (pytest's own temporary directories are root's only).
    context = write_context(Path(tempfile.mkdtemp(prefix="bgd-ctx-", dir="/tmp")), "FROM x\n")
    context.chmod(0o755)
    # Root opens any socket; without the DAC capabilities the socket's 0660 shuts it out.
    done = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", str(CLI), "debug",
         "--addr", f"docker-engine://{dockerd.socket}", str(context)],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60, check=False,
        env={**clean_env(), "HOME": str(context), "DOCKER_CONFIG": str(context)},
    )  # fmt: skip
    shutil.rmtree(context)
    assert done.returncode == 1
    assert done.stderr == (
        f"error: permission denied on Docker Engine socket {dockerd.socket}: run as root "
        "or as a user in the docker group\n"
    )
