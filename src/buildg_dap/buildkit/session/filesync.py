"""FileSync: buildkitd pulls a local directory (context, Dockerfile dir) from us.

The DiffCopy stream: every entry as a STAT packet, an empty STAT to end the listing,
then for each REQ (id = index in the listing) the file's DATA chunks closed by an empty
DATA, and FIN answered with FIN. Files are streamed in chunks, never loaded whole.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import anyio
import grpc
from anyio.abc import ObjectReceiveStream
from grpc import aio

from buildg_dap._proto.fsutil import types_pb2
from buildg_dap._proto.session import filesync_pb2, filesync_pb2_grpc
from buildg_dap.buildkit.session.bridge import Attachable
from buildg_dap.buildkit.session.fswalk import Entry, walk
from buildg_dap.buildkit.session.patterns import InvalidPattern

Packet = types_pb2.Packet
_CHUNK = 1024 * 1024
_SENDERS = 4


class UnreadableFile(Exception):
    pass


def request_options(context: aio.ServicerContext[Any, Any]) -> dict[str, list[str]]:
    """Decode BuildKit's per-call options (url-escaped when marked ``-encoded``)."""
    raw: dict[str, list[str]] = {}
    for key, value in context.invocation_metadata() or ():
        text = value.decode() if isinstance(value, bytes) else value
        raw.setdefault(key, []).append(text)
    options: dict[str, list[str]] = {}
    for key, values in raw.items():
        if key.endswith("-encoded"):
            continue
        encoded = raw.get(key + "-encoded", ["false"])[0].lower() in ("1", "true")
        options[key] = [unquote(v.replace("+", " ")) for v in values] if encoded else values
    return options


class _Sender:
    def __init__(self, context: aio.ServicerContext[Any, Any], entries: list[Entry]) -> None:
        self._context = context
        self._entries = entries
        self._lock = anyio.Lock()

    async def write(self, packet: types_pb2.Packet) -> None:
        async with self._lock:
            await self._context.write(packet)

    async def send_listing(self) -> None:
        for entry in self._entries:
            await self.write(Packet(type=Packet.PACKET_STAT, stat=entry.stat))
        await self.write(Packet(type=Packet.PACKET_STAT))

    async def send_files(self, ids: ObjectReceiveStream[int]) -> None:
        async with ids:
            async for file_id in ids:
                source = self._entries[file_id].source
                if source is None:
                    raise UnreadableFile(f"file id {file_id} is not a regular file")
                offset = 0
                while True:
                    try:
                        # One worker-thread hop per chunk (most files are one chunk).
                        chunk = await anyio.to_thread.run_sync(_read_chunk, source, offset)
                    except OSError as exc:
                        raise UnreadableFile(
                            f"cannot read {source}: {exc.strerror or exc}"
                        ) from None
                    if chunk:
                        await self.write(Packet(type=Packet.PACKET_DATA, ID=file_id, data=chunk))
                        offset += len(chunk)
                    if len(chunk) < _CHUNK:
                        break
                await self.write(Packet(type=Packet.PACKET_DATA, ID=file_id))


def _read_chunk(path: Path, offset: int) -> bytes:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return os.pread(fd, _CHUNK, offset)
    finally:
        os.close(fd)


class FileSyncService(filesync_pb2_grpc.FileSyncServicer):
    """Serves named local directories, e.g. ``{"context": ..., "dockerfile": ...}``."""

    def __init__(self, dirs: Mapping[str, Path]) -> None:
        self._dirs = dict(dirs)

    # Reads and writes go through the context (both directions run at once), so the
    # handler is a coroutine rather than the generator the stubs describe.
    async def DiffCopy(  # type: ignore[override]
        self, request_iterator: Any, context: aio.ServicerContext[Any, Any]
    ) -> None:
        options = request_options(context)
        name = (options.get("dir-name") or [""])[0]
        root = self._dirs.get(name)
        if root is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no access allowed to dir {name!r}")
            return
        try:
            entries = await anyio.to_thread.run_sync(
                lambda: list(
                    walk(
                        root,
                        excludes=options.get("exclude-patterns", []),
                        includes=options.get("include-patterns", []),
                        followpaths=options.get("followpaths", []),
                    )
                )
            )
        except InvalidPattern as exc:
            message = str(exc)
            await context.write(Packet(type=Packet.PACKET_ERR, data=message.encode()))
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, message)
            return
        except OSError as exc:
            message = f"cannot read {exc.filename or root}: {exc.strerror or exc}"
            await context.write(Packet(type=Packet.PACKET_ERR, data=message.encode()))
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, message)
            return
        sender = _Sender(context, entries)
        send_ids, receive_ids = anyio.create_memory_object_stream[int](max_buffer_size=1024)
        try:
            async with anyio.create_task_group() as tg:
                for _ in range(_SENDERS):
                    tg.start_soon(sender.send_files, receive_ids.clone())
                receive_ids.close()
                await sender.send_listing()
                async with send_ids:
                    while True:
                        packet = await context.read()
                        if packet is aio.EOF or packet.type == Packet.PACKET_FIN:
                            break
                        if packet.type == Packet.PACKET_ERR:
                            raise UnreadableFile(f"error from buildkitd: {packet.data.decode()}")
                        if packet.type == Packet.PACKET_REQ:
                            await send_ids.send(packet.ID)
            await sender.write(Packet(type=Packet.PACKET_FIN))
        except* UnreadableFile as group:
            message = str(group.exceptions[0])
            await context.write(Packet(type=Packet.PACKET_ERR, data=message.encode()))
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, message)

    async def TarStream(  # type: ignore[override]
        self, request_iterator: Any, context: aio.ServicerContext[Any, Any]
    ) -> None:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "tarstream is not supported")


def file_sync(dirs: Mapping[str, Path]) -> Attachable:
    service = FileSyncService(dirs)
    return Attachable(
        descriptor=filesync_pb2.DESCRIPTOR.services_by_name["FileSync"],
        register=lambda server: filesync_pb2_grpc.add_FileSyncServicer_to_server(service, server),
    )
