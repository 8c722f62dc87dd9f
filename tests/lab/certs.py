"""Certificates made for a test: a CA, a server certificate for 127.0.0.1, a client one."""

from __future__ import annotations

import subprocess
from pathlib import Path


def _openssl(*args: str | Path) -> None:
    subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True)


class Certs:
    """A CA with a server certificate for 127.0.0.1 and a client certificate."""

    def __init__(self, root: Path, name: str) -> None:
        self.ca, self.ca_key = root / f"{name}-ca.pem", root / f"{name}-ca.key"
        _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                 f"/CN={name} test CA", "-keyout", self.ca_key, "-out", self.ca)
        self.server, self.server_key = self._leaf(root, f"{name}-server", "IP:127.0.0.1")
        self.client, self.client_key = self._leaf(root, f"{name}-client", "DNS:client")

    def _leaf(self, root: Path, name: str, san: str) -> tuple[Path, Path]:
        key, csr, cert, ext = (root / f"{name}.{s}" for s in ("key", "csr", "pem", "ext"))
        ext.write_text(f"subjectAltName={san}\n")
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}",
                 "-keyout", key, "-out", csr)
        _openssl("x509", "-req", "-in", csr, "-CA", self.ca, "-CAkey", self.ca_key,
                 "-CAcreateserial", "-days", "1", "-extfile", ext, "-out", cert)
        return cert, key
