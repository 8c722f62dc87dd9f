"""Docker pattern semantics: .dockerignore parsing and moby/patternmatcher matching."""

from __future__ import annotations

import pytest

from buildg_dap.buildkit.session.patterns import (
    InvalidPattern,
    PatternMatcher,
    clean_path,
    has_wildcards,
    match_name,
    read_ignore_file,
)


def excluded(patterns: list[str], path: str) -> bool:
    return PatternMatcher(patterns).matches(path)[0]


# --- .dockerignore parsing ---------------------------------------------------------


def test_ignore_file_comments_blank_lines_and_cleaning() -> None:
    data = (
        b"\xef\xbb\xbf# comment\n"
        b"\n"
        b"   \n"
        b"  # only a comment in the first column\n"
        b"/leading/slash\n"
        b"./dot/slash\r\n"
        b"trailing/\n"
        b"a//b/../c\n"
        b"!  /re/included  \n"
        b"  spaced  \n"
        b"/\n"
        b"last-without-newline"
    )
    assert read_ignore_file(data) == [
        "# only a comment in the first column",
        "leading/slash",
        "dot/slash",
        "trailing",
        "a/c",
        "!re/included",
        "spaced",
        "/",
        "last-without-newline",
    ]


def test_ignore_file_bom_only_stripped_from_first_line() -> None:
    assert read_ignore_file(b"a\n\xef\xbb\xbfb\n") == ["a", "\ufeffb"]


def test_ignore_file_lone_bang_is_kept_and_rejected_by_the_matcher() -> None:
    patterns = read_ignore_file(b"!\n")
    assert patterns == ["!"]
    with pytest.raises(InvalidPattern) as info:
        PatternMatcher(patterns)
    assert str(info.value) == 'illegal exclusion pattern: "!"'


def test_clean_path_follows_go() -> None:
    assert clean_path("//a//b/./c/..") == "/a/b"
    assert clean_path("") == "."
    assert clean_path("../../x/") == "../../x"
    assert clean_path("/../x") == "/x"


# --- matching ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("*.md", "README.md", True),
        ("*.md", "docs/x.md", False),
        ("docs/*.md", "docs/x.md", True),
        ("docs/*.md", "docs/sub/x.md", False),
        ("docs/*.md", "x.md", False),
        ("**/*.md", "x.md", True),
        ("**/*.md", "a/b/c/x.md", True),
        ("a/**/b", "a/b", True),
        ("a/**/b", "a/x/y/b", True),
        ("a/**/b", "a/x/y/bc", False),
        ("a/**", "a/x/y", True),
        ("a/**", "ab", False),
        ("**/node_modules", "node_modules", True),
        ("**/node_modules", "x/y/node_modules", True),
        ("**/node_modules", "xnode_modules", False),
        ("?.txt", "a.txt", True),
        ("?.txt", "ab.txt", False),
        ("?", "/", False),
        ("[ab].txt", "b.txt", True),
        ("[ab].txt", "c.txt", False),
        ("[^ab].txt", "c.txt", True),
        ("[a-c]x", "bx", True),
        ("\\*.txt", "*.txt", True),
        ("\\*.txt", "a.txt", False),
        ("a.b", "axb", False),
        ("a+(b)", "a+(b)", True),
        ("build", "build/x/y", True),
        ("build/", "build/x", True),
        ("/build", "build", False),
    ],
)
def test_single_pattern(pattern: str, path: str, expected: bool) -> None:
    assert excluded([pattern], path) is expected


def test_star_star_prefix_is_a_plain_suffix_match() -> None:
    # patternmatcher compares a literal "**foo" by suffix, so "xfoo" matches too.
    assert excluded(["**foo"], "xfoo")
    assert excluded(["**foo"], "a/foo")
    assert not excluded(["**foo"], "foox")


def test_last_matching_pattern_wins() -> None:
    assert not excluded(["*.md", "!README.md"], "README.md")
    assert excluded(["*.md", "!README.md"], "CHANGES.md")
    assert excluded(["!README.md", "*.md"], "README.md")
    assert excluded(["*.md", "!README.md", "README*"], "README.md")


def test_reinclude_under_excluded_directory() -> None:
    patterns = ["node_modules", "!node_modules/keep"]
    assert excluded(patterns, "node_modules")
    assert excluded(patterns, "node_modules/other/x.js")
    assert not excluded(patterns, "node_modules/keep")
    assert not excluded(patterns, "node_modules/keep/a/b")


def test_ignored_dockerfile_and_dockerignore_still_match() -> None:
    # buildkitd fetches the Dockerfile through its own source; the context patterns
    # only decide whether the copy in the context is sent.
    patterns = read_ignore_file(b"Dockerfile\n.dockerignore\n")
    assert excluded(patterns, "Dockerfile")
    assert excluded(patterns, ".dockerignore")
    assert not excluded(patterns, "src/Dockerfile")


def test_leading_slash_from_ignore_file_matches_top_level_only() -> None:
    patterns = read_ignore_file(b"/secret\n")
    assert excluded(patterns, "secret")
    assert excluded(patterns, "secret/key")
    assert not excluded(patterns, "app/secret")


def test_parent_match_info_gives_the_same_answers_as_a_fresh_match() -> None:
    matcher = PatternMatcher(["docs", "!docs/keep", "**/*.tmp"])
    _, docs = matcher.matches("docs")
    _, keep = matcher.matches("docs/keep", docs)
    for path, parent in [
        ("docs/keep/a.txt", keep),
        ("docs/keep/a.tmp", keep),
        ("docs/other", docs),
    ]:
        assert matcher.matches(path, parent)[0] == matcher.matches(path)[0]
    assert matcher.matches("docs/keep/a.txt", keep)[0] is False
    assert matcher.matches("docs/keep/a.tmp", keep)[0] is True
    assert matcher.matches("docs/other", docs)[0] is True


def test_may_match_below_with_literal_exclusions() -> None:
    matcher = PatternMatcher(["node_modules", "vendor", "!node_modules/keep/**"])
    assert matcher.may_match_below("node_modules", exclusion=True)
    assert not matcher.may_match_below("vendor", exclusion=True)
    assert matcher.may_match_below("node_modules/keep", exclusion=True)
    assert not matcher.may_match_below("node_modules/other", exclusion=True)


def test_may_match_below_without_exclusions_prunes_everything() -> None:
    matcher = PatternMatcher(["node_modules"])
    assert not matcher.may_match_below("node_modules", exclusion=True)


def test_may_match_below_with_a_wildcard_exclusion_never_prunes() -> None:
    matcher = PatternMatcher(["node_modules", "!**/*.go"])
    assert matcher.may_match_below("node_modules", exclusion=True)
    assert matcher.may_match_below("anything/else", exclusion=True)


def test_may_match_below_for_include_patterns() -> None:
    matcher = PatternMatcher(["src/app/main.py", "docs/*"])
    assert matcher.may_match_below("src", exclusion=False)
    assert matcher.may_match_below("src/app", exclusion=False)
    assert matcher.may_match_below("docs", exclusion=False)
    assert not matcher.may_match_below("tests", exclusion=False)
    assert not matcher.may_match_below("src/lib", exclusion=False)


@pytest.mark.parametrize("pattern", ["[a", "a\\", "[]a]", "[-a]", "[a-]", "[^", "!["])
def test_syntax_errors(pattern: str) -> None:
    with pytest.raises(InvalidPattern) as info:
        PatternMatcher([pattern])
    assert str(info.value) == "syntax error in pattern"


def test_regex_error_shows_only_when_matching() -> None:
    # A reversed range is valid glob syntax; the regex engine refuses it on first use.
    matcher = PatternMatcher(["[z-a]"])
    with pytest.raises(InvalidPattern) as info:
        matcher.matches("a")
    assert str(info.value) == "syntax error in pattern"


def test_blank_patterns_are_dropped() -> None:
    assert PatternMatcher(["", "  ", "a"]).patterns[0].text == "a"
    assert len(PatternMatcher(["", "  ", "a"]).patterns) == 1


# --- single-name globs (followpaths) -------------------------------------------------


def test_has_wildcards() -> None:
    assert has_wildcards("Docker*")
    assert has_wildcards("a?")
    assert has_wildcards("[ab]")
    assert not has_wildcards("plain.txt")
    assert not has_wildcards("escaped\\*")


@pytest.mark.parametrize(
    ("pattern", "name", "expected"),
    [
        ("Docker*", "Dockerfile", True),
        ("Docker*", "dockerfile", False),
        ("*.txt", "a/b.txt", False),
        ("[^a]x", "bx", True),
        ("[^a]x", "ax", False),
        ("[z-a]x", "bx", False),
        ("\\*", "*", True),
        ("[", "[", False),
    ],
)
def test_match_name(pattern: str, name: str, expected: bool) -> None:
    assert match_name(pattern, name) is expected
