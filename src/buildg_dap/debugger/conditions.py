"""Breakpoint conditions, hit conditions and log messages over a step's ARG/ENV values.

A condition is a small boolean expression: ``TARGETARCH == "arm64"``,
``$MODE != 'debug' && !CI``, ``(A == "1" || B) && C != ""``. A bare name is true when
the variable is set and not empty; names may be written ``NAME``, ``$NAME`` or
``${NAME}``; strings are single- or double-quoted. This is the whole language, so it is
parsed here rather than handed to an expression engine that would accept far more.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<str>"(?:[^"\\]|\\.)*"|'[^']*')
    | (?P<var>\$\{[A-Za-z_][A-Za-z0-9_]*\}|\$?[A-Za-z_][A-Za-z0-9_]*)
    | (?P<num>-?\d+)
    | (?P<op>==|!=|&&|\|\||!|\(|\))
    )""",
    re.VERBOSE,
)


class ConditionError(ValueError):
    """An expression that does not parse; the message says where."""


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    at: int


def _tokens(text: str) -> list[_Token]:
    out: list[_Token] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            # The column of the offending character, not of the blanks before it.
            rest = text[pos:].lstrip()
            at = len(text) - len(rest)
            raise ConditionError(f"unexpected {rest.rstrip()[:10]!r} at column {at + 1}")
        kind = match.lastgroup or ""
        out.append(_Token(kind, match.group(kind), match.start(kind)))
        pos = match.end()
    return out


def _unquote(text: str) -> str:
    if text.startswith('"'):
        return re.sub(r"\\(.)", r"\1", text[1:-1])
    return text[1:-1]


def _name(text: str) -> str:
    return text.removeprefix("${").removesuffix("}") if text.startswith("${") else text.lstrip("$")


class _Parser:
    """Precedence: ``||`` < ``&&`` < ``!`` < comparison < atom."""

    def __init__(self, text: str, values: Mapping[str, str] | None) -> None:
        self.tokens = _tokens(text)
        self.pos = 0
        self.values = values  # None: check syntax only

    def peek(self) -> _Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, op: str | None = None) -> _Token:
        token = self.peek()
        if token is None:
            raise ConditionError("the expression ends too early")
        if op is not None and token.text != op:
            raise ConditionError(f"expected {op!r} at column {token.at + 1}")
        self.pos += 1
        return token

    def parse(self) -> bool:
        result = self.either()
        token = self.peek()
        if token is not None:
            raise ConditionError(f"unexpected {token.text!r} at column {token.at + 1}")
        return result

    def either(self) -> bool:
        result = self.both()
        while (token := self.peek()) is not None and token.text == "||":
            self.take()
            right = self.both()
            result = result or right
        return result

    def both(self) -> bool:
        result = self.unary()
        while (token := self.peek()) is not None and token.text == "&&":
            self.take()
            right = self.unary()
            result = result and right
        return result

    def unary(self) -> bool:
        token = self.peek()
        if token is not None and token.text == "!":
            self.take()
            return not self.unary()
        return self.comparison()

    def comparison(self) -> bool:
        token = self.peek()
        if token is not None and token.text == "(":
            self.take()
            inner = self.either()
            self.take(")")
            return inner
        left = self.operand()
        token = self.peek()
        if token is not None and token.text in ("==", "!="):
            self.take()
            right = self.operand()
            return (left == right) == (token.text == "==")
        return left not in (None, "")

    def operand(self) -> str | None:
        token = self.take()
        if token.kind == "str":
            return _unquote(token.text)
        if token.kind == "num":
            return token.text
        if token.kind == "var":
            # Unset reads as empty, as in the shell and in log messages.
            return None if self.values is None else self.values.get(_name(token.text), "")
        raise ConditionError(f"expected a value at column {token.at + 1}, not {token.text!r}")


def check_condition(text: str) -> None:
    """Raise ConditionError if ``text`` does not parse."""
    _Parser(text, None).parse()


def evaluate_condition(text: str, values: Mapping[str, str]) -> bool:
    return _Parser(text, values).parse()


_HIT = re.compile(r"^\s*(==|>=|>|<=|<|%)?\s*(\d+)\s*$")


def check_hit_condition(text: str) -> None:
    match = _HIT.match(text)
    # "% 0" would parse but could never stop.
    if match is None or (match.group(1) == "%" and int(match.group(2)) == 0):
        raise ConditionError(
            f"invalid hit condition {text!r}: use N, == N, >= N, > N, <= N, < N or % N"
        )


def hit_matches(text: str, hits: int) -> bool:
    """Whether the ``hits``-th hit (1-based) stops, as debuggers read hit conditions:
    a bare number means "from that hit on"."""
    match = _HIT.match(text)
    if match is None:
        raise ConditionError(f"invalid hit condition {text!r}")
    op, number = match.group(1) or ">=", int(match.group(2))
    if op == "%":
        return number > 0 and hits % number == 0
    return {
        "==": hits == number,
        ">=": hits >= number,
        ">": hits > number,
        "<=": hits <= number,
        "<": hits < number,
    }[op]


# One left-to-right pass, so "{{{A}}}" is a literal brace, A's value, a literal brace.
_LOG_TOKEN = re.compile(r"\{\{|\}\}|\{\$?([A-Za-z_][A-Za-z0-9_]*)\}")


def format_log_message(text: str, values: Mapping[str, str]) -> str:
    """A logpoint's message with ``{VAR}`` replaced by its value (empty when unset);
    ``{{`` and ``}}`` stand for literal braces."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        return match.group(0)[0] if name is None else values.get(name, "")

    return _LOG_TOKEN.sub(replace, text)
