"""The context walk must list a directory the way fsutil's sender does for buildkitd."""

from __future__ import annotations

import errno
import os
import socket
import stat as st
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from buildg_dap.buildkit.session.fswalk import (
    GO_CHAR_DEVICE,
    GO_DEVICE,
    GO_DIR,
    GO_NAMED_PIPE,
    GO_SETGID,
    GO_SETUID,
    GO_STICKY,
    GO_SYMLINK,
    Entry,
    UnreadableContext,
    device_numbers,
    go_mode,
    walk,
)
from buildg_dap.buildkit.session.patterns import InvalidPattern


def listing(root: Path, **options: Any) -> dict[str, Entry]:
    return {e.stat.path: e for e in walk(root, **options)}


def paths(root: Path, **options: Any) -> list[str]:
    return [e.stat.path for e in walk(root, **options)]


def tree(root: Path, *files: str) -> None:
    for name in files:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(name)


# --- order and stat fields -----------------------------------------------------------


def test_order_is_per_directory_bytewise_with_contents_after_their_directory(
    tmp_path: Path,
) -> None:
    tree(tmp_path, "a/b", "a.txt", "a-b", "A", "_x", "a/c/d", "a/B")
    assert paths(tmp_path) == ["A", "_x", "a", "a/B", "a/b", "a/c", "a/c/d", "a-b", "a.txt"]


def test_regular_file_stat(tmp_path: Path) -> None:
    path = tmp_path / "f.txt"
    path.write_bytes(b"12345")
    path.chmod(0o640)
    os.utime(path, ns=(1, 1_700_000_000_123_456_789))
    os.chown(path, 1234, 5678)
    entry = listing(tmp_path)["f.txt"]
    assert entry.stat.mode == 0o640
    assert entry.stat.size == 5
    assert entry.stat.modTime == 1_700_000_000_123_456_789
    # Stock clients reset ownership of everything they send.
    assert (entry.stat.uid, entry.stat.gid) == (0, 0)
    assert entry.stat.linkname == ""
    assert entry.source == path


def test_directory_stat(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir(mode=0o750)
    (tmp_path / "d").chmod(0o750)
    entry = listing(tmp_path)["d"]
    assert entry.stat.mode == GO_DIR | 0o750
    assert entry.stat.size == 0
    assert entry.source is None


def test_special_permission_bits(tmp_path: Path) -> None:
    (tmp_path / "sticky").mkdir()
    (tmp_path / "sticky").chmod(0o1777)
    tree(tmp_path, "suid", "sgid")
    (tmp_path / "suid").chmod(0o4755)
    (tmp_path / "sgid").chmod(0o2711)
    entries = listing(tmp_path)
    assert entries["sticky"].stat.mode == GO_DIR | GO_STICKY | 0o777
    assert entries["suid"].stat.mode == GO_SETUID | 0o755
    assert entries["sgid"].stat.mode == GO_SETGID | 0o711


def test_go_mode_bits() -> None:
    assert go_mode(st.S_IFREG | 0o644) == 0o644
    assert go_mode(st.S_IFDIR | 0o755) == (1 << 31) | 0o755
    assert go_mode(st.S_IFLNK | 0o777) == (1 << 27) | 0o777
    assert go_mode(st.S_IFIFO | 0o600) == (1 << 25) | 0o600
    assert go_mode(st.S_IFBLK | 0o600) == (1 << 26) | 0o600
    assert go_mode(st.S_IFCHR | 0o666) == (1 << 26) | (1 << 21) | 0o666
    # fsutil clears ModeSocket (1 << 24): a socket looks like a regular file.
    assert go_mode(st.S_IFSOCK | 0o755) == 0o755


def test_device_numbers_use_fsutils_split() -> None:
    assert device_numbers(os.makedev(1, 3)) == (1, 3)
    assert device_numbers(os.makedev(259, 70000)) == (259, 70000)
    # glibc keeps bits above 32; fsutil's 12-bit major drops them.
    assert device_numbers(os.makedev(5000, 1)) == (5000 & 0xFFF, 1)


def test_char_device(tmp_path: Path) -> None:
    os.mknod(tmp_path / "null", st.S_IFCHR | 0o666, os.makedev(1, 3))
    (tmp_path / "null").chmod(0o666)
    entry = listing(tmp_path)["null"]
    assert entry.stat.mode == GO_DEVICE | GO_CHAR_DEVICE | 0o666
    assert (entry.stat.devmajor, entry.stat.devminor) == (1, 3)
    assert entry.source is None


# --- links and special files ---------------------------------------------------------


def test_symlink_out_of_the_context_is_sent_as_a_link(tmp_path: Path) -> None:
    os.symlink("/etc/passwd", tmp_path / "passwd")
    entries = listing(tmp_path)
    assert list(entries) == ["passwd"]
    link = entries["passwd"]
    assert link.stat.mode == GO_SYMLINK | 0o777
    assert link.stat.linkname == "/etc/passwd"
    assert link.stat.size == len("/etc/passwd")
    assert link.source is None


def test_symlink_loop(tmp_path: Path) -> None:
    os.symlink("loop2", tmp_path / "loop1")
    os.symlink("loop1", tmp_path / "loop2")
    entries = listing(tmp_path)
    assert [(p, e.stat.linkname) for p, e in entries.items()] == [
        ("loop1", "loop2"),
        ("loop2", "loop1"),
    ]


def test_symlink_to_a_directory_is_not_descended(tmp_path: Path) -> None:
    tree(tmp_path, "real/file")
    os.symlink("real", tmp_path / "alias")
    assert paths(tmp_path) == ["alias", "real", "real/file"]


def test_fifo(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe", 0o600)
    entry = listing(tmp_path)["pipe"]
    assert entry.stat.mode == GO_NAMED_PIPE | 0o600
    assert entry.stat.size == 0
    assert entry.source is None


def test_socket_is_sent_as_an_empty_regular_file(tmp_path: Path) -> None:
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(tmp_path / "sock"))
        (tmp_path / "sock").chmod(0o755)
        entry = listing(tmp_path)["sock"]
    assert entry.stat.mode == 0o755
    assert entry.source == Path(os.devnull)


def test_hardlinks_point_at_the_first_path_sent(tmp_path: Path) -> None:
    (tmp_path / "a_first").write_text("shared")
    os.link(tmp_path / "a_first", tmp_path / "b_second")
    (tmp_path / "c").mkdir()
    os.link(tmp_path / "a_first", tmp_path / "c" / "d_third")
    entries = listing(tmp_path)
    assert entries["a_first"].stat.linkname == ""
    assert entries["a_first"].source == tmp_path / "a_first"
    for later in ("b_second", "c/d_third"):
        assert entries[later].stat.linkname == "a_first"
        assert entries[later].stat.mode == 0o644
        assert entries[later].stat.size == len("shared")
        assert entries[later].source is None


def test_hardlink_whose_first_path_is_excluded(tmp_path: Path) -> None:
    (tmp_path / "a_first").write_text("shared")
    os.link(tmp_path / "a_first", tmp_path / "b_second")
    os.link(tmp_path / "a_first", tmp_path / "c_third")
    entries = listing(tmp_path, excludes=["a_first"])
    assert list(entries) == ["b_second", "c_third"]
    assert entries["b_second"].stat.linkname == ""
    assert entries["b_second"].source == tmp_path / "b_second"
    assert entries["c_third"].stat.linkname == "b_second"
    assert entries["c_third"].source is None


def test_xattrs(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_text("x")
    try:
        os.setxattr(path, "user.note", b"value")
    except OSError as exc:
        assert exc.errno == errno.ENOTSUP
        assert "user.note" not in listing(tmp_path)["f"].stat.xattrs
    else:
        assert listing(tmp_path)["f"].stat.xattrs["user.note"] == b"value"


def test_filesystem_without_xattr_support(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tree(tmp_path, "f")

    def unsupported(path: str, *, follow_symlinks: bool = True) -> list[str]:
        raise OSError(errno.ENOTSUP, os.strerror(errno.ENOTSUP), path)

    monkeypatch.setattr(os, "listxattr", unsupported)
    assert dict(listing(tmp_path)["f"].stat.xattrs) == {}


# --- errors --------------------------------------------------------------------------


def deny(monkeypatch: pytest.MonkeyPatch, name: str, denied: Path) -> None:
    """Make os.<name> refuse one path, as permission bits would for a non-root user."""
    real = getattr(os, name)

    def guarded(path: Any, *args: Any, **kwargs: Any) -> Any:
        if os.fspath(path) == str(denied):
            raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(os, name, guarded)


def test_unreadable_file_fails_the_walk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tree(tmp_path, "ok", "secret.txt")
    deny(monkeypatch, "open", tmp_path / "secret.txt")
    with pytest.raises(UnreadableContext) as info:
        list(walk(tmp_path))
    assert str(info.value) == f"cannot read {tmp_path}/secret.txt: permission denied"
    # filesync reports an OSError from the walk with these two fields.
    assert f"cannot read {info.value.filename}: {info.value.strerror}" == str(info.value)


def test_unreadable_file_that_is_excluded_is_fine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree(tmp_path, "ok", "secret.txt")
    deny(monkeypatch, "open", tmp_path / "secret.txt")
    assert paths(tmp_path, excludes=["secret.txt"]) == ["ok"]


def test_unreadable_directory_fails_the_walk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree(tmp_path, "locked/file")
    deny(monkeypatch, "scandir", tmp_path / "locked")
    with pytest.raises(UnreadableContext) as info:
        list(walk(tmp_path))
    assert str(info.value) == f"cannot read {tmp_path}/locked: permission denied"


def test_unreadable_directory_held_back_by_excludes_is_fine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree(tmp_path, "locked/file", "other")
    deny(monkeypatch, "scandir", tmp_path / "locked")
    # The "!" pattern forces a look inside "locked"; it is not sent, so no error.
    assert paths(tmp_path, excludes=["locked", "!locked/file"]) == ["other"]


def test_invalid_exclude_pattern(tmp_path: Path) -> None:
    with pytest.raises(InvalidPattern) as info:
        walk(tmp_path, excludes=["ok", "[a"])
    assert str(info.value) == "invalid excludepatterns: [ok [a]: syntax error in pattern"


def test_regex_error_surfaces_while_matching(tmp_path: Path) -> None:
    tree(tmp_path, "f")
    with pytest.raises(InvalidPattern) as info:
        list(walk(tmp_path, includes=["[z-a]"]))
    assert str(info.value) == "failed to match includepatterns: syntax error in pattern"


def test_root_must_be_a_directory(tmp_path: Path) -> None:
    tree(tmp_path, "file")
    with pytest.raises(NotADirectoryError) as info:
        walk(tmp_path / "file")
    assert info.value.filename == str(tmp_path / "file")


# --- excludes ------------------------------------------------------------------------


@pytest.fixture
def scanned(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    seen: list[str] = []
    real = os.scandir

    def spy(path: Any) -> Any:
        seen.append(os.fspath(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", spy)
    yield seen


def test_excluded_directory_is_not_descended(tmp_path: Path, scanned: list[str]) -> None:
    tree(tmp_path, "node_modules/p/index.js", "app.js")
    assert paths(tmp_path, excludes=["node_modules"]) == ["app.js"]
    assert scanned == [str(tmp_path)]


def test_reinclude_under_an_excluded_directory(tmp_path: Path, scanned: list[str]) -> None:
    tree(tmp_path, "node_modules/keep/x", "node_modules/other/y", "app.js")
    result = paths(tmp_path, excludes=["node_modules", "!node_modules/keep"])
    assert result == ["app.js", "node_modules", "node_modules/keep", "node_modules/keep/x"]
    assert str(tmp_path / "node_modules" / "other") not in scanned


def test_markdown_patterns(tmp_path: Path) -> None:
    tree(tmp_path, "README.md", "docs/guide.md", "docs/deep/more.md", "main.go")
    assert paths(tmp_path, excludes=["*.md"]) == [
        "docs",
        "docs/deep",
        "docs/deep/more.md",
        "docs/guide.md",
        "main.go",
    ]
    assert paths(tmp_path, excludes=["docs/*.md"]) == [
        "README.md",
        "docs",
        "docs/deep",
        "docs/deep/more.md",
        "main.go",
    ]
    assert paths(tmp_path, excludes=["**/*.md"]) == ["docs", "docs/deep", "main.go"]


# --- includes and followpaths -------------------------------------------------------


def test_include_sends_parents_of_matches_and_children_of_matched_dirs(tmp_path: Path) -> None:
    tree(tmp_path, "src/app/main.py", "src/app/util/x.py", "src/other.txt", "docs/a.md", "top")
    assert paths(tmp_path, includes=["src/app"]) == [
        "src",
        "src/app",
        "src/app/main.py",
        "src/app/util",
        "src/app/util/x.py",
    ]
    assert paths(tmp_path, includes=["**/*.md", "top"]) == ["docs", "docs/a.md", "top"]


def test_include_and_exclude_together(tmp_path: Path) -> None:
    tree(tmp_path, "src/a.py", "src/a.pyc", "other.py")
    assert paths(tmp_path, includes=["src"], excludes=["**/*.pyc"]) == ["src", "src/a.py"]


def test_followpaths_resolve_a_symlinked_dockerfile(tmp_path: Path) -> None:
    tree(tmp_path, "sub/Dockerfile.real", "other")
    os.symlink("sub/Dockerfile.real", tmp_path / "Dockerfile")
    followpaths = ["Dockerfile", "Dockerfile.dockerignore"]
    entries = listing(tmp_path, followpaths=followpaths)
    assert list(entries) == ["Dockerfile", "sub", "sub/Dockerfile.real"]
    assert entries["Dockerfile"].stat.linkname == "sub/Dockerfile.real"


def test_followpaths_stay_inside_the_root(tmp_path: Path) -> None:
    tree(tmp_path, "etc/passwd", "x")
    os.symlink("/etc", tmp_path / "etc-link")
    os.symlink("../../..", tmp_path / "up")
    # An absolute target is read relative to the context root.
    entries = listing(tmp_path, followpaths=["etc-link/passwd"])
    assert list(entries) == ["etc", "etc/passwd", "etc-link"]
    assert entries["etc/passwd"].source == tmp_path / "etc" / "passwd"
    # ".." in a relative target stops at the root.
    assert paths(tmp_path, followpaths=["up/x"]) == ["up", "x"]


def test_followpaths_with_a_wildcard_and_a_loop(tmp_path: Path) -> None:
    tree(tmp_path, "target/f", "plain")
    os.symlink("target", tmp_path / "link1")
    os.symlink("link3", tmp_path / "loop")
    os.symlink("loop", tmp_path / "link3")
    assert paths(tmp_path, followpaths=["link*"]) == [
        "link1",
        "link3",
        "loop",
        "target",
        "target/f",
    ]


def test_directory_no_include_can_reach_is_not_descended(
    tmp_path: Path, scanned: list[str]
) -> None:
    tree(tmp_path, "src/app/main.py", "vendor/lib/x.py")
    assert paths(tmp_path, includes=["src/app/main.py"]) == ["src", "src/app", "src/app/main.py"]
    assert str(tmp_path / "vendor") not in scanned
    assert str(tmp_path / "src" / "app") in scanned
