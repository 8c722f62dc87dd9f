"""Docker's client configuration (``config.json``): stored auths and credential helpers."""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

DOCKER_HUB_KEY = "https://index.docker.io/v1/"
DOCKER_HUB_API_HOST = "registry-1.docker.io"
_HUB_ALIASES = frozenset(
    {"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"}
)


class ConfigError(Exception):
    pass


class AuthEntry(BaseModel):
    """One ``auths`` entry; ``auth`` (base64 USER:PASSWORD) wins over username/password,
    as in the Docker CLI."""

    model_config = ConfigDict(extra="ignore")

    auth: str = ""
    username: str = ""
    password: str = Field(default="", repr=False)
    identitytoken: str = Field(default="", repr=False)
    registrytoken: str = Field(default="", repr=False)

    def user_and_password(self) -> tuple[str, str]:
        """Raises ValueError when ``auth`` is not base64 of USER:PASSWORD."""
        if not self.auth:
            return self.username, self.password
        try:
            decoded = base64.b64decode(self.auth, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise ValueError("its auth value is not valid base64") from None
        user, sep, password = decoded.partition(":")
        if not sep:
            raise ValueError("its auth value does not decode to USER:PASSWORD")
        return user, password


class DockerConfig(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    auths: dict[str, AuthEntry] = Field(default_factory=dict)
    creds_store: str = Field(default="", alias="credsStore")
    cred_helpers: dict[str, str] = Field(default_factory=dict, alias="credHelpers")

    # The Docker CLI writes ``null`` for sections it has emptied.
    @field_validator("auths", "cred_helpers", mode="before")
    @classmethod
    def _null_is_empty(cls, value: Any) -> Any:
        return {} if value is None else value

    @field_validator("creds_store", mode="before")
    @classmethod
    def _null_is_unset(cls, value: Any) -> Any:
        return "" if value is None else value

    def auth_entry(self, host: str) -> AuthEntry | None:
        """The ``auths`` entry for a normalised host, whatever form its key takes."""
        for key, entry in self.auths.items():
            if normalize_host(key) == host:
                return entry
        return None

    def helper(self, host: str) -> tuple[str, str] | None:
        """(helper name, setting it came from) for a normalised host: the registry's own
        ``credHelpers`` entry, else ``credsStore`` — one helper, never both. An empty
        ``credHelpers`` entry means no helper for that registry, as in the Docker CLI."""
        for key, name in self.cred_helpers.items():
            if normalize_host(key) == host:
                return (name, "credHelpers") if name else None
        return (self.creds_store, "credsStore") if self.creds_store else None


def normalize_host(key: str) -> str:
    """``https://index.docker.io/v1/``, ``docker.io`` ... are one registry; keys may be
    URLs with a scheme and a path."""
    host = key.strip().lower()
    for scheme in ("https://", "http://"):
        host = host.removeprefix(scheme)
    host = host.split("/", 1)[0]
    return DOCKER_HUB_API_HOST if host in _HUB_ALIASES else host


def server_url(host: str) -> str:
    """The name credential helpers and ``auths`` know a normalised host by."""
    return DOCKER_HUB_KEY if host == DOCKER_HUB_API_HOST else host


def config_dir() -> Path:
    return Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker")


def load(directory: Path | None = None) -> tuple[Path, DockerConfig]:
    """The config file's path and contents; a missing file is an empty config."""
    path = (directory or config_dir()) / "config.json"
    try:
        text = path.read_text()
    except FileNotFoundError:
        return path, DockerConfig()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    try:
        config = DockerConfig.model_validate(json.loads(text))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path} is not valid JSON: {exc}") from None
    except ValidationError as exc:
        raise ConfigError(f"{path} is not a valid Docker config: {_first_problem(exc)}") from None
    # Decode every entry now, as the Docker CLI does, so a broken one fails early.
    for key, entry in config.auths.items():
        try:
            entry.user_and_password()
        except ValueError as exc:
            raise ConfigError(f"{path}: auths entry {key!r} is invalid: {exc}") from None
    return path, config


def _first_problem(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"]) or "top level"
    return f"{where}: {error['msg']}"


def is_loopback(host: str) -> bool:
    """True for localhost, 127.0.0.0/8 and ::1, with or without a port."""
    name = host
    if name.startswith("["):
        name = name[1 : name.find("]")]
    elif name.count(":") == 1:
        name = name.split(":", 1)[0]
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False
