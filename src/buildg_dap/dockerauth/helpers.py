"""``docker-credential-<name> get``: the credential helper protocol.

The server URL goes to the helper's stdin; it answers ``{"ServerURL", "Username",
"Secret"}`` on stdout, or fails with "credentials not found" when it has nothing.
"""

from __future__ import annotations

import shutil

import anyio
from anyio.abc import ByteReceiveStream
from pydantic import BaseModel, ConfigDict, Field, ValidationError

# docker-credential-helpers' message; some helpers word the rest differently.
_NOT_FOUND = "credentials not found"


class HelperError(Exception):
    pass


class HelperCredentials(BaseModel):
    model_config = ConfigDict(extra="ignore")

    ServerURL: str = ""
    Username: str = ""
    Secret: str = Field(default="", repr=False)


async def _drain(stream: ByteReceiveStream, into: bytearray) -> None:
    async for chunk in stream:
        into += chunk


async def _run(executable: str, stdin: bytes) -> tuple[int, bytes, bytes]:
    """Exit status, stdout and stderr of ``executable get``.

    Not anyio.run_process: a helper may exit without reading its input, and that
    broken pipe must not hide the status and message it left.
    """
    stdout, stderr = bytearray(), bytearray()
    async with await anyio.open_process([executable, "get"]) as process:
        assert process.stdin and process.stdout and process.stderr  # all piped
        async with anyio.create_task_group() as tg:
            tg.start_soon(_drain, process.stdout, stdout)
            tg.start_soon(_drain, process.stderr, stderr)
            try:
                await process.stdin.send(stdin)
                await process.stdin.aclose()
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                pass
        status = await process.wait()
    return status, bytes(stdout), bytes(stderr)


async def get(helper: str, server_url: str) -> HelperCredentials | None:
    """What ``helper`` stores for ``server_url``; None when it has nothing."""
    program = f"docker-credential-{helper}"
    # Resolve first, so a missing helper is reported as such and not as a failed run.
    executable = shutil.which(program)
    if executable is None:
        raise HelperError(f"credential helper {program} (for {server_url}) is not on PATH")
    try:
        status, stdout, stderr = await _run(executable, server_url.encode())
    except OSError as exc:
        raise HelperError(
            f"cannot run credential helper {program} for {server_url}: {exc.strerror or exc}"
        ) from None
    if status != 0:
        # Helpers report errors on stdout (the protocol's channel), some on stderr.
        message = (stdout.strip() or stderr.strip()).decode(errors="replace")
        if _NOT_FOUND in message.lower():
            return None
        raise HelperError(
            f"credential helper {program} failed for {server_url} "
            f"(exit status {status}): {message or 'no output'}"
        )
    try:
        return HelperCredentials.model_validate_json(stdout)
    except ValidationError:
        raise HelperError(
            f"credential helper {program} returned invalid JSON for {server_url}"
        ) from None
