"""A cache tag moved while a debug session runs changes nothing in that session."""

from __future__ import annotations

from pathlib import Path

from tests.integration.debugsession import LiveSession, write_context
from tests.lab import Buildkitd, Lab, Registry, buildctl_build

TOKEN = "FROM busybox\nRUN head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \\n' > /token\n"


def _export(builder: Buildkitd, context: Path, ref: str, out: Path) -> str:
    buildctl_build(builder, context, "--export-cache", f"type=registry,ref={ref},mode=max",
                   "--output", f"type=local,dest={out}")
    return (out / "token").read_text()


def test_retagging_the_cache_mid_session_changes_nothing(
    tmp_path: Path, builder_a: Buildkitd, fresh_builder: Buildkitd, registry: Registry,
    lab: Lab,
) -> None:
    ref = f"{registry.host}/cache:moving"
    context = write_context(tmp_path / "ctx", TOKEN)
    first = _export(builder_a, context, ref, tmp_path / "first")
    with LiveSession(fresh_builder, context, "--cache-from", ref) as session:
        # Same Dockerfile, new token: a second cache pushed under the same tag now.
        second_builder = lab.fresh_builder()
        try:
            second = _export(second_builder, context, ref, tmp_path / "second")
        finally:
            second_builder.stop()
        assert second != first
        session.run("break 2")
        session.run("continue", until="Breakpoint[0]: reached line: Dockerfile:2")
        session.run("exec cat /token")
        session.run("q")
    assert f"(buildg) exec cat /token\n{first}" in session.out, session.out
    assert second not in session.out
