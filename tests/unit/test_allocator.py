"""The CLI's malloc arena cap."""

from __future__ import annotations

import platform

import pytest

from buildg_dap.allocator import limit_arenas


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="a glibc setting")
def test_glibc_accepts_the_arena_cap() -> None:
    assert limit_arenas() is True

