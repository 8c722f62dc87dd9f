"""The test lab: a local registry with busybox and private buildkitds, usable without pytest."""

from .buildkitd import Buildkitd, buildctl, buildctl_build
from .busybox import push_busybox
from .lab import Lab
from .registry import Registry
from .service import LabError

__all__ = ["Buildkitd", "Lab", "LabError", "Registry", "buildctl", "buildctl_build", "push_busybox"]
