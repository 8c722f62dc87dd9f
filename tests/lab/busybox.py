"""The lab's `busybox:latest`, built from Debian's static busybox and pushed to the registry."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from .buildkitd import Buildkitd, buildctl_build
from .registry import Registry
from .service import LabError

BUSYBOX_BIN = Path("/bin/busybox")
REPOSITORY = "library/busybox"
DOCKERFILE = """\
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
"""
MANIFEST_TYPES = ", ".join(
    [
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    ]
)


def push_busybox(builder: Buildkitd, registry: Registry) -> str:
    """Builds and pushes the image; returns its name. `builder` must mirror docker.io to
    `registry`, so that `FROM busybox` resolves to it."""
    name = f"{registry.host}/{REPOSITORY}:latest"
    context = Path(tempfile.mkdtemp(prefix="bgd-ctx-", dir="/tmp"))
    try:
        shutil.copy2(BUSYBOX_BIN, context / "busybox")
        (context / "Dockerfile").write_text(DOCKERFILE)
        buildctl_build(
            builder,
            context,
            "--output",
            f"type=image,name={name},push=true,registry.insecure=true",
        )
    finally:
        shutil.rmtree(context, ignore_errors=True)
    with registry.client() as client:
        answer = client.get(
            f"/v2/{REPOSITORY}/manifests/latest", headers={"Accept": MANIFEST_TYPES}
        )
    if answer.status_code != 200:
        raise LabError(f"{name} not in the registry after the push: HTTP {answer.status_code}")
    return name
