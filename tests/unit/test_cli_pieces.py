"""Error snippets, durations and where the embedded builder lives."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import pytest

from buildg_dap._proto.buildkit import errdefs_pb2, ops_pb2
from buildg_dap.buildkit.connection import BuilderError
from buildg_dap.buildkit.embedded import EmbeddedBuilder, daemon_command
from buildg_dap.buildkit.snippet import format_source
from buildg_dap.cli_builder import parse_duration

DOCKERFILE = b"FROM busybox\nRUN a\nRUN b \\\n  c\nRUN d\nRUN e\nRUN f\nRUN g\n"


def source(*ranges: tuple[int, int]) -> errdefs_pb2.Source:
    return errdefs_pb2.Source(
        info=ops_pb2.SourceInfo(filename="Dockerfile", data=DOCKERFILE),
        ranges=[
            ops_pb2.Range(start=ops_pb2.Position(line=a), end=ops_pb2.Position(line=b))
            for a, b in ranges
        ],
    )


def test_snippet_single_line_has_four_lines_of_context() -> None:
    assert format_source(source((6, 6))) == (
        "Dockerfile:6\n--------------------\n"
        "   4 |       c\n   5 |     RUN d\n   6 | >>> RUN e\n   7 |     RUN f\n   8 |     RUN g\n"
        "--------------------\n"
    )


def test_snippet_multi_line_range() -> None:
    assert format_source(source((3, 4))) == (
        "Dockerfile:3\n--------------------\n"
        "   2 |     RUN a\n   3 | >>> RUN b \\\n   4 | >>>   c\n   5 |     RUN d\n"
        "--------------------\n"
    )


def test_snippet_at_the_top() -> None:
    assert format_source(source((1, 1))).startswith(
        "Dockerfile:1\n--------------------\n   1 | >>> FROM busybox\n   2 |     RUN a\n"
    )


def test_snippet_without_ranges_is_empty() -> None:
    assert format_source(source()) == ""
    assert format_source(source((40, 40))) == ""


@pytest.mark.parametrize(
    ("text", "ns"), [("24h", 24 * 3600 * 10**9), ("1h30m", 5400 * 10**9), ("1.5s", 1500 * 10**6)]
)
def test_durations(text: str, ns: int) -> None:
    assert parse_duration(text) == ns


@pytest.mark.parametrize("text", ["", "10", "5d", "h"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError) as caught:
        parse_duration(text)
    assert str(caught.value) == f"{text!r} is not a duration like 24h, 30m or 90s"


def test_locations_follow_xdg() -> None:
    builder = EmbeddedBuilder.locate({"XDG_DATA_HOME": "/d", "XDG_RUNTIME_DIR": "/r"}, uid=1000)
    assert builder.state_dir == Path("/d/buildg-dap/buildkitd")
    assert builder.socket == Path("/r/buildg-dap/buildkitd.sock")
    assert builder.pid_file == Path("/r/buildg-dap/buildkitd.pid")
    assert str(builder.address) == "unix:///r/buildg-dap/buildkitd.sock"


def test_locations_without_xdg() -> None:
    assert EmbeddedBuilder.locate({"HOME": "/h"}, uid=0).runtime_dir == Path("/run/buildg-dap")
    user = EmbeddedBuilder.locate({"HOME": "/h"}, uid=1000)
    assert user.runtime_dir == Path("/tmp/buildg-dap-1000")
    assert user.state_dir == Path("/h/.local/share/buildg-dap/buildkitd")


def fake_which(found: dict[str, str]) -> Callable[[str], str | None]:
    return found.get


def test_rootful_and_rootless_commands() -> None:
    builder = EmbeddedBuilder.locate({"XDG_DATA_HOME": "/d", "XDG_RUNTIME_DIR": "/r"}, uid=0)
    tools = {"buildkitd": "/bin/buildkitd", "rootlesskit": "/bin/rootlesskit"}
    common = [
        "--root", "/d/buildg-dap/buildkitd/root",
        "--addr", "unix:///r/buildg-dap/buildkitd.sock",
        "--config", "/d/buildg-dap/buildkitd/buildkitd.toml",
    ]  # fmt: skip
    assert daemon_command(builder, 0, fake_which(tools)) == ["/bin/buildkitd", *common]
    assert daemon_command(builder, 1000, fake_which(tools)) == [
        "/bin/rootlesskit", "/bin/buildkitd", "--oci-worker-no-process-sandbox", *common
    ]  # fmt: skip


def test_rootless_without_rootlesskit() -> None:
    builder = EmbeddedBuilder.locate({"XDG_DATA_HOME": "/d", "XDG_RUNTIME_DIR": "/r"}, uid=1000)
    with pytest.raises(BuilderError) as caught:
        daemon_command(builder, 1000, fake_which({"buildkitd": "/bin/buildkitd"}))
    assert str(caught.value) == (
        "the embedded builder needs rootlesskit when not running as root: install it "
        "(e.g. apt-get install rootlesskit) or pass --addr to use a running buildkitd"
    )
