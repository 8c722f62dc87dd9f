"""Small helpers for anyio task groups."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def single_errors() -> Iterator[None]:
    """Task groups wrap every exception, even one raised by the code inside the group,
    in an ExceptionGroup. Where a block raises one error, callers get that error."""
    try:
        yield
    except BaseExceptionGroup as group:
        error: BaseException = group
        # Nested groups (a group inside a group's body) each add a level.
        while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
            error = error.exceptions[0]
        if error is group:
            raise
        raise error from None
