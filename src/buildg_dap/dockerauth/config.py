"""Docker's client configuration (``config.json``): stored auths and credential helpers."""

from __future__ import annotations

import base64
import binascii
import json
import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

DOCKER_HUB_KEY = "https://index.docker.io/v1/"
DOCKER_HUB_API_HOST = "registry-1.docker.io"
_HUB_ALIASES = frozenset(
    {"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"}
)


class ConfigError(Exception):
    pass


class AuthEntry(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    auth: str = ""
    username: str = ""
    password: str = ""
    identitytoken: str = ""
    registrytoken: str = ""

    def user_and_password(self) -> tuple[str, str]:
        if self.auth:
            try:
                decoded = base64.b64decode(self.auth, validate=True).decode()
            except (binascii.Error, UnicodeDecodeError) as exc:
                raise ConfigError(f"invalid base64 in an auths entry: {exc}") from None
            user, sep, password = decoded.partition(":")
            if not sep:
                raise ConfigError("an auths entry's auth is not base64 of USER:PASSWORD")
            return user, password
        return self.username, self.password


class DockerConfig(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    auths: dict[str, AuthEntry] = Field(default_factory=dict)
    creds_store: str = Field(default="", alias="credsStore")
    cred_helpers: dict[str, str] = Field(default_factory=dict, alias="credHelpers")


def normalize_host(key: str) -> str:
    """``https://index.docker.io/v1/``, ``docker.io`` ... are one registry; keys may be
    URLs with a scheme and a path."""
    host = key.strip()
    for scheme in ("https://", "http://"):
        if host.startswith(scheme):
            host = host[len(scheme) :]
    host = host.split("/", 1)[0].lower()
    return DOCKER_HUB_API_HOST if host in _HUB_ALIASES else host


def config_dir() -> Path:
    return Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker")


def load(directory: Path | None = None) -> tuple[Path, DockerConfig]:
    path = (directory or config_dir()) / "config.json"
    try:
        text = path.read_text()
    except FileNotFoundError:
        return path, DockerConfig()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    try:
        return path, DockerConfig.model_validate(json.loads(text))
    except (ValueError, ValidationError) as exc:
        raise ConfigError(f"{path} is not a valid Docker config: {exc}") from None
