"""``buildg-dap cache inspect``: what a cache holds, as tables or JSON."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TextIO

from pydantic import BaseModel, ConfigDict

from buildg_dap.buildkit.control import CacheEntry
from buildg_dap.cache.contents import LayerInfo
from buildg_dap.cache.errors import CacheError
from buildg_dap.cache.importer import (
    CacheSummary,
    LoadedCache,
    human_size,
    load_cache,
    short_digest,
)
from buildg_dap.cache.models import CacheRecord
from buildg_dap.cache.sources import parse_cache_spec
from buildg_dap.dockerauth.store import CredentialStore


class InspectReport(BaseModel):
    """Everything ``inspect`` shows; ``--json`` prints this model."""

    model_config = ConfigDict(frozen=True)

    summary: CacheSummary
    pinned: CacheEntry
    layers: list[LayerInfo]
    records: list[CacheRecord]

    @classmethod
    def of(cls, cache: LoadedCache) -> InspectReport:
        return cls(
            summary=CacheSummary.of(cache),
            pinned=cache.pinned,
            layers=cache.contents.layers,
            records=cache.contents.records,
        )

    def render(self) -> str:
        lines = [self.summary.one_line(), "", "LAYERS"]
        lines += _table(
            ("DIGEST", "SIZE", "CREATED", "PARENT"),
            [
                (
                    short_digest(layer.digest),
                    human_size(layer.size),
                    f"{layer.created_at:%Y-%m-%d %H:%M:%S}" if layer.created_at else "-",
                    short_digest(layer.parent) if layer.parent else "-",
                )
                for layer in self.layers
            ],
        )
        lines += ["", "RECORDS"]
        lines += _table(
            ("DIGEST", "INPUTS", "RESULTS"),
            [(short_digest(r.digest), str(len(r.inputs)), self._results(r)) for r in self.records],
        )
        lines += [
            "",
            f"total: {len(self.records)} records, {len(self.layers)} layers, "
            f"{human_size(self.summary.total_size)} ({self.summary.total_size} bytes)",
        ]
        return "\n".join(lines) + "\n"

    def _results(self, record: CacheRecord) -> str:
        """Each result as the short digest of its top layer; a chain joins its layers."""
        names = [short_digest(self.layers[r.layer].digest) for r in record.results]
        names += [
            "+".join(short_digest(self.layers[n].digest) for n in c.layers) for c in record.chains
        ]
        return ", ".join(names) or "-"


def _table(header: Sequence[str], rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [tuple(header), *rows]
    ]


async def inspect_command(
    spec: str,
    *,
    as_json: bool,
    out: TextIO,
    err: TextIO | None = None,
    store: CredentialStore | None = None,
) -> int:
    """Prints the cache ``spec`` names; returns 0, or 1 after printing why it failed."""
    try:
        entry = parse_cache_spec(spec)
        cache = await load_cache(entry, store or CredentialStore())
    except CacheError as exc:
        print(f"error: {exc}", file=err or sys.stderr)
        return 1
    report = InspectReport.of(cache)
    if as_json:
        out.write(report.model_dump_json(indent=2, by_alias=True) + "\n")
    else:
        out.write(report.render())
    return 0
