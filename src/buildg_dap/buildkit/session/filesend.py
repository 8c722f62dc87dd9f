"""FileSend: buildkitd streams exported outputs back to us.

One gRPC method carries two protocols, told apart by the exporter index buildkitd puts
in the call's metadata (the position of the exporter in Control.Solve's list):

* a local directory: fsutil Packets with buildkitd as the *sender*. It lists every entry
  as a STAT (an empty STAT ends the listing; an entry's id is its index), we ask for
  regular files with REQ, it answers with DATA chunks closed by an empty DATA, and our
  FIN is answered by its FIN. The sender lists and sends file data from separate
  goroutines, so DATA for a file requested early interleaves with the rest of the
  listing (and with other files' DATA).
* a tar file (tar, oci, docker): BytesMessage chunks of one file, ended by our EOF.

The message type differs per call, so the method takes raw bytes and parses them here.
Files land in a temporary name beside their destination and are renamed into place
when complete; nothing is held in memory whole.
"""

from __future__ import annotations

import os
import shutil
import stat as st
import sys
import tempfile
from collections import deque
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import anyio
import grpc
from grpc import aio

from buildg_dap._proto.fsutil import types_pb2
from buildg_dap._proto.session import filesync_pb2
from buildg_dap.buildkit.options import Output
from buildg_dap.buildkit.session.filesync import request_options
from buildg_dap.buildkit.session.fswalk import (
    GO_CHAR_DEVICE,
    GO_DEVICE,
    GO_DIR,
    GO_NAMED_PIPE,
    GO_SETGID,
    GO_SETUID,
    GO_STICKY,
    GO_SYMLINK,
)
from buildg_dap.buildkit.session.rpcserver import Attachable, CallContext

Packet = types_pb2.Packet
_EXPORTER_ID = "buildkit-attachable-exporter-id"
# Files being received at once: each holds an open temporary file.
_IN_FLIGHT = 8
_SPECIAL_BITS = ((GO_SETUID, st.S_ISUID), (GO_SETGID, st.S_ISGID), (GO_STICKY, st.S_ISVTX))
_GO_SPECIAL = GO_DIR | GO_SYMLINK | GO_DEVICE | GO_NAMED_PIPE | GO_CHAR_DEVICE | (1 << 24)


class ExportError(Exception):
    """An output could not be written, or the stream from buildkitd was malformed."""


def safe_relative(path: str) -> str:
    """A daemon-supplied path, refused unless it stays inside the destination."""
    parts = path.split("/")
    if path.startswith("/") or "\0" in path or any(p in ("", ".", "..") for p in parts):
        raise ExportError(f"refusing unsafe path {path!r} from buildkitd")
    return path


def _unix_mode(go_mode: int) -> int:
    mode = go_mode & 0o777
    for go_bit, unix_bit in _SPECIAL_BITS:
        if go_mode & go_bit:
            mode |= unix_bit
    return mode


def _remove(path: Path) -> None:
    """Clear the way for a new entry of another kind (fsutil replaces, never merges)."""
    with suppress(FileNotFoundError):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()


def _temp_beside(path: Path) -> tuple[int, Path]:
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    return fd, Path(name)


@dataclass
class _Pending:
    stat: types_pb2.Stat
    dest: Path
    temp: Path
    file: BinaryIO


def _complete(pending: _Pending) -> None:
    pending.file.close()
    os.chmod(pending.temp, _unix_mode(pending.stat.mode))
    os.utime(pending.temp, ns=(pending.stat.modTime, pending.stat.modTime))
    if pending.dest.is_dir() and not pending.dest.is_symlink():
        shutil.rmtree(pending.dest)
    os.replace(pending.temp, pending.dest)


@dataclass
class _DirReceiver:
    """Writes one fsutil stream into ``root`` (merging into what is there)."""

    root: Path
    context: CallContext
    # Directories (relative paths) made or checked as real directories by this stream:
    # a child is only written under one of them, so no symlink is ever followed.
    dirs: set[str] = field(default_factory=lambda: {""})
    files: dict[int, types_pb2.Stat] = field(default_factory=dict)
    pending: dict[int, _Pending] = field(default_factory=dict)
    links: list[types_pb2.Stat] = field(default_factory=list)
    # Directory modes and mtimes are set last: children change the mtime, and a
    # read-only directory would refuse them.
    dir_meta: list[tuple[Path, types_pb2.Stat]] = field(default_factory=list)

    async def write(self, packet: types_pb2.Packet) -> None:
        await self.context.write(packet.SerializeToString())

    def _place(self, stat: types_pb2.Stat) -> Path:
        rel = safe_relative(stat.path)
        parent = rel.rpartition("/")[0]
        if parent not in self.dirs:
            raise ExportError(f"buildkitd sent {rel!r} before its directory")
        return self.root / rel

    def entry(self, index: int, stat: types_pb2.Stat) -> bool:
        """Create what the STAT describes; True if it is a file whose data we want."""
        path = self._place(stat)
        mode = stat.mode
        if mode & GO_DIR:
            if not (path.is_dir() and not path.is_symlink()):
                _remove(path)
                path.mkdir(mode=0o700)
            self.dirs.add(stat.path)
            self.dir_meta.append((path, stat))
            return False
        if mode & GO_SYMLINK:
            _remove(path)
            os.symlink(stat.linkname, path)
            os.utime(path, ns=(stat.modTime, stat.modTime), follow_symlinks=False)
            return False
        if mode & GO_NAMED_PIPE:
            _remove(path)
            os.mkfifo(path, _unix_mode(mode))
            return False
        if mode & GO_DEVICE:
            kind = st.S_IFCHR if mode & GO_CHAR_DEVICE else st.S_IFBLK
            _remove(path)
            os.mknod(path, kind | _unix_mode(mode), os.makedev(stat.devmajor, stat.devminor))
            return False
        if mode & _GO_SPECIAL:
            raise ExportError(f"buildkitd sent {stat.path!r} with unsupported mode {mode:#o}")
        if stat.linkname:
            # A hard link to an earlier file: made once that file is complete.
            if stat.linkname not in {s.path for s in self.files.values()}:
                raise ExportError(f"buildkitd sent a hard link to unknown file {stat.linkname!r}")
            self.links.append(stat)
            return False
        self.files[index] = stat
        return True

    async def request(self, file_id: int) -> None:
        stat = self.files[file_id]
        dest = self.root / stat.path
        fd, temp = _temp_beside(dest)
        self.pending[file_id] = _Pending(stat, dest, temp, os.fdopen(fd, "wb"))
        await self.write(Packet(type=Packet.PACKET_REQ, ID=file_id))

    async def data(self, packet: types_pb2.Packet) -> None:
        pending = self.pending.get(packet.ID)
        if pending is None:
            raise ExportError(f"buildkitd sent data for file id {packet.ID}, never requested")
        if packet.data:
            await anyio.to_thread.run_sync(pending.file.write, packet.data)
            return
        del self.pending[packet.ID]
        await anyio.to_thread.run_sync(_complete, pending)

    def finish(self) -> None:
        for stat in self.links:
            path = self._place(stat)
            _remove(path)
            os.link(self.root / stat.linkname, path, follow_symlinks=False)
        for path, stat in reversed(self.dir_meta):
            path.chmod(_unix_mode(stat.mode))
            os.utime(path, ns=(stat.modTime, stat.modTime), follow_symlinks=False)

    def discard(self) -> None:
        for pending in self.pending.values():
            pending.file.close()
            pending.temp.unlink(missing_ok=True)
        self.pending.clear()

    async def run(self) -> None:
        # Files listed but not yet requested: at most _IN_FLIGHT are open at once.
        wanted: deque[int] = deque()
        listing = True
        index = 0
        try:
            while listing or wanted or self.pending:
                packet = await self._read()
                if packet.type == Packet.PACKET_STAT:
                    if not listing:
                        raise ExportError("buildkitd sent an entry after the listing ended")
                    if not packet.HasField("stat"):
                        listing = False
                    else:
                        if await anyio.to_thread.run_sync(self.entry, index, packet.stat):
                            wanted.append(index)
                        index += 1
                elif packet.type == Packet.PACKET_DATA:
                    await self.data(packet)
                else:
                    raise ExportError(f"unexpected packet type {packet.type} from buildkitd")
                # A few small REQs at a time: buildkitd reads them while it sends, so
                # writing them between reads cannot stall behind its DATA.
                while wanted and len(self.pending) < _IN_FLIGHT:
                    await self.request(wanted.popleft())
            await anyio.to_thread.run_sync(self.finish)
        finally:
            self.discard()
        await self.write(Packet(type=Packet.PACKET_FIN))
        # buildkitd answers FIN with FIN, then closes its side.
        while (raw := await self.context.read()) is not aio.EOF:
            if Packet.FromString(raw).type == Packet.PACKET_FIN:
                break

    async def _read(self) -> types_pb2.Packet:
        raw = await self.context.read()
        if raw is aio.EOF:
            raise ExportError("buildkitd ended the output stream early")
        packet = Packet.FromString(raw)
        if packet.type == Packet.PACKET_ERR:
            raise ExportError(f"error from buildkitd: {packet.data.decode(errors='replace')}")
        return packet


async def _receive_file(dest: str, context: CallContext) -> None:
    if dest == "-":
        out = anyio.wrap_file(sys.stdout.buffer)
        while (raw := await context.read()) is not aio.EOF:
            await out.write(filesync_pb2.BytesMessage.FromString(raw).data)
        await out.flush()
        return
    path = Path(dest)
    fd, temp = await anyio.to_thread.run_sync(_temp_beside, path)
    try:
        async with await anyio.open_file(fd, "wb") as out:
            while (raw := await context.read()) is not aio.EOF:
                await out.write(filesync_pb2.BytesMessage.FromString(raw).data)
        os.chmod(temp, 0o666 & ~_umask())
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


class FileSendService:
    """Receives what the exporters at given indices stream back."""

    def __init__(self, outputs: Sequence[Output]) -> None:
        self._targets = {i: o for i, o in enumerate(outputs) if o.target != "none"}

    async def DiffCopy(
        self, request_iterator: Any, context: CallContext
    ) -> None:
        ids = request_options(context).get(_EXPORTER_ID, ["0"])
        output = self._targets.get(int(ids[0])) if ids[0].isdigit() else None
        if output is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"exporter {ids[0]} not found")
            return
        try:
            if output.target == "dir":
                root = anyio.Path(output.dest)
                await root.mkdir(parents=True, exist_ok=True)
                await _DirReceiver(Path(root), context).run()
            else:
                await _receive_file(output.dest, context)
        except (ExportError, OSError) as exc:
            message = str(exc) if isinstance(exc, ExportError) else _describe(exc)
            if output.target == "dir":
                error = Packet(type=Packet.PACKET_ERR, data=message.encode())
                with suppress(Exception):  # the stream may already be broken
                    await context.write(error.SerializeToString())
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, message)


def _describe(exc: OSError) -> str:
    where = f" {exc.filename}" if exc.filename else ""
    return f"cannot write output{where}: {exc.strerror or exc}"


def file_send(outputs: Sequence[Output]) -> Attachable:
    """The FileSend service for ``outputs``, in the order they go to Control.Solve."""
    service = FileSendService(outputs)
    return Attachable(
        descriptor=filesync_pb2.DESCRIPTOR.services_by_name["FileSend"],
        servicer=service,
        raw=True,
    )
