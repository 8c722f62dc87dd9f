"""``builder ls``: every builder this machine knows of, whether it answers, its version.

The embedded builder (never started by looking), ``BUILDKIT_HOST`` when set, and each
buildx builder in buildx's configuration store; all are asked at once.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

import anyio

from buildg_dap.buildkit import buildx, embedded
from buildg_dap.buildkit.address import Address, BuilderError
from buildg_dap.buildkit.connection import connect

_WAIT = 5.0


@dataclass
class Entry:
    name: str
    address: str
    status: str = ""
    version: str = ""
    _target: Address | None = None


async def _ask(entry: Entry) -> None:
    assert entry._target is not None
    try:
        with anyio.fail_after(_WAIT * 3):
            async with await connect(entry._target, wait=_WAIT, require=None) as conn:
                entry.status = "reachable"
                version = conn.version or "older than v0.11"
                if conn.engine:
                    version += f" (Docker Engine {conn.engine.get('Version', '?')})"
                entry.version = version
    except BuilderError as exc:
        entry.status = f"unreachable: {exc}"
    except TimeoutError:
        entry.status = "unreachable: no answer in time"


async def list_builders(env: Mapping[str, str] | None = None) -> list[Entry]:
    env = os.environ if env is None else env
    entries = []
    local = embedded.EmbeddedBuilder.locate(env)
    mine = Entry("embedded", str(local.address))
    pid = embedded.daemon_pid(local)
    version = await embedded.builder_version(local.address) if pid is not None else ""
    mine.status = f"running (pid {pid})" if version else "stopped"
    mine.version = version
    entries.append(mine)
    asked: list[Entry] = []
    host = env.get("BUILDKIT_HOST", "")
    if host:
        entry = Entry("BUILDKIT_HOST", host)
        try:
            entry._target = Address.parse(host)
            asked.append(entry)
        except BuilderError as exc:
            entry.status = f"invalid: {exc}"
        entries.append(entry)
    for builder in buildx.load_builders(env):
        entry = Entry(f"buildx:{builder.Name}", f"({builder.Driver} driver)")
        try:
            entry._target = buildx.builder_address(builder, env)
            entry.address = str(entry._target)
            asked.append(entry)
        except BuilderError as exc:
            entry.status = f"unusable: {exc}"
        entries.append(entry)
    async with anyio.create_task_group() as tg:
        for entry in asked:
            tg.start_soon(_ask, entry)
    return entries


def format_entries(entries: list[Entry]) -> str:
    width = max(len(e.name) for e in entries)
    lines = []
    for e in entries:
        lines.append(f"{e.name:<{width}}  {e.address}")
        detail = e.status + (f", BuildKit {e.version}" if e.version else "")
        lines.append(f"{'':<{width}}  {detail}")
    return "\n".join(lines) + "\n"
