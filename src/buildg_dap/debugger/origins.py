"""Where each step's result came from, for the whole debug session.

The first known origin of an op is kept across reloads: a step executed by an earlier
build of the session stays "executed" when a later build reuses it from the builder's
cache, and a step loaded from an imported cache stays attributed to it.
"""

from __future__ import annotations

from collections.abc import Sequence

from buildg_dap.buildkit.progress import Progress
from buildg_dap.cache.attribution import CacheTally, StepOrigin, step_origin
from buildg_dap.debugger.program import Step


class Origins:
    def __init__(self, progress: Progress, cache_names: Sequence[str]) -> None:
        self.progress = progress
        self.cache_names = list(cache_names)
        # Whether buildkitd could have had results of this build before the session.
        self.local_results_possible = True
        self._known: dict[str, StepOrigin] = {}

    def of(self, step: Step) -> StepOrigin | None:
        """Executed, or loaded from which cache; None if not evaluated (or failed)."""
        known = self._known.get(step.digest)
        if known is not None:
            return known
        state = self.progress.vertices.get(step.digest)
        if state is None or state.completed is None or state.error:
            return None
        found = step_origin(
            cached=state.cached,
            local_cache_hit_possible=self.local_results_possible,
            imports=self.cache_names,
        )
        return self._known.setdefault(step.digest, found)

    def tally(self, steps: Sequence[Step]) -> CacheTally:
        tally = CacheTally()
        for step in steps:
            found = self.of(step)
            if found is not None:
                tally.record(f"{step.digest}@{step.line}", found)
        return tally
