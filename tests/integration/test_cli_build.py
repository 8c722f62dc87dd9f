"""``buildg-dap build`` against the lab: outputs, failures with their snippet, args, targets."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import tarfile
import time
from pathlib import Path

import pytest

from buildg_dap.debugger.steprecord import load_record
from tests.integration.cliutil import CLI, recorded_lines, run_cli, write_context
from tests.lab import Buildkitd, Registry, buildctl_build

pytestmark = pytest.mark.integration

TREE = """\
FROM busybox AS base
RUN mkdir -p /out/sub /out/empty && echo hello > /out/hello && ln -s hello /out/link \\
 && ln -s /etc/passwd /out/abs && chmod 0750 /out/sub && echo x > /out/sub/x \\
 && chmod 4755 /out/sub/x && ln /out/hello /out/hard && touch -d @1000000000 /out/old \\
 && dd if=/dev/urandom of=/out/big bs=1k count=3000 2>/dev/null
FROM scratch
COPY --from=base /out /
COPY local.txt /from-context.txt
"""


def describe(root: Path) -> dict[str, tuple[object, ...]]:
    """Everything a local export should reproduce, per path; hard links by group."""
    found: dict[str, tuple[object, ...]] = {}
    inodes: dict[int, str] = {}
    for path in sorted(root.rglob("*")):
        info = path.lstat()
        rel = str(path.relative_to(root))
        if stat.S_ISLNK(info.st_mode):
            found[rel] = ("link", os.readlink(path), info.st_mtime_ns)
        elif stat.S_ISDIR(info.st_mode):
            found[rel] = ("dir", stat.S_IMODE(info.st_mode), info.st_mtime_ns)
        else:
            first = inodes.setdefault(info.st_ino, rel)
            found[rel] = (
                "file",
                stat.S_IMODE(info.st_mode),
                info.st_mtime_ns,
                path.read_bytes(),
                first,
            )
    return found


def test_local_output_matches_buildctl(builder_a: Buildkitd, tmp_path: Path) -> None:
    context = write_context(tmp_path / "ctx", TREE, {"local.txt": "from the context\n"})
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    done = run_cli("build", "--addr", builder_a.address, "-o", f"type=local,dest={ours}", context)
    assert done.returncode == 0, done.stderr
    buildctl_build(builder_a, context, "--output", f"type=local,dest={theirs}",
    )  # fmt: skip
    assert describe(ours) == describe(theirs)
    assert (ours / "from-context.txt").read_text() == "from the context\n"
    assert os.readlink(ours / "abs") == "/etc/passwd"
    assert (ours / "hard").stat().st_ino == (ours / "hello").stat().st_ino
    assert (ours / "big").stat().st_size == 3000 * 1024
    assert (ours / "old").stat().st_mtime_ns == 1_000_000_000 * 10**9
    assert not [p for p in ours.rglob("*.part")]


def test_local_output_shorthand_merges_into_existing_dir(
    builder_a: Buildkitd, tmp_path: Path
) -> None:
    context = write_context(tmp_path / "ctx", "FROM scratch\nCOPY a.txt /a.txt\n", {"a.txt": "new"})
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.txt").write_text("old")
    (out / "keep.txt").write_text("kept")
    done = run_cli("build", "--addr", builder_a.address, "--progress", "quiet", "-o", out, context)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert (out / "a.txt").read_text() == "new"
    assert (out / "keep.txt").read_text() == "kept"


def test_oci_output_is_a_tar_with_an_index(builder_a: Buildkitd, tmp_path: Path) -> None:
    context = write_context(tmp_path / "ctx", "FROM busybox\nRUN echo oci > /oci\n")
    target = tmp_path / "image.tar"
    done = run_cli("build", "--addr", builder_a.address, "-o", f"type=oci,dest={target}", context)
    assert done.returncode == 0, done.stderr
    with tarfile.open(target) as archive:
        names = archive.getnames()
        index_file = archive.extractfile("index.json")
        assert index_file is not None
        index = json.load(index_file)
    assert "oci-layout" in names
    assert index["schemaVersion"] == 2
    digest = index["manifests"][0]["digest"]
    assert f"blobs/{digest.replace(':', '/')}" in names
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []


def test_tar_output_to_stdout(builder_a: Buildkitd, tmp_path: Path) -> None:
    context = write_context(tmp_path / "ctx", "FROM scratch\nCOPY f /f\n", {"f": "payload\n"})
    target = tmp_path / "out.tar"
    with target.open("wb") as out:
        done = subprocess.run(
            [CLI, "build", "--addr", builder_a.address, "--progress", "quiet", "-o", "-", context],
            stdout=out, stderr=subprocess.PIPE, timeout=300,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    with tarfile.open(target) as archive:
        member = archive.extractfile("f")
        assert member is not None
        assert member.read() == b"payload\n"


def test_image_push_to_registry(builder_a: Buildkitd, registry: Registry, tmp_path: Path) -> None:
    context = write_context(tmp_path / "ctx", "FROM busybox\nRUN echo pushed > /pushed\n")
    name = f"{registry.host}/cli/pushed:v1"
    done = run_cli(
        "build", "--addr", builder_a.address, "-o", f"type=image,name={name},push=true", context
    )
    assert done.returncode == 0, done.stderr
    accept = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json"
    with registry.client() as client:
        answer = client.get("/v2/cli/pushed/manifests/v1", headers={"Accept": accept})
    assert answer.status_code == 200
    manifest = answer.json()
    assert manifest["schemaVersion"] == 2
    assert manifest["mediaType"] in (
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
    )


FAILING = """\
FROM busybox
RUN echo ok
RUN exit 3
RUN echo never
"""
SNIPPET = """\
Dockerfile:3
--------------------
   1 |     FROM busybox
   2 |     RUN echo ok
   3 | >>> RUN exit 3
   4 |     RUN echo never
   5 |     {blank}
--------------------
""".format(blank="")


def test_failing_run_prints_the_snippet(builder_a: Buildkitd, tmp_path: Path) -> None:
    context = write_context(tmp_path / "ctx", FAILING)
    done = run_cli("build", "--addr", builder_a.address, "--progress", "quiet", context)
    assert done.returncode == 1
    assert done.stderr == (
        'error: process "/bin/sh -c exit 3" did not complete successfully: exit code: 3\n' + SNIPPET
    )
    # the step record: the failed line, and nothing of the step after it
    recorded = recorded_lines(context)
    assert recorded[3] == ("failed", "") and 4 not in recorded


def test_a_step_stopped_by_another_failure_is_not_recorded(
    builder_a: Buildkitd, tmp_path: Path
) -> None:
    dockerfile = """\
FROM busybox AS slow
RUN sleep 30
FROM busybox AS failing
RUN sleep 1 && exit 4
FROM busybox
COPY --from=slow /etc/hostname /slow
COPY --from=failing /etc/hostname /failing
"""
    context = write_context(tmp_path / "ctx", dockerfile)
    done = run_cli("build", "--addr", builder_a.address, "--progress", "quiet", context)
    assert done.returncode == 1
    recorded = recorded_lines(context)
    assert recorded[4] == ("failed", "") and 2 not in recorded


def test_build_records_each_line(builder_a: Buildkitd, tmp_path: Path) -> None:
    marker = f"{os.getpid()}-{time.time_ns()}"  # executed the first time
    dockerfile = f"FROM busybox\nRUN echo {marker} > /m \\\n && sleep 1\n"
    context = write_context(tmp_path / "ctx", dockerfile)
    for status, cache in (("executed", ""), ("cached", "builder cache")):
        done = run_cli("build", "--addr", builder_a.address, "--progress", "quiet", context)
        assert done.returncode == 0, done.stderr
        record = load_record(context / "Dockerfile")
        assert record is not None
        assert record.dockerfile == str(context.resolve() / "Dockerfile")
        first, run = record.steps
        assert (first.line, first.end_line, first.text) == (1, 1, "FROM busybox")
        assert (run.line, run.end_line, run.text) == (2, 3, f"RUN echo {marker} > /m \\")
        assert (run.status, run.cache) == (status, cache)
        assert run.duration is not None
        assert run.duration >= 1 if status == "executed" else run.duration < 1


def test_build_arg_and_target(
    builder_a: Buildkitd, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dockerfile = """\
FROM busybox AS one
ARG GREETING=default
ARG FROM_ENV=unset
RUN echo "$GREETING $FROM_ENV" > /greeting
FROM busybox AS two
RUN echo two > /two
FROM scratch AS out
COPY --from=one /greeting /greeting
FROM scratch
COPY --from=two /two /two
"""
    context = write_context(tmp_path / "ctx", dockerfile)
    out = tmp_path / "out"
    done = run_cli(
        "build", "--addr", builder_a.address, "--target", "out",
        "--build-arg", "GREETING=hi there", "--build-arg", "FROM_ENV", "--build-arg", "ABSENT",
        "-o", f"type=local,dest={out}", context,
        env={"FROM_ENV": "env-value"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == ["greeting"]
    assert (out / "greeting").read_text() == "hi there env-value\n"


def test_malformed_output_is_refused(tmp_path: Path) -> None:
    context = write_context(tmp_path / "ctx", "FROM scratch\n")
    done = run_cli("build", "-o", "type=local", context)
    assert done.returncode == 1
    assert done.stderr == "error: --output 'type=local': type=local needs dest=DIRECTORY\n"


def test_unreachable_builder(tmp_path: Path) -> None:
    context = write_context(tmp_path / "ctx", "FROM scratch\n")
    missing = tmp_path / "none.sock"
    done = run_cli("build", "--addr", f"unix://{missing}", context)
    assert done.returncode == 1
    assert done.stderr == (
        f"error: buildkitd socket {missing} does not exist: is buildkitd running? "
        "(start one, or leave --addr unset to use the embedded builder)\n"
    )


def test_dockerfile_syntax_error(builder_a: Buildkitd, tmp_path: Path) -> None:
    context = write_context(tmp_path / "ctx", "FROM busybox\nRUNX echo\n")
    done = run_cli("build", "--addr", builder_a.address, "--progress", "quiet", context)
    assert done.returncode == 1
    assert done.stderr.endswith(
        "Dockerfile:2\n--------------------\n   1 |     FROM busybox\n"
        "   2 | >>> RUNX echo\n   3 |     \n--------------------\n"
    )
    assert done.stderr.startswith(
        "error: dockerfile parse error on line 2: unknown instruction: RUNX"
    )


def test_secret_is_mounted(builder_a: Buildkitd, tmp_path: Path) -> None:
    dockerfile = (
        "FROM busybox AS s\n"
        "RUN --mount=type=secret,id=token cp /run/secrets/token /token\n"
        "FROM scratch\nCOPY --from=s /token /token\n"
    )
    context = write_context(tmp_path / "ctx", dockerfile)
    (tmp_path / "token.txt").write_text("s3cr3t")
    out = tmp_path / "out"
    done = run_cli(
        "build", "--addr", builder_a.address, "--secret", f"id=token,src={tmp_path / 'token.txt'}",
        "-o", f"type=local,dest={out}", context,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (out / "token").read_text() == "s3cr3t"


def test_missing_secret_file_is_refused(tmp_path: Path) -> None:
    context = write_context(tmp_path / "ctx", "FROM scratch\n")
    missing = tmp_path / "nope"
    done = run_cli("build", "--secret", f"id=x,src={missing}", context)
    assert done.returncode == 1
    assert done.stderr == f"error: secret 'x': file {missing} does not exist\n"
