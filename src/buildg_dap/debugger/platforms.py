"""Which target platforms the builder can run steps for, and what to tell the user when it
cannot.

buildkitd lists a platform among its workers' platforms when it runs natively or when an
emulator is registered for it (binfmt_misc). For any other platform a build still loads
and solves FROM and COPY steps, but a RUN step fails as soon as it runs a program built
for that platform (``exec format error``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

# Spellings of one architecture, as containerd's platforms.Normalize folds them.
_ARCH = {
    "x86_64": "amd64", "x86-64": "amd64", "aarch64": "arm64", "i386": "386",
    "armhf": "arm", "armel": "arm",
}  # fmt: skip
_ARM_VARIANT = {"armhf": "v7", "armel": "v6"}


class Platform(NamedTuple):
    os: str
    arch: str
    variant: str

    @classmethod
    def parse(cls, text: str) -> Platform:
        parts = [*text.strip().lower().split("/"), "", ""]
        os, arch, variant = parts[0], parts[1], parts[2]
        variant = _ARM_VARIANT.get(arch, variant)
        arch = _ARCH.get(arch, arch)
        if variant and not variant.startswith("v") and variant.isdigit():
            variant = "v" + variant
        # The default variant of an architecture means the same as none.
        if (arch, variant) in {("amd64", "v1"), ("arm64", "v8")}:
            variant = ""
        elif arch == "arm" and not variant:
            variant = "v7"
        return cls(os, arch, variant)

    def runs_on(self, worker: Platform) -> bool:
        """Whether a worker for ``worker`` runs this platform's programs (no variant
        asked for: any variant of the architecture)."""
        return (self.os, self.arch) == (worker.os, worker.arch) and (
            not self.variant or self.variant == worker.variant
        )


def can_run(platform: str, supported: Sequence[str]) -> bool:
    """Whether a builder whose workers list ``supported`` runs ``platform``'s steps. An
    empty list (the builder did not say) counts as yes: no warning without a reason."""
    wanted = Platform.parse(platform)
    return not supported or any(wanted.runs_on(Platform.parse(s)) for s in supported)


def support_message(platform: str, supported: Sequence[str]) -> str:
    """What to tell the user about a platform the builder cannot run."""
    native: list[str] = []
    for name in supported:
        parsed = Platform.parse(name)
        short = f"{parsed.os}/{parsed.arch}"
        if short not in native:
            native.append(short)
    runs = f"it runs {', '.join(native)}; " if native else ""
    return (
        f"{platform}: this builder cannot run {platform} programs ({runs}no emulator is "
        f"registered for {platform}): FROM and COPY steps can be inspected, RUN steps "
        f"fail where they run {platform} programs"
    )
