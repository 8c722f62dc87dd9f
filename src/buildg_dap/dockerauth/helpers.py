"""``docker-credential-<name> get``: the credential helper protocol."""

from __future__ import annotations

import json
import shutil

import anyio
from pydantic import BaseModel, ConfigDict, ValidationError

_NOT_FOUND = "credentials not found in native keychain"


class HelperError(Exception):
    pass


class HelperCredentials(BaseModel):
    model_config = ConfigDict(extra="ignore")

    ServerURL: str = ""
    Username: str = ""
    Secret: str = ""


async def get(helper: str, server_url: str) -> HelperCredentials | None:
    """What ``helper`` stores for ``server_url``; None when it has nothing."""
    program = f"docker-credential-{helper}"
    if shutil.which(program) is None:
        raise HelperError(f"credential helper {program} is not on PATH (needed for {server_url})")
    done = await anyio.run_process([program, "get"], input=server_url.encode(), check=False)
    output = (done.stdout or b"").decode(errors="replace").strip()
    if done.returncode != 0:
        message = output or (done.stderr or b"").decode(errors="replace").strip()
        if _NOT_FOUND in message.lower():
            return None
        raise HelperError(f"{program} failed for {server_url}: {message or 'no output'}")
    try:
        return HelperCredentials.model_validate(json.loads(output))
    except (ValueError, ValidationError):
        raise HelperError(f"{program} returned invalid JSON for {server_url}") from None
