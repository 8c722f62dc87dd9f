"""The test lab: a local registry with busybox and private buildkitds, usable without pytest."""

from .buildkitd import Buildkitd, buildctl
from .busybox import push_busybox
from .lab import Lab
from .registry import Registry
from .service import LabError

__all__ = ["Buildkitd", "Lab", "LabError", "Registry", "buildctl", "push_busybox"]
