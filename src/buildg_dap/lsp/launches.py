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
        # With each entry its Dockerfile resolved, once, not on every hover and lint.
        self._entries: list[tuple[Path | None, LaunchEntry]] = []

    def set_defaults(self, options: object) -> None:
        if options is None:
            return
        try:
            self._defaults = LaunchEntry.model_validate(options)
        except ValidationError as exc:
            log.warning("ignoring initializationOptions: %s", exc)

    def set_entries(self, entries: object) -> None:
        try:
            given = _Entries.model_validate({"entries": entries}).entries
        except ValidationError as exc:
            log.warning("ignoring launch configurations: %s", exc)
            return
        self._entries = [(Path(e.dockerfile).resolve() if e.dockerfile else None, e) for e in given]

    def entry_for(self, dockerfile: Path) -> LaunchEntry:
        """The configuration naming this file, else one naming none, else the defaults."""
        wanted = dockerfile.resolve()
        named = [e for path, e in self._entries if path == wanted]
        unnamed = [e for path, e in self._entries if path is None]
        return (named or unnamed or [self._defaults])[0]

    def build_args(self, dockerfile: Path) -> dict[str, str]:
        return self.entry_for(dockerfile).buildArgs
