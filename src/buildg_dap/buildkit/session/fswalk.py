"""Walk a local directory the way fsutil's sender does and describe each entry."""

from __future__ import annotations

import os
import stat as st
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from buildg_dap._proto.fsutil import types_pb2

# Go os.FileMode type bits (fsutil sends these, not st_mode).
GO_DIR = 1 << 31
GO_SYMLINK = 1 << 27


@dataclass(frozen=True)
class Entry:
    stat: types_pb2.Stat
    source: Path | None  # what to read for DATA requests; regular files only


def _go_mode(mode: int) -> int:
    perm = mode & 0o777
    if st.S_ISDIR(mode):
        return GO_DIR | perm
    if st.S_ISLNK(mode):
        return GO_SYMLINK | perm
    return perm


def walk(
    root: Path,
    *,
    excludes: Sequence[str] = (),
    includes: Sequence[str] = (),
    followpaths: Sequence[str] = (),
) -> Iterator[Entry]:
    def visit(directory: Path, rel: str) -> Iterator[Entry]:
        for name in sorted(os.listdir(directory)):
            path = directory / name
            info = path.lstat()
            relpath = f"{rel}/{name}" if rel else name
            stat = types_pb2.Stat(
                path=relpath,
                mode=_go_mode(info.st_mode),
                uid=info.st_uid,
                gid=info.st_gid,
                size=info.st_size if st.S_ISREG(info.st_mode) else 0,
                modTime=info.st_mtime_ns,
            )
            if st.S_ISLNK(info.st_mode):
                stat.linkname = os.readlink(path)
            yield Entry(stat, path if st.S_ISREG(info.st_mode) else None)
            if st.S_ISDIR(info.st_mode):
                yield from visit(path, relpath)

    yield from visit(root, "")
