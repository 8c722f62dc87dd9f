"""Which build arguments a Dockerfile is read with: those of the editor's launch
configuration for it, so that hover values and checks match what a debug session gets.

The editor sends its launch configurations (``buildg-dap/launchConfigurations``); the
initialization options give the fallback for files no configuration names.
"""

from __future__ import annotations

import logging
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

log = logging.getLogger(__name__)


class LaunchEntry(BaseModel):
    model_config = ConfigDict(extra="ignore")

    dockerfile: str | None = None  # absolute; None: any Dockerfile
    buildArgs: dict[str, str] = Field(default_factory=dict)
    target: str = ""


class _Entries(BaseModel):
    entries: list[LaunchEntry]


class LaunchEntries:
    def __init__(self) -> None:
        self._defaults = LaunchEntry()
        self._entries: list[LaunchEntry] = []

    def set_defaults(self, options: object) -> None:
        if options is None:
            return
        try:
            self._defaults = LaunchEntry.model_validate(options)
        except ValidationError as exc:
            log.warning("ignoring initializationOptions: %s", exc)

    def set_entries(self, entries: object) -> None:
        try:
            self._entries = _Entries.model_validate({"entries": entries}).entries
        except ValidationError as exc:
            log.warning("ignoring launch configurations: %s", exc)

    def entry_for(self, dockerfile: Path) -> LaunchEntry:
        """The configuration naming this file, else one naming none, else the defaults."""
        wanted = dockerfile.resolve()
        named = [
            e for e in self._entries if e.dockerfile and Path(e.dockerfile).resolve() == wanted
        ]
        unnamed = [e for e in self._entries if not e.dockerfile]
        return (named or unnamed or [self._defaults])[0]

    def build_args(self, dockerfile: Path) -> dict[str, str]:
        return self.entry_for(dockerfile).buildArgs
