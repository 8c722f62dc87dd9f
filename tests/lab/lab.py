"""The whole lab: a registry holding busybox, an htpasswd registry, builders on demand."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

from .buildkitd import SNAPSHOTTERS, Buildkitd
from .busybox import push_busybox
from .registry import Registry

AUTH_USER = "lab"
AUTH_PASSWORD = "lab-secret"


class Lab:
    """Starts the registry and the auth registry, pushes busybox; `close()` stops everything.

    Every builder mirrors docker.io to `registry` and reaches both registries over plain HTTP.
    """

    def __init__(self, builder_parent: Path = Path("/tmp")) -> None:
        # Where builders keep their state (benchmarks may choose a tmpfs).
        self._builder_parent = builder_parent
        self._builders: dict[str, Buildkitd] = {}
        self._fresh: list[Buildkitd] = []
        self._snapshotters = SNAPSHOTTERS
        self.registry: Registry | None = None
        self.auth_registry: Registry | None = None
        try:
            self.registry = Registry()
            # Started up front, not lazily: builders need its address in their config.
            self.auth_registry = Registry(AUTH_USER, AUTH_PASSWORD)
            seeder = self._new_builder()
            try:
                self.busybox = push_busybox(seeder, self.registry)
            finally:
                seeder.stop()
        except BaseException:
            self.close()
            raise

    def builder(self, name: str) -> Buildkitd:
        """The builder called `name`, started on first use and kept until `close()`."""
        if name not in self._builders:
            self._builders[name] = self._new_builder()
        return self._builders[name]

    def fresh_builder(self) -> Buildkitd:
        """A new builder with empty state; stop it when done (`close()` does otherwise)."""
        builder = self._new_builder()
        self._fresh.append(builder)
        return builder

    def close(self) -> None:
        for builder in [*self._builders.values(), *self._fresh]:
            builder.stop()
        self._builders.clear()
        self._fresh.clear()
        for registry in (self.registry, self.auth_registry):
            if registry is not None:
                registry.stop()

    def _new_builder(self) -> Buildkitd:
        assert self.registry is not None and self.auth_registry is not None
        builder = Buildkitd(
            self.registry.host,
            insecure=[self.auth_registry.host],
            snapshotters=self._snapshotters,
            parent=self._builder_parent,
        )
        # Later builders skip snapshotters that already failed here.
        self._snapshotters = (builder.snapshotter,)
        return builder

    def __enter__(self) -> Lab:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
