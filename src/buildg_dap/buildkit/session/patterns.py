"""Docker's path patterns: .dockerignore parsing and moby/patternmatcher matching.

buildkitd hands the context sender exclude and include patterns; which paths match must
agree with what docker build / buildctl would send, so the rules here follow
moby/patternmatcher (v0.6.1, the version buildkit v0.32.2 vendors) rather than fnmatch.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Iterator

# Go's strings.TrimSpace set (unicode.IsSpace); str.strip() would also eat \x1c-\x1f.
_SPACE = (
    "".join(map(chr, (9, 10, 11, 12, 13, 32, 0x85, 0xA0, 0x1680, *range(0x2000, 0x200B))))
    + "\u2028\u2029\u202f\u205f\u3000"
)
# A pattern whose base (minus a trailing /** or /*) holds one of these cannot be used to
# prune the walk: fsutil's filter.go uses exactly this set.
_WILDCARD_CHARS = frozenset("*[]?^\\")
# Escaped when turning a pattern into a regex: special in regexes, plain in patterns.
_REGEX_ONLY = frozenset(".+()|{}$")

MatchInfo = tuple[bool, ...]
"""Per pattern: did it match the parent directory (empty = nothing known)."""


class InvalidPattern(ValueError):
    pass


def clean_path(path: str) -> str:
    """Go's path.Clean (posixpath.normpath keeps a leading "//", Go does not)."""
    cleaned = posixpath.normpath(path)
    return "/" + cleaned.lstrip("/") if cleaned.startswith("//") else cleaned


def read_ignore_file(data: bytes) -> list[str]:
    """Patterns from a .dockerignore file, normalised the way buildkit's frontend does."""
    text = data.decode("utf-8", "surrogateescape").removeprefix("\ufeff")
    patterns: list[str] = []
    for line in text.split("\n"):
        line = line.removesuffix("\r")
        # A comment is only a "#" in the very first column, before any trimming.
        if line.startswith("#"):
            continue
        line = line.strip(_SPACE)
        if not line:
            continue
        invert = line.startswith("!")
        if invert:
            line = line[1:].strip(_SPACE)
        if line:
            line = clean_path(line)
            if len(line) > 1 and line.startswith("/"):
                line = line[1:]
        patterns.append("!" + line if invert else line)
    return patterns


def has_wildcards(name: str) -> bool:
    """Whether a path component holds an unescaped glob character."""
    escaped = False
    for ch in name:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch in "*?[":
            return True
    return False


def match_name(pattern: str, name: str) -> bool:
    """Go's filepath.Match; a malformed pattern matches nothing."""
    try:
        regex = _glob_regex(pattern)
    except InvalidPattern:
        return False
    return re.fullmatch(regex, name) is not None


def _glob_regex(pattern: str) -> str:
    """Translate a filepath.Match pattern, rejecting what Go calls a syntax error."""
    parts: list[str] = []
    i, end = 0, len(pattern)
    while i < end:
        ch = pattern[i]
        i += 1
        if ch == "*":
            parts.append("[^/]*")
        elif ch == "?":
            parts.append("[^/]")
        elif ch == "\\":
            if i == end:
                raise InvalidPattern("syntax error in pattern")
            parts.append(re.escape(pattern[i]))
            i += 1
        elif ch == "[":
            i, char_class = _glob_class(pattern, i)
            parts.append(char_class)
        else:
            parts.append(re.escape(ch))
    return "".join(parts)


def _glob_class(pattern: str, i: int) -> tuple[int, str]:
    negated = pattern.startswith("^", i)
    if negated:
        i += 1
    ranges: list[tuple[str, str]] = []
    while not (ranges and pattern.startswith("]", i)):
        low, i = _class_char(pattern, i)
        high = low
        if pattern[i] == "-":
            high, i = _class_char(pattern, i + 1)
        ranges.append((low, high))
    # Go accepts a reversed range (it matches nothing); Python's re would refuse it.
    items = "".join(
        re.escape(lo) if lo == hi else f"{re.escape(lo)}-{re.escape(hi)}"
        for lo, hi in ranges
        if lo <= hi
    )
    if not items:
        return i + 1, r"[\s\S]" if negated else "(?!)"
    return i + 1, f"[{'^' if negated else ''}{items}]"


def _class_char(pattern: str, i: int) -> tuple[str, int]:
    # A class member: never a bare "-" or "]", and the class must go on after it.
    if i >= len(pattern) or pattern[i] in "-]":
        raise InvalidPattern("syntax error in pattern")
    if pattern[i] == "\\":
        i += 1
    if i + 1 >= len(pattern):
        raise InvalidPattern("syntax error in pattern")
    return pattern[i], i + 1


class Pattern:
    """One cleaned pattern, compiled to the cheapest of patternmatcher's match kinds."""

    __slots__ = (
        "_exact",
        "_prefix",
        "_regex",
        "_regex_text",
        "_suffix",
        "base",
        "exclusion",
        "text",
    )

    def __init__(self, text: str, exclusion: bool) -> None:
        _glob_regex(text)  # patternmatcher refuses what filepath.Match cannot parse
        self.text = text
        self.exclusion = exclusion
        self._exact: str | None = None
        self._prefix: str | None = None
        self._suffix: str | None = None
        self._regex_text: str | None = None
        self._regex: re.Pattern[str] | None = None
        self._compile()
        # What remains once a trailing "/**" or "/*" is dropped: the walk may skip a
        # directory only if no such literal base lies below it.
        self.base = text.removesuffix("/**").removesuffix("/*")

    def _compile(self) -> None:
        text = self.text
        kind = "exact"
        regex: list[str] = []
        i, end, first = 0, len(text), True
        while i < end:
            ch = text[i]
            i += 1
            if ch == "*" and text.startswith("*", i):
                i += 1
                if text.startswith("/", i):
                    i += 1  # "**/" behaves like "**"
                if i == end:
                    # A trailing "**" accepts everything, like .gitignore.
                    if kind == "exact":
                        kind = "prefix"
                    else:
                        regex.append(".*")
                        kind = "regex"
                else:
                    regex.append("(?:.*/)?")
                    kind = "regex"
                if first:
                    kind = "suffix"
            elif ch == "*":
                regex.append("[^/]*")
                kind = "regex"
            elif ch == "?":
                regex.append("[^/]")
                kind = "regex"
            elif ch in _REGEX_ONLY:
                regex.append("\\" + ch)
            elif ch == "\\" and i < end:
                escaped = text[i]
                i += 1
                # patternmatcher emits "\" + char; for a letter that is a regex escape.
                regex.append("\\" + escaped if escaped.isalnum() else re.escape(escaped))
                kind = "regex"
            elif ch == "\\":
                regex.append(r"\\")
            elif ch in "[]":
                regex.append(ch)
                kind = "regex"
            else:
                regex.append(ch)
            first = False
        if kind == "exact":
            self._exact = text
        elif kind == "prefix":
            self._prefix = text[:-2]
        elif kind == "suffix":
            self._suffix = text[2:]
        else:
            # Compiled on first use: like patternmatcher, a regex the engine refuses is
            # an error only once a path is actually matched against it.
            self._regex_text = "".join(regex)

    def matches(self, path: str) -> bool:
        """Raises InvalidPattern if the pattern's regex does not compile."""
        if self._exact is not None:
            return path == self._exact
        if self._prefix is not None:
            return path.startswith(self._prefix)
        if self._suffix is not None:
            # "**/foo" also matches a top-level "foo".
            return path.endswith(self._suffix) or (
                self._suffix.startswith("/") and path == self._suffix[1:]
            )
        if self._regex is None:
            assert self._regex_text is not None
            try:
                self._regex = re.compile(self._regex_text)
            except re.error:
                raise InvalidPattern("syntax error in pattern") from None
        return self._regex.fullmatch(path) is not None


def _parent_dirs(path: str) -> Iterator[str]:
    """ "a", "a/b" for "a/b/c"."""
    at = path.find("/")
    while at != -1:
        yield path[:at]
        at = path.find("/", at + 1)


class PatternMatcher:
    """An ordered pattern list where the last matching pattern decides."""

    def __init__(self, patterns: Iterable[str]) -> None:
        parsed: list[Pattern] = []
        for raw in patterns:
            text = raw.strip(_SPACE)
            if not text:
                continue
            text = clean_path(text)
            exclusion = text.startswith("!")
            if exclusion:
                if text == "!":
                    raise InvalidPattern('illegal exclusion pattern: "!"')
                text = text[1:]
            parsed.append(Pattern(text, exclusion))
        self.patterns = tuple(parsed)
        self._below: dict[bool, tuple[str, ...] | None] = {
            kind: self._literal_bases(kind) for kind in (False, True)
        }

    def _literal_bases(self, exclusion: bool) -> tuple[str, ...] | None:
        bases = [p.base for p in self.patterns if p.exclusion == exclusion]
        if any(_WILDCARD_CHARS.intersection(base) for base in bases):
            return None
        return tuple(base + "/" for base in bases)

    def matches(self, path: str, parent: MatchInfo = ()) -> tuple[bool, MatchInfo]:
        """Whether ``path`` (slash-separated, relative) matches, and its MatchInfo.

        Pass the parent directory's MatchInfo when walking: a pattern that matched the
        parent matches everything below it. Without one, parent directories are tried.
        """
        matched = False
        flags: list[bool] = []
        for index, pattern in enumerate(self.patterns):
            hit = bool(parent) and parent[index]
            if not hit:
                # Only a pattern that could flip the current answer is worth evaluating.
                if pattern.exclusion != matched:
                    flags.append(False)
                    continue
                hit = pattern.matches(path)
                if not hit and not parent:
                    hit = any(pattern.matches(d) for d in _parent_dirs(path))
            flags.append(hit)
            if hit:
                matched = not pattern.exclusion
        return matched, tuple(flags)

    def may_match_below(self, directory: str, *, exclusion: bool) -> bool:
        """Whether a pattern of the given kind (``!`` or not) may match below ``directory``.

        A walk uses it to skip a directory that did not match an include pattern
        (exclusion=False) or that is excluded (exclusion=True: could a ``!`` pattern bring
        something back). Any wildcard in such a pattern makes the answer a safe "yes".
        """
        bases = self._below[exclusion]
        if bases is None:
            return True
        prefix = directory + "/"
        return any(base.startswith(prefix) for base in bases)
