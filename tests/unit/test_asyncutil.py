"""single_errors: one error out of (nested) task groups comes out as itself."""

from __future__ import annotations

import anyio
import pytest

from buildg_dap.asyncutil import single_errors


async def _nested(error: BaseException) -> None:
    with single_errors():
        async with anyio.create_task_group() as outer:
            outer.start_soon(anyio.sleep, 5)
            async with anyio.create_task_group() as inner:
                inner.start_soon(anyio.sleep, 5)
                raise error


def test_one_error_comes_out_unwrapped() -> None:
    with pytest.raises(KeyError, match="lost"):
        anyio.run(_nested, KeyError("lost"))


def test_several_errors_stay_grouped() -> None:
    async def two() -> None:
        async def fail(message: str) -> None:
            raise ValueError(message)

        with single_errors():
            async with anyio.create_task_group() as tg:
                tg.start_soon(fail, "a")
                tg.start_soon(fail, "b")

    with pytest.raises(ExceptionGroup) as caught:
        anyio.run(two)
    assert sorted(str(e) for e in caught.value.exceptions) == ["a", "b"]
