"""Breakpoint conditions, hit conditions and logpoint messages."""

from __future__ import annotations

import re

import pytest

from buildg_dap.debugger.conditions import (
    ConditionError,
    check_condition,
    check_hit_condition,
    evaluate_condition,
    format_log_message,
    hit_matches,
)

VALUES = {"ARCH": "arm64", "MODE": "debug", "EMPTY": "", "ONE": "1", "QUOTE": 'a"b'}


# --- evaluation ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('ARCH == "arm64"', True),
        ('ARCH == "amd64"', False),
        ('ARCH != "amd64"', True),
        ('ARCH != "arm64"', False),
        ("ARCH == 'arm64'", True),
        ('$ARCH == "arm64"', True),
        ('${ARCH} == "arm64"', True),
        ('"arm64" == ARCH', True),
        ("ARCH == MODE", False),
        ("ONE == 1", True),
        ("ONE == 2", False),
        ("ONE != 1", False),
        ("-1 == -1", True),
        ('"-1" == -1', True),
        # a bare name: set and not empty
        ("ARCH", True),
        ("$ARCH", True),
        ("${ARCH}", True),
        ("EMPTY", False),
        ("UNSET", False),
        ("!EMPTY", True),
        ("!UNSET", True),
        ("!ARCH", False),
        ("!!ARCH", True),
        # unset reads as empty in comparisons too
        ('UNSET == ""', True),
        ('UNSET != ""', False),
        ('EMPTY == ""', True),
        ("UNSET == EMPTY", True),
        ('ARCH != ""', True),
        # && and ||
        ("ARCH && MODE", True),
        ("ARCH && EMPTY", False),
        ("EMPTY || MODE", True),
        ("EMPTY || UNSET", False),
        ("$MODE != 'debug' && !CI", False),
        ("$MODE == 'debug' && !CI", True),
        # && binds tighter than ||
        ("ARCH || EMPTY && UNSET", True),
        ("EMPTY && UNSET || ARCH", True),
        ("(ARCH || EMPTY) && UNSET", False),
        ("ARCH || (EMPTY && UNSET)", True),
        # ! binds tighter than && but looser than a comparison
        ('!ARCH == "amd64"', True),
        ('!ARCH == "arm64"', False),
        ("!EMPTY && ARCH", True),
        ("!(EMPTY || ARCH)", False),
        ('(ONE == "1" || EMPTY) && ARCH != ""', True),
        ('((ARCH == "arm64"))', True),
        # quoted strings with escapes (double quotes only)
        (r'QUOTE == "a\"b"', True),
        (r'"a\\b" == "a\b"', False),  # "a\b" against "ab"
        (r'"a\\b" == "ab"', False),
        (r'"a\b" == "ab"', True),
        ("QUOTE == 'a\"b'", True),
        ('"" == ""', True),
        ('"x y" == "x y"', True),
        # whitespace is free
        ('  ARCH=="arm64"&&MODE  ', True),
        ("\tARCH\n", True),
    ],
)
def test_evaluate(text: str, expected: bool) -> None:
    check_condition(text)
    assert evaluate_condition(text, VALUES) is expected


def test_values_are_read_by_name_without_the_dollar_or_braces() -> None:
    for form in ("V", "$V", "${V}"):
        assert evaluate_condition(f'{form} == "x"', {"V": "x"})
        assert not evaluate_condition(f'{form} == "x"', {"V": "y"})
        # not the literal text of the form
        assert not evaluate_condition(f'{form} == "x"', {form: "x"} if form != "V" else {})


def test_a_backslash_escapes_the_next_character_in_double_quotes_only() -> None:
    values = {"P": "a\\b"}
    assert evaluate_condition(r'P == "a\\b"', values)
    assert not evaluate_condition(r'P == "a\b"', values)
    assert evaluate_condition(r"P == 'a\b'", values)


def test_names_are_case_sensitive() -> None:
    assert evaluate_condition("arch", {"arch": "x"})
    assert not evaluate_condition("arch", {"ARCH": "x"})


# --- syntax errors ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "ends too early"),
        ("   ", "ends too early"),
        ("ARCH ==", "ends too early"),
        ("(ARCH", "ends too early"),
        ("!", "ends too early"),
        ("ARCH &&", "ends too early"),
        ("ARCH MODE", "unexpected 'MODE' at column 6"),
        ("ARCH == @", "unexpected '@' at column 9"),
        ("   @", "unexpected '@' at column 4"),
        ("A = B", "unexpected '= B' at column 3"),
        ("A === B", "unexpected '= B' at column 5"),
        ('"open', "unexpected '\"open' at column 1"),
        ("'open", 'unexpected "\'open" at column 1'),
        ("${A", "unexpected '${A' at column 1"),
        ("$", "unexpected '$' at column 1"),
        ("A & B", "unexpected '& B' at column 3"),
        ("A | B", "unexpected '| B' at column 3"),
        (")", "expected a value at column 1, not ')'"),
        ("A == )", "expected a value at column 6, not ')'"),
        ("A == ==", "expected a value at column 6, not '=='"),
        ("(A))", "unexpected ')' at column 4"),
        ('(A == "x" B)', "expected ')' at column 11"),
        ("A == B == C", "unexpected '==' at column 8"),
        ("(A) == B", "unexpected '==' at column 5"),
    ],
)
def test_syntax_errors_say_where(text: str, message: str) -> None:
    with pytest.raises(ConditionError, match=re.escape(message)):
        check_condition(text)
    # evaluation parses the same way, whatever the values
    with pytest.raises(ConditionError, match=re.escape(message)):
        evaluate_condition(text, VALUES)


def test_a_syntax_error_after_a_decided_operand_is_still_an_error() -> None:
    # || is true from its left side, but the right side must still parse
    with pytest.raises(ConditionError):
        evaluate_condition("ARCH || (", VALUES)
    with pytest.raises(ConditionError):
        evaluate_condition("EMPTY && ==", VALUES)


def test_check_condition_needs_no_values() -> None:
    text = '${A} != "x" || !B && (C == 1)'
    check_condition(text)
    assert evaluate_condition(text, {"A": "x", "C": "1"})
    assert not evaluate_condition(text, {"A": "x", "B": "y", "C": "1"})


def test_condition_error_is_a_value_error() -> None:
    assert issubclass(ConditionError, ValueError)


# --- hit conditions -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "stopping"),
    [
        ("3", [3, 4, 5, 6, 7, 8]),  # from the 3rd hit on
        (" 3 ", [3, 4, 5, 6, 7, 8]),
        (">= 3", [3, 4, 5, 6, 7, 8]),
        (">=3", [3, 4, 5, 6, 7, 8]),
        ("== 3", [3]),
        ("==3", [3]),
        ("> 3", [4, 5, 6, 7, 8]),
        ("<= 3", [1, 2, 3]),
        ("< 3", [1, 2]),
        ("% 3", [3, 6]),
        ("%2", [2, 4, 6, 8]),
        ("1", [1, 2, 3, 4, 5, 6, 7, 8]),
        ("0", [1, 2, 3, 4, 5, 6, 7, 8]),
        ("== 0", []),
    ],
)
def test_hit_conditions(text: str, stopping: list[int]) -> None:
    check_hit_condition(text)
    assert [hits for hits in range(1, 9) if hit_matches(text, hits)] == stopping


@pytest.mark.parametrize(
    "text",
    ["", " ", "x", "-1", "== -1", "3.5", "!= 3", "=> 3", "== ", "%", "3 3", "== 3 x", "% 0"],
)
def test_invalid_hit_conditions_are_refused(text: str) -> None:
    with pytest.raises(ConditionError, match="invalid hit condition"):
        check_hit_condition(text)


def test_hit_matches_refuses_a_malformed_condition() -> None:
    with pytest.raises(ConditionError):
        hit_matches(">> 2", 2)


# --- log messages -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("building for {ARCH}", "building for arm64"),
        ("building for {$ARCH}", "building for arm64"),
        ("{ARCH}/{MODE}", "arm64/debug"),
        ("[{UNSET}]", "[]"),
        ("[{EMPTY}]", "[]"),
        ("{{ARCH}}", "{ARCH}"),
        ("{{{ARCH}}}", "{arm64}"),
        ("{{", "{"),
        ("}}", "}"),
        ("a {{ b }} c", "a { b } c"),
        ("{ARCH}}}", "arm64}"),
        ("{{{{", "{{"),
        # not a placeholder: left as written
        ("{ARCH", "{ARCH"),
        ("ARCH}", "ARCH}"),
        ("{1ARCH}", "{1ARCH}"),
        ("{${ARCH}}", "{$arm64}"),  # "{$" is not a placeholder; "{ARCH}" is
        ("{ ARCH }", "{ ARCH }"),
        ("no placeholders", "no placeholders"),
        ("", ""),
    ],
)
def test_format_log_message(text: str, expected: str) -> None:
    assert format_log_message(text, VALUES) == expected


def test_log_message_values_are_not_expanded_again() -> None:
    values = {"A": "{B}", "B": "x", "C": "{{"}
    assert format_log_message("{A} {C}", values) == "{B} {{"
