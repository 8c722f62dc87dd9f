"""An OCI image layout directory (``type=local`` cache) as a content store.

Blobs live in ``blobs/sha256/<hex>``. An unfinished write lives in
``ingest/<sha256 of its ref>/`` (``ref``, ``data``, ``total``, ``startedat``), beside
the blobs so that committing is one atomic rename, and so that a later write with the
same ref resumes it. Blob paths and ``index.json`` follow buildg_dap.oci.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import BinaryIO, Final

import anyio
import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from buildg_dap import oci
from buildg_dap._proto.containerd import content_pb2

_CHUNK: Final = 1 << 20
_DIGEST: Final = re.compile(r"sha256:[0-9a-f]{64}")


class ContentError(Exception):
    """A refused request; ``code`` is what the caller sees, and BuildKit acts on it
    (ALREADY_EXISTS skips a blob, UNAVAILABLE retries a locked ref)."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code


def timestamp(nanoseconds: int) -> Timestamp:
    stamp = Timestamp()
    stamp.FromNanoseconds(nanoseconds)
    return stamp


def check_digest(digest: str) -> str:
    # BuildKit only writes sha256; anything else could also escape the blob directory.
    if not _DIGEST.fullmatch(digest):
        raise ContentError(grpc.StatusCode.INVALID_ARGUMENT, f"{digest!r} failed validation")
    return digest


class Ingest:
    """One open write transaction and its data file (LayoutStore.writer owns both)."""

    def __init__(
        self, store: LayoutStore, ref: str, file: BinaryIO, total: int, started: int
    ) -> None:
        self.store, self.ref, self.file = store, ref, file
        self.total, self.started = total, started
        self.path = store.ingest_path(ref)
        self.hasher = hashlib.sha256()
        # Resuming: the digest so far must cover what earlier streams wrote.
        self.offset = 0
        while chunk := file.read(_CHUNK):
            self.hasher.update(chunk)
            self.offset += len(chunk)
        self.updated = os.fstat(file.fileno()).st_mtime_ns

    def digest(self) -> str:
        return "sha256:" + self.hasher.hexdigest()

    def _append(self, data: bytes) -> None:
        self.file.write(data)
        self.hasher.update(data)

    async def write(self, data: bytes) -> None:
        await anyio.to_thread.run_sync(self._append, data)
        self.offset += len(data)
        self.updated = time.time_ns()

    def _restart(self) -> None:
        self.file.seek(0)
        self.file.truncate()

    async def restart(self) -> None:
        await anyio.to_thread.run_sync(self._restart)
        self.hasher, self.offset = hashlib.sha256(), 0

    def _commit(self, size: int, expected: str) -> str:
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()
        if size > 0 and size != self.offset:
            raise ContentError(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"unexpected commit size {self.offset}, expected {size}",
            )
        actual = self.digest()
        if expected and expected != actual:
            raise ContentError(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"unexpected commit digest {actual}, expected {expected}",
            )
        target = self.store.blob_path(actual)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            shutil.rmtree(self.path, ignore_errors=True)
            raise ContentError(grpc.StatusCode.ALREADY_EXISTS, f"content {actual}: already exists")
        # Same file system as the blobs, so the blob appears whole or not at all.
        os.rename(self.path / "data", target)
        shutil.rmtree(self.path, ignore_errors=True)
        return actual

    async def commit(self, size: int, expected: str) -> str:
        return await anyio.to_thread.run_sync(self._commit, size, expected)

    def close(self) -> None:
        # Synchronous on purpose: it runs in finally blocks, also while cancelled. The
        # data stays in ingest/ for a later stream with the same ref (or an Abort).
        self.file.close()


class LayoutStore:
    """An OCI image layout directory served as a content store."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._writing: set[str] = set()

    def blob_path(self, digest: str) -> Path:
        return oci.blob_path(self.root, check_digest(digest))

    def ingest_path(self, ref: str) -> Path:
        # Hashed: refs are free text, the directory name must be safe and bounded.
        return self.root / "ingest" / hashlib.sha256(ref.encode()).hexdigest()

    async def info(self, digest: str) -> content_pb2.Info:
        try:
            stat = await anyio.Path(self.blob_path(digest)).stat()
        except FileNotFoundError:
            raise ContentError(grpc.StatusCode.NOT_FOUND, f"content {digest}: not found") from None
        return content_pb2.Info(
            digest=digest,
            size=stat.st_size,
            created_at=timestamp(stat.st_mtime_ns),
            updated_at=timestamp(stat.st_atime_ns),
        )

    async def read(
        self, digest: str, offset: int, size: int
    ) -> AsyncIterator[content_pb2.ReadContentResponse]:
        length = (await self.info(digest)).size
        offset = max(offset, 0)
        if offset > length:
            raise ContentError(
                grpc.StatusCode.OUT_OF_RANGE, f"read past object length {length} bytes"
            )
        end = length if size <= 0 else min(length, offset + size)
        async with await anyio.open_file(self.blob_path(digest), "rb") as file:
            await file.seek(offset)
            while offset < end:
                data = await file.read(min(_CHUNK, end - offset))
                if not data:
                    raise ContentError(grpc.StatusCode.DATA_LOSS, f"content {digest}: truncated")
                yield content_pb2.ReadContentResponse(offset=offset, data=data)
                offset += len(data)

    def _open(self, ref: str, total: int) -> Ingest:
        path = self.ingest_path(ref)
        try:
            known = self._status(path)
            resumable = known.ref == ref and not (total and known.total and total != known.total)
        except (OSError, ValueError):
            resumable = False
        if resumable:
            total, started = total or known.total, known.started_at.ToNanoseconds()
        else:
            # New, or an earlier attempt that cannot be continued: start over.
            started = time.time_ns()
            shutil.rmtree(path, ignore_errors=True)
            path.mkdir(parents=True)
            (path / "ref").write_text(ref)
            (path / "total").write_text(str(total) if total else "")
            (path / "startedat").write_text(str(started))
            (path / "data").touch()
        file = (path / "data").open("r+b")
        try:
            return Ingest(self, ref, file, total, started)
        except BaseException:
            file.close()
            raise

    @asynccontextmanager
    async def writer(self, ref: str, total: int, expected: str) -> AsyncIterator[Ingest]:
        """The transaction ``ref``, resumed where an earlier stream left it."""
        if expected and await anyio.Path(self.blob_path(expected)).exists():
            raise ContentError(
                grpc.StatusCode.ALREADY_EXISTS, f"content {expected}: already exists"
            )
        if ref in self._writing:
            raise ContentError(grpc.StatusCode.UNAVAILABLE, f"ref {ref} is locked by another write")
        # One stream per ref at a time; buildkitd retries a ref that is UNAVAILABLE.
        self._writing.add(ref)
        try:
            ingest = await anyio.to_thread.run_sync(self._open, ref, total)
            try:
                yield ingest
            finally:
                ingest.close()
        finally:
            self._writing.discard(ref)

    def _status(self, path: Path) -> content_pb2.Status:
        stat = (path / "data").stat()
        return content_pb2.Status(
            ref=(path / "ref").read_text(),
            offset=stat.st_size,
            total=int((path / "total").read_text() or "0"),
            started_at=timestamp(int((path / "startedat").read_text())),
            updated_at=timestamp(stat.st_mtime_ns),
        )

    async def status(self, ref: str) -> content_pb2.Status:
        try:
            return await anyio.to_thread.run_sync(self._status, self.ingest_path(ref))
        except FileNotFoundError:
            raise ContentError(
                grpc.StatusCode.NOT_FOUND, f"could not get status for ref {ref!r}: not found"
            ) from None

    def _statuses(self) -> list[content_pb2.Status]:
        found = []
        for path in _entries(self.root / "ingest"):
            try:
                found.append(self._status(path))
            except FileNotFoundError:
                continue  # committed or aborted meanwhile
        return found

    async def statuses(self) -> list[content_pb2.Status]:
        """Every unfinished write."""
        return await anyio.to_thread.run_sync(self._statuses)

    async def abort(self, ref: str) -> None:
        path = self.ingest_path(ref)
        if not await anyio.Path(path).exists():
            raise ContentError(grpc.StatusCode.NOT_FOUND, f"ingest ref {ref!r}: not found")
        await anyio.to_thread.run_sync(shutil.rmtree, path)

    async def blobs(self) -> AsyncIterator[content_pb2.Info]:
        directory = self.root / "blobs" / "sha256"
        for path in await anyio.to_thread.run_sync(_entries, directory):
            if _DIGEST.fullmatch(digest := f"sha256:{path.name}"):
                try:
                    yield await self.info(digest)
                except ContentError:
                    continue  # deleted meanwhile

    async def delete(self, digest: str) -> None:
        try:
            await anyio.Path(self.blob_path(digest)).unlink()
        except FileNotFoundError:
            raise ContentError(grpc.StatusCode.NOT_FOUND, f"content {digest}: not found") from None


def _entries(directory: Path) -> list[Path]:
    try:
        return sorted(directory.iterdir())
    except FileNotFoundError:
        return []
