"""FileSync: buildkitd pulls a local directory (context, Dockerfile dir) from us.

The DiffCopy stream: every entry as a STAT packet, an empty STAT to end the listing,
then for each REQ (id = index in the listing) the file's DATA chunks closed by an empty
DATA, and FIN answered with FIN. Files are streamed in chunks, never loaded whole.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import anyio
import grpc
from anyio.abc import ObjectReceiveStream
from grpc import aio

from buildg_dap._proto.fsutil import types_pb2
from buildg_dap._proto.session import filesync_pb2
from buildg_dap.buildkit.session.fswalk import walk
from buildg_dap.buildkit.session.patterns import InvalidPattern
from buildg_dap.buildkit.session.rpcserver import Attachable, CallContext

Packet = types_pb2.Packet
_CHUNK = 1024 * 1024
_INLINE = 256 * 1024  # files up to this size are read on the event loop
_SENDERS = 4  # larger files being read at once


class UnreadableFile(Exception):
    pass


def request_options(context: CallContext) -> dict[str, list[str]]:
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


@dataclass
class _Listing:
    """The walk, compact: each STAT packet serialized, and what a REQ may ask for
    (path and size by listing index). Thousands of Stat messages and Paths held until
    the end would cost more memory than the whole transfer."""

    packets: list[bytes]
    files: list[tuple[str, int] | None]


def _list(root: Path, options: Mapping[str, list[str]]) -> _Listing:
    listing = _Listing([], [])
    for entry in walk(
        root,
        excludes=options.get("exclude-patterns", []),
        includes=options.get("include-patterns", []),
        followpaths=options.get("followpaths", []),
    ):
        packet = Packet(type=Packet.PACKET_STAT, stat=entry.stat)
        listing.packets.append(packet.SerializeToString())
        source = None if entry.source is None else (os.fspath(entry.source), entry.stat.size)
        listing.files.append(source)
    return listing


class _Sender:
    """Answers REQs. A small file is read right away, on the event loop: a read from
    the page cache is cheaper than a hop to a worker thread. Larger files go to
    senders reading them in chunks on worker threads."""

    def __init__(self, context: CallContext, listing: _Listing) -> None:
        self._context = context
        self._listing = listing

    async def send_listing(self) -> None:
        for packet in self._listing.packets:
            await self._context.write_serialized(packet)
        self._listing.packets.clear()
        await self._context.write(Packet(type=Packet.PACKET_STAT))

    def _lookup(self, file_id: int) -> tuple[str, int] | None:
        files = self._listing.files
        return files[file_id] if 0 <= file_id < len(files) else None

    def _file(self, file_id: int) -> tuple[str, int]:
        if (found := self._lookup(file_id)) is None:
            raise UnreadableFile(f"file id {file_id} is not a regular file in the listing")
        return found

    def is_small(self, file_id: int) -> bool:
        found = self._lookup(file_id)
        return found is not None and found[1] <= _INLINE

    async def send_small(self, file_id: int) -> None:
        source, _ = self._file(file_id)
        try:
            data = _read_chunk(source, 0)
        except OSError as exc:
            raise _unreadable(source, exc) from None
        if len(data) == _CHUNK:  # it grew since the listing: read the rest in chunks
            await self._send_from(file_id, source, data)
            return
        if data:
            await self._context.write(Packet(type=Packet.PACKET_DATA, ID=file_id, data=data))
        await self._context.write(Packet(type=Packet.PACKET_DATA, ID=file_id))

    async def send_large(self, ids: ObjectReceiveStream[int]) -> None:
        async with ids:
            async for file_id in ids:
                await self._send_from(file_id, self._file(file_id)[0], b"")

    async def _send_from(self, file_id: int, source: str, first: bytes) -> None:
        chunk, offset = first, 0
        while True:
            if chunk:
                await self._context.write(Packet(type=Packet.PACKET_DATA, ID=file_id, data=chunk))
                offset += len(chunk)
            if offset and len(chunk) < _CHUNK:
                break
            try:
                chunk = await anyio.to_thread.run_sync(_read_chunk, source, offset)
            except OSError as exc:
                raise _unreadable(source, exc) from None
            if not chunk:
                break
        await self._context.write(Packet(type=Packet.PACKET_DATA, ID=file_id))


def _unreadable(source: str, exc: OSError) -> UnreadableFile:
    return UnreadableFile(f"cannot read {source}: {exc.strerror or exc}")


def _read_chunk(path: str, offset: int) -> bytes:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return os.pread(fd, _CHUNK, offset)
    finally:
        os.close(fd)


class FileSyncService:
    """Serves named local directories, e.g. ``{"context": ..., "dockerfile": ...}``."""

    def __init__(self, dirs: Mapping[str, Path]) -> None:
        self._dirs = dict(dirs)

    # Reads and writes go through the context (both directions run at once), so the
    # handler is a coroutine rather than the generator the stubs describe.
    async def DiffCopy(
        self, request_iterator: Any, context: CallContext
    ) -> None:
        options = request_options(context)
        name = (options.get("dir-name") or [""])[0]
        root = self._dirs.get(name)
        if root is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no access allowed to dir {name!r}")
            return
        try:
            listing = await anyio.to_thread.run_sync(_list, root, options)
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
        sender = _Sender(context, listing)
        send_ids, receive_ids = anyio.create_memory_object_stream[int](max_buffer_size=1024)
        try:
            async with anyio.create_task_group() as tg:
                for _ in range(_SENDERS):
                    tg.start_soon(sender.send_large, receive_ids.clone())
                receive_ids.close()
                await sender.send_listing()
                async with send_ids:
                    while True:
                        packet = await context.read()
                        if packet is aio.EOF or packet.type == Packet.PACKET_FIN:
                            break
                        if packet.type == Packet.PACKET_ERR:
                            raise UnreadableFile(f"error from buildkitd: {packet.data.decode()}")
                        if packet.type != Packet.PACKET_REQ:
                            continue
                        if sender.is_small(packet.ID):
                            await sender.send_small(packet.ID)
                        else:
                            await send_ids.send(packet.ID)
            await context.write(Packet(type=Packet.PACKET_FIN))
        except* UnreadableFile as group:
            message = str(group.exceptions[0])
            await context.write(Packet(type=Packet.PACKET_ERR, data=message.encode()))
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, message)

    async def TarStream(
        self, request_iterator: Any, context: CallContext
    ) -> None:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "tarstream is not supported")


def file_sync(dirs: Mapping[str, Path]) -> Attachable:
    service = FileSyncService(dirs)
    return Attachable(
        descriptor=filesync_pb2.DESCRIPTOR.services_by_name["FileSync"],
        servicer=service,
    )
