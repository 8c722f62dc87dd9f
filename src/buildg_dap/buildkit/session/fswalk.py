"""Walk a local directory and list it exactly as fsutil's sender lists it for buildkitd.

What a stock client (buildctl, buildx) sends is fsutil's filtered walk wrapped in
buildkit's client/solve.go reset of ownership, so this walk reproduces: the order
(names sorted bytewise in each directory, a directory's contents right after it), Go
``os.FileMode`` bits, include/exclude filtering with parents of included paths sent
lazily, followpaths resolution, hardlinks and xattrs.
"""

from __future__ import annotations

import enum
import errno
import os
import posixpath
import stat as st
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from buildg_dap._proto.fsutil import types_pb2
from buildg_dap.buildkit.session.patterns import (
    InvalidPattern,
    MatchInfo,
    PatternMatcher,
    clean_path,
    has_wildcards,
    match_name,
)

# Go os.FileMode bits (fsutil sends these, not st_mode). ModeSocket (1 << 24) is never
# sent: fsutil clears it, so a socket goes out as an empty regular file.
GO_DIR = 1 << 31
GO_SYMLINK = 1 << 27
GO_DEVICE = 1 << 26
GO_NAMED_PIPE = 1 << 25
GO_SETUID = 1 << 23
GO_SETGID = 1 << 22
GO_CHAR_DEVICE = 1 << 21
GO_STICKY = 1 << 20

_GO_TYPE = {
    st.S_IFDIR: GO_DIR,
    st.S_IFLNK: GO_SYMLINK,
    st.S_IFBLK: GO_DEVICE,
    st.S_IFCHR: GO_DEVICE | GO_CHAR_DEVICE,
    st.S_IFIFO: GO_NAMED_PIPE,
}
_EMPTY = Path(os.devnull)


@dataclass(frozen=True)
class Entry:
    stat: types_pb2.Stat
    source: Path | None  # what to read for DATA requests; requestable files only


class UnreadableContext(PermissionError):
    """A directory or file that would be sent cannot be read."""

    def __init__(self, path: str) -> None:
        super().__init__(errno.EACCES, "permission denied", path)

    def __str__(self) -> str:
        return f"cannot read {self.filename}: permission denied"


def go_mode(mode: int) -> int:
    """Go's os.FileMode for a Unix st_mode."""
    bits = (mode & 0o777) | _GO_TYPE.get(st.S_IFMT(mode), 0)
    if mode & st.S_ISUID:
        bits |= GO_SETUID
    if mode & st.S_ISGID:
        bits |= GO_SETGID
    if mode & st.S_ISVTX:
        bits |= GO_STICKY
    return bits


def device_numbers(rdev: int) -> tuple[int, int]:
    """(major, minor) split the way fsutil splits st_rdev (not glibc's wider split)."""
    return (rdev >> 8) & 0xFFF, (rdev & 0xFF) | ((rdev >> 12) & 0xFFF00)


def _xattrs(path: str) -> dict[str, bytes]:
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError as exc:
        if exc.errno == errno.ENOTSUP:
            return {}
        raise
    values: dict[str, bytes] = {}
    for name in names:
        if name.startswith("com.apple."):
            continue
        try:
            values[name] = os.getxattr(path, name, follow_symlinks=False)
        except OSError:
            continue  # fsutil drops an attribute it cannot read
    return values


def _make_stat(path: str, rel: str, info: os.stat_result) -> types_pb2.Stat:
    # uid/gid stay 0: stock clients reset ownership of every local source they send.
    mode = info.st_mode
    stat = types_pb2.Stat(
        path=rel,
        mode=go_mode(mode),
        modTime=info.st_mtime_ns,
        size=0 if st.S_ISDIR(mode) else info.st_size,  # a symlink's size: its text length
    )
    if st.S_ISLNK(mode):
        stat.linkname = os.readlink(path)
    elif st.S_ISBLK(mode) or st.S_ISCHR(mode):
        stat.devmajor, stat.devminor = device_numbers(info.st_rdev)
    if xattrs := _xattrs(path):
        stat.xattrs.update(xattrs)
    return stat


def _dedupe(paths: list[str]) -> list[str] | None:
    """Drop paths below an earlier one (input sorted); None means "everything"."""
    out: list[str] = []
    last = ""
    for path in paths:
        if path == ".":
            return None
        if path.startswith(last + "/"):
            continue
        out.append(path)
        last = path
    return out


def _join(*parts: str) -> str:
    """Go's filepath.Join: empty parts are dropped, the result is cleaned."""
    kept = [p for p in parts if p]
    return clean_path("/".join(kept)) if kept else ""


class _LinkResolver:
    """fsutil followlinks.go: a followpath through symlinks becomes include patterns.

    Link targets are read as paths inside the root (absolute ones rooted at it, ".."
    clamped there), and no path component is ever followed by the OS.
    """

    def __init__(self, root: str) -> None:
        self._root = root
        self.resolved: set[str] = set()

    def add(self, path: str) -> None:
        rest = _join(".", path)
        current = "."
        while True:
            first, _, rest = rest.partition("/")
            current = _join(current, first)
            targets = self._read_link(current, wildcard=True)
            if (not rest or targets is not None) and current in self.resolved:
                return
            if targets is not None:
                self.resolved.add(current)
                for target in targets:
                    self.add(_join(target, rest))
                return
            if not rest:
                self.resolved.add(current)
                return

    def _read_link(self, rel: str, *, wildcard: bool) -> list[str] | None:
        name = posixpath.basename(rel)
        if wildcard and has_wildcards(name):
            parent = posixpath.dirname(rel) or "."
            try:
                names = sorted(os.listdir(self._host(parent)), key=os.fsencode)
            except (FileNotFoundError, NotADirectoryError):
                return None
            found: list[str] | None = None
            for candidate in names:
                if match_name(name, candidate):
                    targets = self._read_link(_join(parent, candidate), wildcard=False)
                    if targets is not None:
                        found = (found or []) + targets
            return found
        if rel in (".", "..") or rel.startswith("../"):
            return None
        try:
            info = os.lstat(self._host(rel))
        except (FileNotFoundError, NotADirectoryError):
            return None
        if not st.S_ISLNK(info.st_mode):
            return None
        link = clean_path(os.readlink(self._host(rel)))
        if link.startswith("/"):
            return [link]
        return [clean_path("/" + _join(posixpath.dirname(rel), link))]

    def _host(self, rel: str) -> str:
        return self._root if rel == "." else f"{self._root}/{rel}"


def _matcher(kind: str, patterns: Sequence[str]) -> PatternMatcher:
    try:
        return PatternMatcher(patterns)
    except InvalidPattern as exc:
        raise InvalidPattern(f"invalid {kind}: [{' '.join(patterns)}]: {exc}") from None


class _Verdict(enum.Enum):
    SEND = enum.auto()
    HIDE = enum.auto()
    PRUNE = enum.auto()


def _match(
    matcher: PatternMatcher, kind: str, rel: str, parent: MatchInfo
) -> tuple[bool, MatchInfo]:
    try:
        return matcher.matches(rel, parent)
    except InvalidPattern as exc:
        raise InvalidPattern(f"failed to match {kind}: {exc}") from None


@dataclass
class _Dir:
    path: str  # on the host
    rel: str  # in the listing; "" for the root
    info: os.stat_result | None  # kept while the directory is held back, then None
    include: MatchInfo = ()
    exclude: MatchInfo = ()


class _Walker:
    def __init__(
        self, root: str, include: PatternMatcher | None, exclude: PatternMatcher | None
    ) -> None:
        self._root = root
        self._include = include
        self._exclude = exclude
        self._first_link: dict[tuple[int, int], str] = {}

    def run(self) -> Iterator[Entry]:
        top = _Dir(self._root, "", None)
        stack = [(top, iter(self._list(top.path, hidden=False)))]
        while stack:
            parent, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                continue
            rel = f"{parent.rel}/{child.name}" if parent.rel else child.name
            is_dir = child.is_dir(follow_symlinks=False)
            verdict, include, exclude = self._decide(rel, is_dir, parent)
            if verdict is _Verdict.PRUNE or (verdict is _Verdict.HIDE and not is_dir):
                continue
            hidden = verdict is _Verdict.HIDE
            try:
                info = child.stat(follow_symlinks=False)
                if not hidden:
                    entry = self._entry(child.path, rel, info)
                    # Directories held back so far go out now that something below does.
                    for ancestor, _ in stack:
                        if ancestor.info is not None:
                            yield Entry(
                                _make_stat(ancestor.path, ancestor.rel, ancestor.info), None
                            )
                            ancestor.info = None
                    yield entry
            except (FileNotFoundError, NotADirectoryError):
                continue  # vanished during the walk
            if is_dir:
                node = _Dir(child.path, rel, info if hidden else None, include, exclude)
                stack.append((node, iter(self._list(child.path, hidden=hidden))))

    def _decide(
        self, rel: str, is_dir: bool, parent: _Dir
    ) -> tuple[_Verdict, MatchInfo, MatchInfo]:
        """fsutil's filter: send, hold back (a directory may still have sent children),
        or prune a directory no pattern can reach inside."""
        verdict = _Verdict.SEND
        include: MatchInfo = ()
        exclude: MatchInfo = ()
        if self._include is not None:
            matched, include = _match(self._include, "includepatterns", rel, parent.include)
            if not matched:
                if is_dir and not self._include.may_match_below(rel, exclusion=False):
                    return _Verdict.PRUNE, include, exclude
                verdict = _Verdict.HIDE
        if self._exclude is not None:
            matched, exclude = _match(self._exclude, "excludepatterns", rel, parent.exclude)
            if matched:
                if is_dir and not self._exclude.may_match_below(rel, exclusion=True):
                    return _Verdict.PRUNE, include, exclude
                verdict = _Verdict.HIDE
        return verdict, include, exclude

    def _list(self, path: str, *, hidden: bool) -> list[os.DirEntry[str]]:
        try:
            with os.scandir(path) as it:
                entries = list(it)
        except (FileNotFoundError, NotADirectoryError):
            return []
        except PermissionError:
            # fsutil tolerates an unreadable directory only when it is not sent itself.
            if hidden:
                return []
            raise UnreadableContext(path) from None
        # Go compares names as bytes; str order differs for undecodable names.
        entries.sort(key=lambda e: os.fsencode(e.name))
        return entries

    def _entry(self, path: str, rel: str, info: os.stat_result) -> Entry:
        stat = _make_stat(path, rel, info)
        mode = info.st_mode
        if st.S_ISDIR(mode) or st.S_ISLNK(mode):
            return Entry(stat, None)
        if info.st_nlink > 1:
            # fsutil keys on the inode number alone; with the device, mounts cannot collide.
            key = (info.st_dev, info.st_ino)
            first = self._first_link.setdefault(key, rel)
            if first != rel:
                # A later path to the same inode: buildkitd links it, never requests it.
                stat.linkname = first
                return Entry(stat, None)
        if st.S_ISSOCK(mode):
            return Entry(stat, _EMPTY)  # sent as a regular file; fsutil serves it empty
        if not st.S_ISREG(mode):
            return Entry(stat, None)
        _check_readable(path)
        return Entry(stat, Path(path))


def _check_readable(path: str) -> None:
    # Found now, the error stops the build before any transfer starts.
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except PermissionError:
        raise UnreadableContext(path) from None
    os.close(fd)


def walk(
    root: Path,
    *,
    excludes: Sequence[str] = (),
    includes: Sequence[str] = (),
    followpaths: Sequence[str] = (),
) -> Iterator[Entry]:
    """List ``root`` as fsutil's sender does, with buildkitd's filter options applied.

    Raises UnreadableContext for a sent directory or regular file that cannot be read,
    InvalidPattern for a malformed pattern, OSError when ``root`` is not a directory.
    """
    base = os.path.realpath(root, strict=True)
    if not os.path.isdir(base):
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(root))
    include_patterns = list(includes)
    if followpaths:
        resolver = _LinkResolver(base)
        for path in followpaths:
            resolver.add(path)
        targets = _dedupe(sorted(resolver.resolved))
        if targets is not None:
            # fsutil dedupes the unsorted union as is; "." in it lifts the include filter.
            include_patterns = _dedupe(include_patterns + targets) or []
    include = _matcher("includepatterns", include_patterns) if include_patterns else None
    exclude = _matcher("excludepatterns", excludes) if excludes else None
    return _Walker(base, include, exclude).run()
