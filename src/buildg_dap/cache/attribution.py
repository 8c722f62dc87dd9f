"""Whether a step's result came from an imported cache, and the session's tally.

BuildKit reports a step only as CACHED or not; it does not say which cache answered.
Its cache records are keyed by cache keys, which are not the vertex digests the
progress stream carries, so matching a CACHED vertex to a record of the imported cache
config would mean recomputing BuildKit's cache keys. Instead the attribution uses what
the engine knows for certain:

* not CACHED: the step was executed;
* CACHED on a builder that cannot have the result locally (the engine says whether a
  local hit is possible, e.g. the builder was pruned or never ran this build) while
  caches are imported: the result was loaded from an imported cache;
* CACHED when a local hit is possible: served from cache, but whether from the
  builder's own store or an import cannot be told apart, and it is reported as such.

With exactly one import an imported result is attributed to it; with several, to the
set of them, since BuildKit consults them all.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class Origin(StrEnum):
    IMPORTED = "imported"
    CACHED = "cached"  # from a cache, local or imported: not distinguishable
    EXECUTED = "executed"


class StepOrigin(BaseModel):
    model_config = ConfigDict(frozen=True)

    origin: Origin
    caches: tuple[str, ...] = ()

    @property
    def from_cache(self) -> bool:
        return self.origin is not Origin.EXECUTED

    def describe(self) -> str:
        if self.origin is Origin.EXECUTED:
            return "executed"
        if self.origin is Origin.CACHED:
            return "from cache (the builder's own or an imported one)"
        if len(self.caches) == 1:
            return f"from imported cache {self.caches[0]}"
        return "from one of the imported caches: " + ", ".join(self.caches)


def step_origin(*, cached: bool, local_cache_hit_possible: bool, imports: list[str]) -> StepOrigin:
    """Classifies one step; ``imports`` names the caches the session imported."""
    if not cached:
        return StepOrigin(origin=Origin.EXECUTED)
    if imports and not local_cache_hit_possible:
        return StepOrigin(origin=Origin.IMPORTED, caches=tuple(imports))
    return StepOrigin(origin=Origin.CACHED)


class CacheTally(BaseModel):
    """Counts steps by origin; the first report of a vertex decides its origin.

    A step executed in one solve is reported CACHED by every later solve that reuses
    it; that later report must not turn it into a cache hit.
    """

    origins: dict[str, StepOrigin] = Field(default_factory=dict)

    def record(self, vertex: str, origin: StepOrigin) -> StepOrigin:
        """Stores the origin of ``vertex`` unless already known; returns the kept one."""
        return self.origins.setdefault(vertex, origin)

    @property
    def from_cache(self) -> int:
        return sum(1 for o in self.origins.values() if o.from_cache)

    @property
    def executed(self) -> int:
        return len(self.origins) - self.from_cache

    def summary(self) -> str:
        cached, executed = self.from_cache, self.executed
        return f"{cached} step{'' if cached == 1 else 's'} from cache, {executed} executed"
