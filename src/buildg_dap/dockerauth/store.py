"""Where registry credentials come from, in Docker's order: the registry's credential
helper (``credHelpers``, else ``credsStore``), then the plain ``auths`` of config.json.

One store serves both buildkitd (the session's Auth service) and our registry client.
"""

from __future__ import annotations

from pathlib import Path

import anyio
from pydantic import BaseModel, ConfigDict, Field

from buildg_dap.dockerauth import helpers
from buildg_dap.dockerauth.config import load, normalize_host, server_url

# A helper answering this user name holds an identity (refresh) token, not a password.
_IDENTITY_USER = "<token>"


class Credentials(BaseModel):
    """What is known for one registry; secrets stay out of repr and str."""

    model_config = ConfigDict(frozen=True)

    username: str = ""
    secret: str = Field(default="", repr=False)
    identity_token: str | None = Field(default=None, repr=False)
    # A bearer token given in config.json, used as is instead of asking a token server.
    registry_token: str | None = Field(default=None, repr=False)


class CredentialStore:
    """Credentials for registry hosts, read from one Docker config directory
    (``$DOCKER_CONFIG`` or ``~/.docker`` by default)."""

    def __init__(self, directory: Path | None = None) -> None:
        self.path, self.config = load(directory)
        # Helpers may prompt (a GPG pin entry) or be slow: ask each host once, one at a time.
        self._found: dict[str, Credentials | None] = {}
        self._lock = anyio.Lock()

    @classmethod
    def from_config_dir(cls, directory: Path) -> CredentialStore:
        return cls(directory)

    async def lookup(self, host: str) -> Credentials | None:
        """Credentials for ``host`` (any spelling: URL, Docker Hub alias), or None.

        Raises HelperError when a configured helper is missing or fails.
        """
        host = normalize_host(host)
        async with self._lock:
            if host not in self._found:
                self._found[host] = await self._find(host)
            return self._found[host]

    async def _find(self, host: str) -> Credentials | None:
        helper = self.config.helper(host)
        if helper is not None:
            found = await helpers.get(helper[0], server_url(host))
            if found is not None and (found.Username or found.Secret):
                if found.Username == _IDENTITY_USER:
                    return Credentials(identity_token=found.Secret)
                return Credentials(username=found.Username, secret=found.Secret)
        entry = self.config.auth_entry(host)
        if entry is None:
            return None
        # Already validated when the config was loaded.
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
        """Where credentials for ``host`` are looked for, in order, for error messages."""
        places = []
        helper = self.config.helper(normalize_host(host))
        if helper is not None:
            name, setting = helper
            places.append(f"docker-credential-{name} ({setting})")
        places.append(f"{self.path} auths" if self.path.is_file() else f"{self.path} (absent)")
        return places
