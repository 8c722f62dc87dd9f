"""The build command end to end: registry cache round trips (ours and buildctl's, both
ways) and the build context (.dockerignore, symlinks) compared with buildctl."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

from tests.integration.cliutil import CLI, recorded_lines, run_cli, write_context
from tests.lab import Buildkitd, Lab, Registry, buildctl_build
from tests.lab.service import clean_env

ROOT = Path(__file__).resolve().parents[2]
# The founding walkthrough's Dockerfile (busybox stands in for ubuntu).
SEED = (ROOT / "examples" / "seed" / "Dockerfile").read_text()
STEPS = [
    "[build1 2/2] RUN echo hello > /hello",
    "[build2 2/2] RUN echo hi > /hi",
    "[stage-2 2/4] COPY --from=build1 /hello /",
    "[stage-2 3/4] COPY --from=build2 /hi /",
    "[stage-2 4/4] RUN cat /hello /hi",
]


def _cached_steps(progress: str) -> set[str]:
    """Names of the vertices the plain progress reported CACHED."""
    names = dict(re.findall(r"^#(\d+) (\[.*)$", progress, re.M))
    return {names[n] for n in re.findall(r"^#(\d+) CACHED$", progress, re.M) if n in names}


def test_our_cache_export_is_used_by_us_and_by_buildctl(
    tmp_path: Path, builder_a: Buildkitd, registry: Registry, lab: Lab
) -> None:
    context = write_context(tmp_path / "ctx", SEED)
    ref = f"{registry.host}/cache:seed-ours"
    done = run_cli(
        "build",
        "--addr",
        builder_a.address,
        "--cache-to",
        f"type=registry,ref={ref},mode=max",
        context,
    )
    assert done.returncode == 0, done.stderr
    inspected = run_cli("cache", "inspect", ref, "--json")
    assert inspected.returncode == 0, inspected.stderr
    report = json.loads(inspected.stdout)
    assert report["summary"]["records"] > 0 and report["summary"]["layers"] > 0

    ours_b = lab.fresh_builder()
    try:
        again = run_cli("build", "--addr", ours_b.address, "--cache-from", ref, context)
        assert again.returncode == 0, again.stderr
        assert set(STEPS) <= _cached_steps(again.stderr), again.stderr
        assert f"cache {ref}@sha256:" in again.stderr
    finally:
        ours_b.stop()

    theirs_b = lab.fresh_builder()
    try:
        imported = buildctl_build(
            theirs_b, context, "--import-cache", f"type=registry,ref={ref}", "--progress", "plain"
        )
        assert set(STEPS) <= _cached_steps(imported.stderr), imported.stderr
    finally:
        theirs_b.stop()


def test_buildctl_cache_export_is_used_by_us(
    tmp_path: Path, builder_a: Buildkitd, registry: Registry, fresh_builder: Buildkitd
) -> None:
    context = write_context(tmp_path / "ctx", SEED.replace("hello", "bonjour"))
    ref = f"{registry.host}/cache:seed-buildctl"
    buildctl_build(builder_a, context, "--export-cache", f"type=registry,ref={ref},mode=max")
    done = run_cli("build", "--addr", fresh_builder.address, "--cache-from", ref, context)
    assert done.returncode == 0, done.stderr
    expected = {s.replace("hello", "bonjour") for s in STEPS}
    assert expected <= _cached_steps(done.stderr), done.stderr
    # the step record names the cache each RUN and COPY came from
    recorded = recorded_lines(context)
    assert [recorded[line] for line in (2, 5, 8, 9, 10)] == [("cached", ref)] * 5


IGNORE_TREE = {
    ".dockerignore": "**/*.log\nbuild\n!build/keep.txt\ndocs/**/*.md\n!docs/api/index.md\n"
    "Dockerfile\n/secret.txt\n",
    "app.py": "print('app')\n",
    "app.log": "top-level log\n",
    "src/deep/er/trace.log": "nested log\n",
    "src/deep/er/main.c": "int main;\n",
    "build/out.bin": "artifact\n",
    "build/keep.txt": "re-included\n",
    "docs/guide/intro.md": "ignored doc\n",
    "docs/api/index.md": "kept doc\n",
    "docs/readme.txt": "kept text\n",
    "secret.txt": "not for the image\n",
}


def _tree(root: Path) -> dict[str, str]:
    found = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_symlink():
            found[rel] = "-> " + os.readlink(path)
        elif path.is_file():
            found[rel] = path.read_text()
        else:
            found[rel] = "/"
    return found


def _both(builder: Buildkitd, context: Path, tmp_path: Path) -> tuple[dict[str, str], ...]:
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    done = run_cli("build", "--addr", builder.address, "-o", f"type=local,dest={ours}", context)
    assert done.returncode == 0, done.stderr
    buildctl_build(builder, context, "--output", f"type=local,dest={theirs}")
    return _tree(ours), _tree(theirs)


def test_dockerignore_gives_the_same_context_as_buildctl(
    tmp_path: Path, builder_a: Buildkitd
) -> None:
    # The Dockerfile itself is ignored, yet still used to build.
    context = write_context(tmp_path / "ctx", "FROM scratch\nCOPY . /\n", IGNORE_TREE)
    ours, theirs = _both(builder_a, context, tmp_path)
    assert ours == theirs
    assert set(ours) >= {
        "app.py",
        "build/keep.txt",
        "docs/api/index.md",
        "docs/readme.txt",
        "src/deep/er/main.c",
    }
    for gone in (
        "app.log",
        "src/deep/er/trace.log",
        "build/out.bin",
        "docs/guide/intro.md",
        "Dockerfile",
        "secret.txt",
    ):
        assert gone not in ours


def test_symlinks_arrive_as_links_and_nothing_outside_is_read(
    tmp_path: Path, builder_a: Buildkitd
) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("must not be read\n")
    context = write_context(tmp_path / "ctx", "FROM scratch\nCOPY . /\n", {"real.txt": "in\n"})
    (context / "passwd").symlink_to("/etc/passwd")
    (context / "escape").symlink_to(outside)
    (context / "loop-a").symlink_to("loop-b")
    (context / "loop-b").symlink_to("loop-a")
    (context / "dir").mkdir()
    (context / "dir" / "up").symlink_to("..")
    ours, theirs = _both(builder_a, context, tmp_path)
    assert ours == theirs
    assert ours["passwd"] == "-> /etc/passwd"
    assert ours["escape"] == f"-> {outside}"
    assert ours["loop-a"] == "-> loop-b" and ours["loop-b"] == "-> loop-a"
    assert ours["dir/up"] == "-> .."
    assert "must not be read" not in "".join(ours.values())


def test_an_unreadable_context_file_fails_the_build_naming_it(
    tmp_path: Path, builder_a: Buildkitd
) -> None:
    context = write_context(
        tmp_path / "ctx", "FROM scratch\nCOPY . /ctx\n", {"ok": "fine\n", "secret.txt": "x\n"}
    )
    (context / "secret.txt").chmod(0)
    # Root reads everything; without the DAC capabilities it is an ordinary user.
    done = subprocess.run(
        ["setpriv", "--bounding-set", "-dac_override,-dac_read_search",
         CLI, "build", "--addr", builder_a.address, context],
        capture_output=True, text=True, timeout=300, check=False, env=clean_env(),
    )
    assert done.returncode == 1, done.stderr
    assert f"cannot read {context}/secret.txt: permission denied" in done.stderr
