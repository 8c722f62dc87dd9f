"""Session fixtures for the lab. A lab that cannot start raises, so tests error loudly."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.lab import Buildkitd, Lab, Registry


@pytest.fixture(autouse=True)
def state_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test's own XDG_STATE_HOME (step records), inherited by the processes it runs."""
    home = tmp_path_factory.mktemp("state")
    monkeypatch.setenv("XDG_STATE_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def lab() -> Iterator[Lab]:
    with Lab() as started:
        yield started


@pytest.fixture(scope="session")
def registry(lab: Lab) -> Registry:
    assert lab.registry is not None
    return lab.registry


@pytest.fixture(scope="session")
def auth_registry(lab: Lab) -> Registry:
    assert lab.auth_registry is not None
    return lab.auth_registry


@pytest.fixture(scope="session")
def builder_a(lab: Lab) -> Buildkitd:
    return lab.builder("a")


@pytest.fixture
def fresh_builder(lab: Lab) -> Iterator[Buildkitd]:
    builder = lab.fresh_builder()
    yield builder
    builder.stop()
