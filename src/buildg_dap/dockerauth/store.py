"""Where registry credentials come from, in Docker's order: the registry's credHelper,
then credsStore, then the plain ``auths`` of config.json."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict

from buildg_dap.dockerauth import helpers
from buildg_dap.dockerauth.config import (
    DOCKER_HUB_API_HOST,
    DOCKER_HUB_KEY,
    AuthEntry,
    DockerConfig,
    load,
    normalize_host,
)

_IDENTITY_USER = "<token>"


class Credentials(BaseModel):
    model_config = ConfigDict(frozen=True)

    username: str = ""
    secret: str = ""
    identity_token: str | None = None
    registry_token: str | None = None

    def __repr__(self) -> str:  # never print secrets
        return f"Credentials(username={self.username!r}, secret=***)"


class CredentialStore:
    """Credentials for registry hosts, read from one Docker config directory."""

    def __init__(self, directory: Path | None = None) -> None:
        self.path, self.config = load(directory)

    @classmethod
    def from_config_dir(cls, directory: Path) -> CredentialStore:
        return cls(directory)

    @classmethod
    def empty(cls) -> CredentialStore:
        store = cls.__new__(cls)
        store.path, store.config = Path("/dev/null"), DockerConfig()
        return store

    def _helper_for(self, host: str) -> str:
        for key, helper in self.config.cred_helpers.items():
            if normalize_host(key) == host:
                return helper
        return self.config.creds_store

    def _auth_entry(self, host: str) -> AuthEntry | None:
        for key, entry in self.config.auths.items():
            if normalize_host(key) == host:
                return entry
        return None

    async def lookup(self, host: str) -> Credentials | None:
        host = normalize_host(host)
        helper = self._helper_for(host)
        if helper:
            server = DOCKER_HUB_KEY if host == DOCKER_HUB_API_HOST else host
            found = await helpers.get(helper, server)
            if found is not None and (found.Username or found.Secret):
                if found.Username == _IDENTITY_USER:
                    return Credentials(identity_token=found.Secret)
                return Credentials(username=found.Username, secret=found.Secret)
        entry = self._auth_entry(host)
        if entry is None:
            return None
        user, password = entry.user_and_password()
        if not (user or password or entry.identitytoken or entry.registrytoken):
            return None
        return Credentials(
            username=user,
            secret=password,
            identity_token=entry.identitytoken or None,
            registry_token=entry.registrytoken or None,
        )

    def sources(self, host: str) -> list[str]:
        """Where credentials for ``host`` were looked for, for error messages."""
        host = normalize_host(host)
        places = []
        for key, helper in self.config.cred_helpers.items():
            if normalize_host(key) == host:
                places.append(f"docker-credential-{helper} (credHelpers in {self.path})")
        if self.config.creds_store:
            places.append(
                f"docker-credential-{self.config.creds_store} (credsStore in {self.path})"
            )
        places.append(f"{self.path} auths")
        return places
