"""Several platforms without a daemon: which ones a builder runs and what the user is told,
the pieces of a DAP thread per platform, a frontend result per platform, and the REPL
refusing more than one platform."""

from __future__ import annotations

from pathlib import Path

import pytest

from buildg_dap._proto.buildkit import gateway_pb2
from buildg_dap.buildkit.llb import image_definition
from buildg_dap.cli import main
from buildg_dap.dap.inspection import thread_base, thread_of
from buildg_dap.dap.threads import BuildThread, Prefixed
from buildg_dap.debugger.errors import EngineError
from buildg_dap.debugger.platforms import Platform, can_run, support_message
from buildg_dap.debugger.program import Program

# What buildkitd v0.32.2 lists on an x86_64 machine with no emulator registered.
X86_ONLY = ["linux/amd64", "linux/amd64/v2", "linux/amd64/v3", "linux/amd64/v4", "linux/386"]


@pytest.mark.parametrize(
    ("platform", "supported", "expected"),
    [
        ("linux/amd64", X86_ONLY, True),
        ("linux/amd64/v3", X86_ONLY, True),
        ("linux/x86_64", X86_ONLY, True),
        ("linux/386", X86_ONLY, True),
        ("linux/arm64", X86_ONLY, False),
        ("linux/s390x", X86_ONLY, False),
        ("linux/amd64/v3", ["linux/amd64", "linux/amd64/v2"], False),
        ("linux/arm64/v8", ["linux/arm64"], True),
        ("linux/aarch64", ["linux/arm64"], True),
        ("linux/arm", ["linux/arm64", "linux/arm/v7", "linux/arm/v6"], True),
        ("linux/arm/v6", ["linux/arm64", "linux/arm/v7"], False),
        ("linux/riscv64", [], True),  # the builder did not say: no warning
    ],
)
def test_which_platforms_a_builder_runs(
    platform: str, supported: list[str], expected: bool
) -> None:
    assert can_run(platform, supported) is expected


def test_platform_spellings_fold_as_containerd_folds_them() -> None:
    assert Platform.parse("Linux/AMD64/v1") == Platform("linux", "amd64", "")
    assert Platform.parse("linux/armhf") == Platform("linux", "arm", "v7")
    assert Platform.parse("linux/arm/6") == Platform("linux", "arm", "v6")


def test_the_support_message_names_the_platform_what_runs_and_what_fails() -> None:
    assert support_message("linux/s390x", X86_ONLY) == (
        "linux/s390x: this builder cannot run linux/s390x programs (it runs linux/amd64, "
        "linux/386; no emulator is registered for linux/s390x): FROM and COPY steps can be "
        "inspected, RUN steps fail where they run linux/s390x programs"
    )


def test_a_thread_is_named_after_its_platform_and_says_when_it_cannot_run_here() -> None:
    assert BuildThread(1, "").name == "build"
    assert BuildThread(1, "linux/amd64").name == "build (linux/amd64)"
    assert BuildThread(2, "linux/arm64", runnable=False).name == (
        "build (linux/arm64) (cannot run linux/arm64 programs here)"
    )


def test_frame_ids_and_references_name_their_thread() -> None:
    assert thread_base(1) == 0  # one thread: ids as without platforms
    for thread in (1, 2, 7):
        for local in (1, 2, 1000):
            assert thread_of(thread_base(thread) + local) == thread
    assert thread_of(0) < 1


def test_each_line_of_a_platforms_output_is_led_by_it() -> None:
    sent: list[tuple[str, str]] = []
    emit = Prefixed("linux/arm64", lambda category, text: sent.append((category, text)))
    emit("console", "\n#1 load\n#1 DONE")
    emit("console", " 0.1s\n")
    emit("stdout", "hi\n")
    assert sent == [
        ("console", "\n[linux/arm64] #1 load\n[linux/arm64] #1 DONE"),
        ("console", " 0.1s\n"),
        ("stdout", "[linux/arm64] hi\n"),
    ]


def _refs(*platforms: str) -> gateway_pb2.Result:
    result = gateway_pb2.Result()
    for platform in platforms:
        getattr(result.refs.refs[platform], "def").CopyFrom(image_definition("busybox", None))
    return result


def test_a_frontend_result_with_one_program_per_platform() -> None:
    # BUILDKIT_MULTI_PLATFORM makes a map even for one platform: that is one program.
    assert Program.from_frontend(_refs("linux/arm64")).steps == []
    with pytest.raises(EngineError, match=r"one program per platform \(linux/amd64, linux/arm64\)"):
        Program.from_frontend(_refs("linux/arm64", "linux/amd64"))


def test_the_repl_debugs_one_platform_and_points_to_the_dap_server(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "Dockerfile").write_text("FROM busybox\n")
    code = main(["debug", str(tmp_path), "--addr", f"unix://{tmp_path}/nothing.sock",
                 "--platform", "linux/amd64", "--platform", "linux/arm64"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1
    assert "debug follows one platform at a time (got linux/amd64, linux/arm64)" in err
    assert "buildg-dap dap" in err
