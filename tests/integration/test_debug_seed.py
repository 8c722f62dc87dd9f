"""The founding walkthrough: debug on a fresh builder from a registry cache exported by
another builder, stepping into cached RUN steps without running them again."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.integration.debugsession import debug_command, run_debug, write_context
from tests.lab import Buildkitd, Registry, buildctl_build

ROOT = Path(__file__).resolve().parents[2]
# The founding walkthrough's Dockerfile (busybox stands in for ubuntu).
SEED = (ROOT / "examples" / "seed" / "Dockerfile").read_text() + (
    "RUN head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \\n' > /token\n"
)


def test_seed_walkthrough_from_registry_cache(
    tmp_path: Path, builder_a: Buildkitd, fresh_builder: Buildkitd, registry: Registry
) -> None:
    context = write_context(tmp_path / "ctx", SEED)
    cache = f"{registry.host}/cache:seed-walkthrough"
    built = tmp_path / "built"
    buildctl_build(builder_a, context, "--export-cache", f"type=registry,ref={cache},mode=max",
        "--output", f"type=local,dest={built}",
    )
    token = (built / "token").read_text()
    assert re.fullmatch(r"[0-9a-f]{32}", token)

    session = run_debug(
        fresh_builder, context,
        ["break 5", "break 10", "break 11", "continue", "exec cat /hi", "info", "continue",
         "exec cat /hello /hi", "continue", "exec cat /token", "q"],
        "--cache-from", cache,
    )
    assert session.code == 0, session.text
    out = session.out
    assert "Breakpoint[0]: reached line: Dockerfile:5" in out
    assert "*=>   5| RUN echo hi > /hi" in out
    assert "Breakpoint[1]: reached line: Dockerfile:10" in out
    assert "*=>  10| RUN cat /hello /hi" in out
    # exec output in order: hi, then hello/hi, then A's token
    assert "(buildg) exec cat /hi\nhi\n(buildg) info\n" in out
    assert "(buildg) exec cat /hello /hi\nhello\nhi\n(buildg) continue\n" in out
    assert token in out, "the token must come from A's build, not a new run"
    for step in ("[build2 2/2] RUN echo hi > /hi", "[build1 2/2] RUN echo hello > /hello",
                 "[stage-2 4/5] RUN cat /hello /hi"):
        assert f"CACHED {step}" in session.err, session.err
    assert f"Result:      from imported cache {cache}" in out
    # 3 RUNs + 2 COPYs + the token RUN from the cache; the three FROMs were resolved
    assert "6 steps from cache, 3 executed" in session.err, session.err
    # the cached RUNs were never executed on B: no log lines from them
    assert not re.search(r"#\d+ \d+\.\d+ hello", session.err)


def test_entry_listing_marks_every_starting_line(
    tmp_path: Path, builder_a: Buildkitd
) -> None:
    context = write_context(tmp_path / "ctx", SEED)
    session = run_debug(builder_a, context, ["q"])
    assert session.code == 0, session.text
    assert 'Filename: "Dockerfile"\n =>   1| FROM busybox AS build1\n' in session.out
    assert " =>   4| FROM busybox AS build2\n" in session.out
    assert " =>   7| FROM busybox\n" in session.out


def test_cache_layers_arrive_before_the_stop_not_inside_exec(
    tmp_path: Path, builder_a: Buildkitd, fresh_builder: Buildkitd, registry: Registry
) -> None:
    # As a terminal shows it (both streams in one): the layers the cache provides are
    # fetched while the stop is reached, so exec's output follows its command directly.
    context = write_context(tmp_path / "ctx", SEED)
    cache = f"{registry.host}/cache:seed-layers"
    buildctl_build(builder_a, context, "--export-cache", f"type=registry,ref={cache},mode=max")
    done = subprocess.run(
        debug_command(fresh_builder, context, "--cache-from", cache),
        input="break 5\ncontinue\nexec cat /hi\nq\n",
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300, check=False,
    )
    assert done.returncode == 0, done.stdout
    before_stop, _, after_stop = done.stdout.partition("Breakpoint[0]: reached line")
    assert re.search(r"#\d+ extracting sha256:[0-9a-f]{64} .*done", before_stop), done.stdout
    assert "(buildg) exec cat /hi\nhi\n(buildg) q\n" in after_stop, done.stdout
