"""A Debian docker-registry on a free loopback port, optionally behind htpasswd auth."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import httpx

from .service import LabError, Service

REGISTRY_BIN = "docker-registry"
CONFIG = """\
version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: {root}/data
  delete:
    enabled: true
http:
  addr: {host}
{auth}"""
AUTH = """\
auth:
  htpasswd:
    realm: buildg-dap-lab
    path: {root}/htpasswd
"""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Registry:
    """`Registry()` is ready to use on return; `stop()` removes its process and storage."""

    def __init__(self, username: str | None = None, password: str | None = None) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="bgd-reg-", dir="/tmp"))
        self.host = f"127.0.0.1:{free_port()}"
        self.username = username
        self.password = password
        auth = ""
        if username is not None and password is not None:
            self._write_htpasswd(username, password)
            auth = AUTH.format(root=self.root)
        config = self.root / "config.yml"
        config.write_text(CONFIG.format(root=self.root, host=self.host, auth=auth))
        self._service = Service(
            f"registry {self.host}", [REGISTRY_BIN, "serve", config], self.root / "registry.log"
        )
        try:
            self._service.wait_ready(self._answers, timeout=30)
        except BaseException:
            self.stop()
            raise

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    @property
    def log_path(self) -> Path:
        return self._service.log_path

    def client(self, authenticated: bool = True) -> httpx.Client:
        """An HTTP client for this registry (credentials attached when it has them)."""
        auth = None
        if authenticated and self.username is not None and self.password is not None:
            auth = httpx.BasicAuth(self.username, self.password)
        return httpx.Client(base_url=self.url, auth=auth, trust_env=False, timeout=10)

    def stop(self) -> None:
        if hasattr(self, "_service"):
            self._service.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def _write_htpasswd(self, username: str, password: str) -> None:
        done = subprocess.run(
            ["htpasswd", "-Bbn", username, password], capture_output=True, text=True
        )
        if done.returncode != 0:
            raise LabError(f"htpasswd failed: {done.stderr}")
        (self.root / "htpasswd").write_text(done.stdout)

    def _answers(self) -> bool:
        # 401 is the ready answer of a registry with auth.
        try:
            with self.client(authenticated=False) as client:
                return client.get("/v2/").status_code in (200, 401)
        except httpx.TransportError:
            return False
