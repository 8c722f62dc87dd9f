"""Local caches (``type=local``, an OCI layout directory) end to end: exported by us or
by buildctl on one builder, imported by us or by buildctl on a fresh one."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.integration.cliutil import run_cli, write_context
from tests.integration.debugsession import run_debug
from tests.lab import Buildkitd, Lab, buildctl_build

ROOT = Path(__file__).resolve().parents[2]
SEED = (ROOT / "examples" / "seed" / "Dockerfile").read_text()
STEPS = {
    "[build1 2/2] RUN echo hello > /hello",
    "[build2 2/2] RUN echo hi > /hi",
    "[stage-2 2/4] COPY --from=build1 /hello /",
    "[stage-2 3/4] COPY --from=build2 /hi /",
    "[stage-2 4/4] RUN cat /hello /hi",
}
REF_NAME = "org.opencontainers.image.ref.name"


def _cached_steps(progress: str) -> set[str]:
    """Names of the vertices the plain progress reported CACHED."""
    names = dict(re.findall(r"^#(\d+) (\[.*)$", progress, re.M))
    return {names[n] for n in re.findall(r"^#(\d+) CACHED$", progress, re.M) if n in names}


def _executed_runs(progress: str) -> list[str]:
    """RUN output lines (``#N 0.123 text``): present only for steps that ran."""
    return re.findall(r"^#\d+ \d+\.\d+ (.*)$", progress, re.M)


def _tagged(cache: Path) -> dict[str, str]:
    """index.json: tag -> manifest digest."""
    index = json.loads((cache / "index.json").read_text())
    return {m["annotations"][REF_NAME]: m["digest"] for m in index["manifests"]}


def _renamed(word: str) -> set[str]:
    return {step.replace("hello", word) for step in STEPS}


def test_our_local_export_is_used_by_us_and_by_buildctl(
    tmp_path: Path, builder_a: Buildkitd, fresh_builder: Buildkitd, lab: Lab
) -> None:
    context = write_context(tmp_path / "ctx", SEED.replace("hello", "salut"))
    cache = tmp_path / "cache"
    done = run_cli(
        "build", "--addr", builder_a.address,
        "--cache-to", f"type=local,dest={cache},mode=max", context,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    tags = _tagged(cache)
    assert list(tags) == ["latest"]
    assert (cache / "blobs" / "sha256" / tags["latest"].removeprefix("sha256:")).is_file()
    assert json.loads((cache / "oci-layout").read_text()) == {"imageLayoutVersion": "1.0.0"}
    assert not any((cache / "ingest").iterdir()), "every write was committed"

    again = run_cli(
        "build", "--addr", fresh_builder.address, "--cache-from", f"type=local,src={cache}",
        context,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert _renamed("salut") <= _cached_steps(again.stderr), again.stderr
    assert f"local cache {cache}@{tags['latest'][:15]}…" in again.stderr
    assert _executed_runs(again.stderr) == []

    # Another fresh builder: this one now holds results of its own.
    theirs_b = lab.fresh_builder()
    try:
        theirs = buildctl_build(
            theirs_b, context, "--import-cache", f"type=local,src={cache}", "--progress", "plain"
        )
    finally:
        theirs_b.stop()
    assert _renamed("salut") <= _cached_steps(theirs.stderr), theirs.stderr


def test_buildctl_local_export_is_used_by_us(
    tmp_path: Path, builder_a: Buildkitd, fresh_builder: Buildkitd
) -> None:
    context = write_context(tmp_path / "ctx", SEED.replace("hello", "hola"))
    cache = tmp_path / "cache"
    buildctl_build(builder_a, context, "--export-cache", f"type=local,dest={cache},mode=max,tag=v2")
    assert list(_tagged(cache)) == ["v2"]
    done = run_cli(
        "build", "--addr", fresh_builder.address,
        "--cache-from", f"type=local,src={cache},tag=v2", context,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert _renamed("hola") <= _cached_steps(done.stderr), done.stderr
    assert _executed_runs(done.stderr) == []


def test_export_moves_its_tag_and_keeps_others(tmp_path: Path, builder_a: Buildkitd) -> None:
    cache = tmp_path / "cache"
    first = write_context(tmp_path / "one", "FROM busybox\nRUN echo one > /one\n")
    second = write_context(tmp_path / "two", "FROM busybox\nRUN echo two > /two\n")
    for context, tag in ((first, "stable"), (first, "edge"), (second, "edge")):
        done = run_cli(
            "build", "--addr", builder_a.address,
            "--cache-to", f"type=local,dest={cache},tag={tag}", context,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
    tags = _tagged(cache)
    assert sorted(tags) == ["edge", "stable"]
    assert tags["edge"] != tags["stable"]


def test_debug_reads_a_step_result_from_a_local_cache(
    tmp_path: Path, builder_a: Buildkitd, fresh_builder: Buildkitd
) -> None:
    dockerfile = "FROM busybox\nRUN head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \\n' > /token\n"
    context = write_context(tmp_path / "ctx", dockerfile)
    cache, built = tmp_path / "cache", tmp_path / "built"
    done = run_cli(
        "build", "--addr", builder_a.address, "--cache-to", f"type=local,dest={cache},mode=max",
        "-o", f"type=local,dest={built}", context,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    token = (built / "token").read_text()
    assert re.fullmatch(r"[0-9a-f]{32}", token)

    session = run_debug(
        fresh_builder, context, ["break 2", "continue", "exec cat /token", "info", "q"],
        "--cache-from", f"type=local,src={cache}",
    )  # fmt: skip
    assert session.code == 0, session.text
    assert "Breakpoint[0]: reached line: Dockerfile:2" in session.out
    assert f"(buildg) exec cat /token\n{token}" in session.out, session.text
    assert f"Result:      from imported cache {cache}\n" in session.out, session.out


def test_missing_local_cache_fails_before_the_build(tmp_path: Path, builder_a: Buildkitd) -> None:
    context = write_context(tmp_path / "ctx", "FROM busybox\nRUN true\n")
    missing = tmp_path / "nowhere"
    done = run_cli(
        "build", "--addr", builder_a.address, "--cache-from", f"type=local,src={missing}", context
    )
    assert done.returncode == 1
    assert done.stderr == f"error: local cache {missing} not found (no index.json)\n"

    session = run_debug(builder_a, context, ["q"], "--cache-from", f"type=local,src={missing}")
    assert session.code == 1
    assert session.err == f"error: local cache {missing} not found (no index.json)\n"


def test_missing_tag_fails_before_the_build(tmp_path: Path, builder_a: Buildkitd) -> None:
    context = write_context(tmp_path / "ctx", "FROM busybox\nRUN echo tagged\n")
    cache = tmp_path / "cache"
    done = run_cli(
        "build", "--addr", builder_a.address, "--cache-to", f"type=local,dest={cache}", context
    )
    assert done.returncode == 0, done.stderr
    wrong = run_cli(
        "build", "--addr", builder_a.address,
        "--cache-from", f"type=local,src={cache},tag=v9", context,
    )  # fmt: skip
    assert wrong.returncode == 1
    assert wrong.stderr == f"error: local cache {cache} has no manifest tagged 'v9' in index.json\n"


def test_relative_directories_are_taken_from_the_working_directory(
    tmp_path: Path, builder_a: Buildkitd, fresh_builder: Buildkitd, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    context = write_context(tmp_path / "ctx", "FROM busybox\nRUN echo relative > /r\n")
    done = run_cli(
        "build", "--addr", builder_a.address, "--cache-to", "type=local,dest=rel-cache", context,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert list(_tagged(tmp_path / "rel-cache")) == ["latest"]
    again = run_cli(
        "build", "--addr", fresh_builder.address, "--cache-from", "type=local,src=rel-cache",
        context,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert "[2/2] RUN echo relative > /r" in _cached_steps(again.stderr), again.stderr


def test_cache_dest_that_cannot_be_created(tmp_path: Path, builder_a: Buildkitd) -> None:
    context = write_context(tmp_path / "ctx", "FROM busybox\n")
    blocker = tmp_path / "file"
    blocker.write_text("not a directory\n")
    done = run_cli(
        "build", "--addr", builder_a.address,
        "--cache-to", f"type=local,dest={blocker}/cache", context,
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr == f"error: --cache-to: cannot create {blocker}/cache: Not a directory\n"
