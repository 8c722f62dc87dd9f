"""Debian's OpenSSH server on a loopback port, with keys made for the test.

Remote commands find buildctl through the server's ``SetEnv PATH``; the client side is an
ssh configuration file (known host, key) passed as ``-F``, so nothing in ~/.ssh is used.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

from .buildkitd import GOBIN
from .registry import free_port
from .service import LabError, Service

SSHD_BIN = Path("/usr/sbin/sshd")
CONFIG = """\
Port {port}
ListenAddress 127.0.0.1
HostKey {dir}/host_key
AuthorizedKeysFile {dir}/authorized_keys
PidFile {dir}/sshd.pid
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
SetEnv PATH={gobin}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin
LogLevel VERBOSE
"""
CLIENT = """\
Host *
  IdentityFile {key}
  IdentitiesOnly yes
  UserKnownHostsFile {dir}/known_hosts
  StrictHostKeyChecking yes
  ConnectTimeout 10
"""


def _keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", path.name,
                    "-f", str(path)], check=True, capture_output=True)  # fmt: skip


class Sshd:
    """A running sshd accepting ``self.key``; ``client_config(key)`` logs in with another."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="bgd-ssh-", dir="/tmp"))
        self.port = free_port()
        self.log_path = self.dir / "sshd.log"
        self._service: Service | None = None
        try:
            _keygen(self.dir / "host_key")
            self.key = self.dir / "client_key"
            _keygen(self.key)
            self.stranger = self.dir / "stranger_key"
            _keygen(self.stranger)
            (self.dir / "authorized_keys").write_text(Path(f"{self.key}.pub").read_text())
            kind, key = Path(self.dir / "host_key.pub").read_text().split()[:2]
            (self.dir / "known_hosts").write_text(f"[127.0.0.1]:{self.port} {kind} {key}\n")
            config = self.dir / "sshd_config"
            config.write_text(CONFIG.format(port=self.port, dir=self.dir, gobin=GOBIN))
            # sshd refuses to start without its privilege separation directory.
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
            self._service = Service(
                f"sshd 127.0.0.1:{self.port}",
                [SSHD_BIN, "-D", "-e", "-f", config],
                self.log_path,
            )
            self._service.wait_ready(self._answers, timeout=30)
        except BaseException:
            self.stop()
            raise

    def client_config(self, key: Path | None = None) -> Path:
        path = self.dir / f"ssh_config-{(key or self.key).name}"
        path.write_text(CLIENT.format(key=key or self.key, dir=self.dir))
        return path

    def env(self, key: Path | None = None) -> dict[str, str]:
        """What buildg-dap needs in its environment to log in with ``key``."""
        return {"BUILDG_DAP_SSH_OPTS": f"-F {self.client_config(key)}"}

    def _answers(self) -> bool:
        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", self.port)) == 0

    def stop(self) -> None:
        if self._service is not None:
            self._service.stop()
            self._service = None
        shutil.rmtree(self.dir, ignore_errors=True)


def sshd_available() -> bool:
    return SSHD_BIN.is_file() and shutil.which("ssh") is not None


__all__ = ["LabError", "Sshd", "sshd_available"]
