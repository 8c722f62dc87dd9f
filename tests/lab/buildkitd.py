"""A private buildkitd (OCI worker, runc) with its own state dir, socket and config."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from .service import LabError, Service, clean_env, log_tail

GOBIN = Path(os.environ.get("BUILDG_DAP_GOBIN", Path.home() / "go" / "bin"))
BUILDKITD_BIN = GOBIN / "buildkitd"
BUILDCTL_BIN = GOBIN / "buildctl"
SNAPSHOTTERS: tuple[str, ...] = ("overlayfs", "native")

CONFIG = """\
debug = false

[worker.oci]
  enabled = true
  snapshotter = "{snapshotter}"
  # No CNI plugins here: RUN steps share the host network.
  networkMode = "host"

[worker.containerd]
  enabled = false

[registry."docker.io"]
  mirrors = ["{mirror}"]
{insecure}"""
INSECURE = """
[registry."{host}"]
  http = true
  insecure = true
"""


class Buildkitd:
    """A running buildkitd; `docker.io` resolves through `mirror`, a plain-HTTP registry.

    `insecure` lists further registries reached over plain HTTP. The snapshotters are tried
    in order; `.snapshotter` says which one started.
    """

    def __init__(
        self,
        mirror: str,
        insecure: Sequence[str] = (),
        snapshotters: Sequence[str] = SNAPSHOTTERS,
        *,
        tcp_port: int | None = None,
        extra_args: Sequence[str | Path] = (),
        parent: Path = Path("/tmp"),
    ) -> None:
        # Short paths: a Unix socket path must fit in 107 bytes.
        self.dir = Path(tempfile.mkdtemp(prefix="bgd-", dir=parent))
        self.root = self.dir / "root"
        # A tcp builder (e.g. one serving TLS) is ready when its port accepts.
        self.tcp_port = tcp_port
        self.address = (
            f"tcp://127.0.0.1:{tcp_port}" if tcp_port else f"unix://{self.dir}/buildkitd.sock"
        )
        self._extra_args = list(extra_args)
        self.log_path = self.dir / "buildkitd.log"
        self._service: Service | None = None
        hosts = dict.fromkeys([mirror, *insecure])
        insecure_toml = "".join(INSECURE.format(host=h) for h in hosts)
        failures: list[str] = []
        try:
            for snapshotter in snapshotters:
                config = self.dir / f"buildkitd-{snapshotter}.toml"
                config.write_text(
                    CONFIG.format(snapshotter=snapshotter, mirror=mirror, insecure=insecure_toml)
                )
                try:
                    self._start(config)
                except LabError as err:
                    failures.append(str(err))
                    self._stop_service()
                    self._clean_root()
                    continue
                self.snapshotter = snapshotter
                return
        except BaseException:
            self.stop()
            raise
        self.stop()
        raise LabError("buildkitd did not start with any snapshotter:\n" + "\n".join(failures))

    def _start(self, config: Path) -> None:
        self._service = Service(
            f"buildkitd {self.address}",
            [
                BUILDKITD_BIN,
                "--root",
                self.root,
                "--addr",
                self.address,
                "--config",
                config,
                *self._extra_args,
            ],
            self.log_path,
        )
        self._service.wait_ready(self._answers, timeout=60)

    def _answers(self) -> bool:
        if self.tcp_port is not None:
            with socket.socket() as probe:
                return probe.connect_ex(("127.0.0.1", self.tcp_port)) == 0
        if not Path(self.address.removeprefix("unix://")).exists():
            return False
        try:
            return buildctl(self, "debug", "workers", check=False, timeout=10).returncode == 0
        except subprocess.TimeoutExpired:
            return False

    def crash(self) -> None:
        """Kill the daemon alone, leaving its containers running (``stop`` cleans up)."""
        if self._service is not None:
            self._service.kill()

    def stop(self) -> None:
        self._stop_service()
        self._clean_root()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _stop_service(self) -> None:
        if self._service is None:
            return
        # RUN containers run in their own sessions, out of reach of the group signal, and a
        # graceful shutdown waits for them: kill them first, delete what is left after.
        running = self._containers()
        for container in running:
            subprocess.run(["runc", "kill", container, "KILL"], capture_output=True)
        self._service.stop()
        self._service = None
        for container in dict.fromkeys([*running, *self._containers()]):
            subprocess.run(["runc", "delete", "--force", container], capture_output=True)

    def _containers(self) -> list[str]:
        # runc keeps its state in the shared default root; this builder's containers are
        # the ones named after its bundle dirs.
        return [p.name for p in self.root.glob("runc-*/executor/*") if p.is_dir()]

    def _clean_root(self) -> None:
        # A killed buildkitd can leave snapshot and executor mounts behind; rmtree needs
        # them gone. Deepest first, lazily, so a busy mount cannot block teardown.
        for mount in sorted(mounts_under(self.root), key=len, reverse=True):
            subprocess.run(["umount", "-l", mount], capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)


def mounts_under(path: Path) -> list[str]:
    prefix = str(path.resolve())
    found = []
    with open("/proc/self/mountinfo") as mountinfo:
        for line in mountinfo:
            # Field 5 is the mount point, with octal escapes for space, tab, newline and \.
            point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), line.split()[4])
            if point == prefix or point.startswith(prefix + "/"):
                found.append(point)
    return found


def buildctl(
    builder: Buildkitd, *args: str | Path, check: bool = True, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Runs buildctl against `builder`; with `check`, a failure raises with its stderr."""
    argv = [str(BUILDCTL_BIN), "--addr", builder.address, *map(str, args)]
    done = subprocess.run(
        argv,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=timeout,
    )
    if check and done.returncode != 0:
        raise LabError(
            f"{' '.join(argv)} exited with {done.returncode}\n--- stderr ---\n"
            f"{done.stderr[-4000:]}\n--- {builder.log_path} ---\n{log_tail(builder.log_path)}"
        )
    return done


def buildctl_build(
    builder: Buildkitd, context: Path, *args: str | Path, check: bool = True, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """``buildctl build`` of the Dockerfile in ``context`` (which is also the build context)."""
    return buildctl(
        builder, "build", "--frontend", "dockerfile.v0", "--local", f"context={context}",
        "--local", f"dockerfile={context}", *args, check=check, timeout=timeout,
    )  # fmt: skip
