"""The launch request's arguments and the build command they describe."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from buildg_dap.buildkit.connection import Address
from buildg_dap.dap.launch import LaunchArguments, LaunchError, parse_launch

ALLOWED = (
    "buildArgs, builder, builderTLS, cacheFrom, cacheTo, contextPath, cwd, dockerfile, "
    "image, noCache, platform, secrets, ssh, stopOnEntry, target"
)


@pytest.fixture(autouse=True)
def no_builder_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # The builder defaults to BUILDKIT_HOST; tests must not depend on the caller's.
    monkeypatch.delenv("BUILDKIT_HOST", raising=False)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """tmp/ctx/Dockerfile, tmp/ctx/sub/Dockerfile.dev, tmp/Dockerfile."""
    (tmp_path / "ctx" / "sub").mkdir(parents=True)
    (tmp_path / "ctx" / "Dockerfile").write_text("FROM busybox\n")
    (tmp_path / "ctx" / "sub" / "Dockerfile.dev").write_text("FROM busybox\n")
    (tmp_path / "Dockerfile").write_text("FROM busybox\n")
    return tmp_path


def launch_error(raw: dict[str, Any]) -> str:
    with pytest.raises(LaunchError) as caught:
        parse_launch(raw)
    return str(caught.value)


def command_error(raw: dict[str, Any], cwd: Path) -> str:
    launch = parse_launch(raw)
    with pytest.raises(LaunchError) as caught:
        launch.command(cwd)
    return str(caught.value)


# --- parse_launch -------------------------------------------------------------------


def test_defaults() -> None:
    launch = parse_launch({})
    assert launch == LaunchArguments()
    assert launch.dockerfile == "Dockerfile"
    assert launch.contextPath is None
    assert launch.platform == []
    assert launch.stopOnEntry is False
    assert launch.builder is None and launch.builderTLS is None


def test_every_field_is_read() -> None:
    raw = {
        "dockerfile": "sub/Dockerfile.dev",
        "contextPath": "ctx",
        "target": "final",
        "buildArgs": {"A": "1"},
        "cacheFrom": ["type=local,src=cache"],
        "cacheTo": ["type=local,dest=out"],
        "secrets": ["id=s,src=secret.txt"],
        "ssh": ["default"],
        "platform": ["linux/amd64", "linux/arm64"],
        "image": "example/app:dev",
        "builder": "tcp://builder:1234",
        "builderTLS": {"ca": "ca.pem", "cert": "c.pem", "key": "k.pem", "serverName": "b"},
        "stopOnEntry": True,
        "noCache": True,
        "cwd": "/work",
    }
    launch = parse_launch(raw)
    assert launch.model_dump(mode="json") == raw


def test_an_unknown_field_is_refused_naming_it_and_the_allowed_ones() -> None:
    message = launch_error({"contextPath": ".", "dockerFile": "x"})
    assert message == f"unknown launch field 'dockerFile' (allowed: {ALLOWED})"


def test_every_unknown_field_is_named() -> None:
    message = launch_error({"one": 1, "two": 2})
    assert "'one'" in message and "'two'" in message


def test_an_unknown_builder_tls_field_lists_the_tls_fields() -> None:
    message = launch_error({"builderTLS": {"ca": "a", "insecure": True}})
    assert message == (
        "unknown launch field 'builderTLS.insecure' (allowed: ca, cert, key, serverName)"
    )


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"stopOnEntry": "maybe"}, "stopOnEntry"),
        ({"noCache": [True]}, "noCache"),
        ({"dockerfile": None}, "dockerfile"),
        ({"dockerfile": 3}, "dockerfile"),
        ({"contextPath": ["a"]}, "contextPath"),
        ({"target": {}}, "target"),
        ({"buildArgs": ["A=1"]}, "buildArgs"),
        ({"buildArgs": {"A": 1}}, "buildArgs.A"),
        ({"cacheFrom": "type=local,src=x"}, "cacheFrom"),
        ({"secrets": [1]}, "secrets.0"),
        ({"ssh": "default"}, "ssh"),
        ({"platform": 5}, "platform"),
        ({"platform": ["linux/amd64", 5]}, "platform.1"),
        ({"builder": 1234}, "builder"),
        ({"builderTLS": "ca.pem"}, "builderTLS"),
        ({"builderTLS": {"serverName": 1}}, "builderTLS.serverName"),
    ],
)
def test_a_wrong_type_is_named(raw: dict[str, Any], field: str) -> None:
    message = launch_error(raw)
    assert message.startswith(f"launch field {field!r}: ")
    assert "unknown" not in message


def test_every_problem_is_reported() -> None:
    message = launch_error({"stopOnEntry": "maybe", "target": 1, "bogus": 0})
    assert "'stopOnEntry'" in message and "'target'" in message and "'bogus'" in message
    assert message.count("; ") == 2


@pytest.mark.parametrize(
    "generic",
    [
        {"type": "dockerfile"},
        {"request": "launch"},
        {"name": "Debug Dockerfile"},
        {"noDebug": False},
        {"cwd": "/somewhere"},
        {"preLaunchTask": "build"},
        {"postDebugTask": "clean"},
        {"internalConsoleOptions": "neverOpen"},
        {"debugServer": 4711},
        {"presentation": {"hidden": True}},
        {"suppressMultipleSessionWarning": True},
        {"serverReadyAction": {"action": "openExternally"}},
        {"trace": True},
        {"__sessionId": "5c1d"},
        {"__configurationTarget": 6},
        {"__anythingPrivate": [1, 2]},
    ],
)
def test_fields_editors_add_to_any_configuration_are_accepted(generic: dict[str, Any]) -> None:
    launch = parse_launch({"target": "final", **generic})
    assert launch.target == "final"


def test_generic_fields_are_accepted_whatever_their_type() -> None:
    # An editor's own fields are not ours to validate.
    parse_launch({"type": 1, "name": None, "request": ["x"], "__sessionId": {}})


@pytest.mark.parametrize(
    ("platform", "expected"),
    [
        ("linux/arm64", ["linux/arm64"]),
        (["linux/arm64"], ["linux/arm64"]),
        (["linux/amd64", "linux/arm/v7"], ["linux/amd64", "linux/arm/v7"]),
        ([], []),
    ],
)
def test_platform_is_a_string_or_an_array(platform: str | list[str], expected: list[str]) -> None:
    assert parse_launch({"platform": platform}).platform == expected


# --- the build command --------------------------------------------------------------


def test_context_path_is_relative_to_cwd_and_the_dockerfile_to_the_context(
    workspace: Path,
) -> None:
    launch = parse_launch({"contextPath": "ctx", "dockerfile": "sub/Dockerfile.dev"})
    request = launch.command(workspace).request
    assert request.context == workspace / "ctx"
    assert request.dockerfile == workspace / "ctx" / "sub" / "Dockerfile.dev"


def test_the_launch_cwd_is_where_relative_paths_start(workspace: Path, tmp_path: Path) -> None:
    launch = parse_launch({"cwd": str(workspace), "contextPath": "ctx"})
    request = launch.command(tmp_path / "elsewhere").request
    assert request.context == workspace / "ctx"


def test_secret_files_ssh_sockets_and_local_caches_start_at_the_launch_cwd(
    workspace: Path, tmp_path: Path
) -> None:
    """Not at the adapter's working directory, which an editor chooses."""
    (workspace / "token.txt").write_text("t")
    with socket.socket(socket.AF_UNIX) as agent:
        agent.bind(str(workspace / "agent.sock"))
        raw = {
            "cwd": str(workspace),
            "contextPath": "ctx",
            "secrets": ["id=token,src=token.txt"],
            "ssh": ["default=agent.sock"],
            "cacheFrom": ["type=local,src=cache-in"],
            "cacheTo": ["type=local,dest=cache-out"],
        }
        command = parse_launch(raw).command(tmp_path / "adapter-cwd")
    assert command.secrets[0].src == workspace / "token.txt"
    assert command.ssh[0].socket == workspace / "agent.sock"
    assert command.request.cache_imports[0].attrs["src"] == str(workspace / "cache-in")
    assert command.request.cache_exports[0].attrs["dest"] == str(workspace / "cache-out")
    missing = command_error({"cwd": str(workspace), "secrets": ["id=x,src=nope.txt"]}, tmp_path)
    assert str(workspace / "nope.txt") in missing


def test_the_dockerfile_defaults_to_the_one_in_the_context(workspace: Path) -> None:
    request = parse_launch({"contextPath": "ctx"}).command(workspace).request
    assert request.context == workspace / "ctx"
    assert request.dockerfile == workspace / "ctx" / "Dockerfile"


def test_without_a_context_the_dockerfiles_directory_is_the_context(workspace: Path) -> None:
    request = parse_launch({"dockerfile": "ctx/sub/Dockerfile.dev"}).command(workspace).request
    assert request.context == workspace / "ctx" / "sub"
    assert request.dockerfile == workspace / "ctx" / "sub" / "Dockerfile.dev"


def test_with_nothing_given_the_workspace_is_the_context(workspace: Path) -> None:
    request = parse_launch({}).command(workspace).request
    assert request.context == workspace
    assert request.dockerfile == workspace / "Dockerfile"


def test_absolute_paths_are_kept(workspace: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    raw = {"contextPath": str(workspace / "ctx"), "dockerfile": str(workspace / "Dockerfile")}
    request = parse_launch(raw).command(elsewhere).request
    assert request.context == workspace / "ctx"
    assert request.dockerfile == workspace / "Dockerfile"


def test_dot_dot_paths_are_resolved(workspace: Path) -> None:
    raw = {"contextPath": "ctx/sub/..", "dockerfile": "../Dockerfile"}
    request = parse_launch(raw).command(workspace).request
    assert request.context == workspace / "ctx"
    assert request.dockerfile == workspace / "Dockerfile"


def test_the_other_fields_reach_the_request(workspace: Path) -> None:
    raw = {
        "contextPath": "ctx",
        "target": "final",
        "buildArgs": {"A": "1"},
        "platform": "linux/arm64,linux/amd64",
        "noCache": True,
    }
    request = parse_launch(raw).command(workspace).request
    assert request.target == "final"
    assert request.build_args == {"A": "1"}
    assert request.platforms == ["linux/arm64", "linux/amd64"]
    assert request.no_cache is True


def test_a_missing_context_is_a_launch_error(workspace: Path) -> None:
    message = command_error({"contextPath": "nope"}, workspace)
    assert message == f"build context {workspace / 'nope'} is not a directory"


def test_a_file_as_context_is_a_launch_error(workspace: Path) -> None:
    message = command_error({"contextPath": "Dockerfile"}, workspace)
    assert "is not a directory" in message


@pytest.mark.parametrize(
    ("raw", "missing"),
    [
        ({"contextPath": "ctx", "dockerfile": "Dockerfile.missing"}, "ctx/Dockerfile.missing"),
        ({"dockerfile": "ctx/Dockerfile.missing"}, "ctx/Dockerfile.missing"),
        ({"contextPath": "ctx/sub"}, "ctx/sub/Dockerfile"),
        ({"contextPath": "ctx", "dockerfile": "sub"}, "ctx/sub"),  # a directory
    ],
)
def test_a_missing_dockerfile_is_a_launch_error(
    workspace: Path, raw: dict[str, Any], missing: str
) -> None:
    message = command_error(raw, workspace)
    assert message == f"Dockerfile {workspace / missing} not found"


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("cacheFrom", "type=bogus", "--cache-from 'type=bogus': unknown cache type 'bogus'"),
        ("cacheFrom", "type=local", "--cache-from 'type=local': type=local needs src="),
        ("cacheFrom", "type=registry,ref", "--cache-from 'type=registry,ref': 'ref' is not"),
        ("cacheTo", "type=registry,ref=r,mode=all", "--cache-to 'type=registry,ref=r,mode=all'"),
        ("secrets", "nonsense", "invalid secret spec 'nonsense'"),
        ("secrets", "src=/x", "invalid secret spec 'src=/x': secret missing ID"),
        ("secrets", "id=s,type=tape", "invalid secret spec 'id=s,type=tape'"),
        ("secrets", "id=s,src=/nonexistent/secret", "file /nonexistent/secret does not exist"),
        ("ssh", "default=/nonexistent/agent.sock", "invalid ssh spec 'default=/nonexistent/"),
        ("platform", "linux//arm64", "--platform 'linux//arm64'"),
    ],
)
def test_a_bad_spec_is_a_launch_error_naming_the_value(
    workspace: Path, field: str, value: str, expected: str
) -> None:
    message = command_error({"contextPath": "ctx", field: [value]}, workspace)
    assert expected in message


def test_a_secret_from_an_unset_variable_is_a_launch_error(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BUILDG_TEST_UNSET", raising=False)
    message = command_error(
        {"contextPath": "ctx", "secrets": ["id=tok,env=BUILDG_TEST_UNSET"]}, workspace
    )
    assert message == "secret 'tok': environment variable BUILDG_TEST_UNSET is not set"


def test_ssh_default_without_an_agent_is_a_launch_error(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    message = command_error({"contextPath": "ctx", "ssh": ["default"]}, workspace)
    assert "invalid ssh spec 'default'" in message and "SSH_AUTH_SOCK" in message


def test_good_secrets_are_parsed(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (workspace / "token").write_text("t0ken")
    monkeypatch.setenv("BUILDG_TEST_TOKEN", "x")
    raw = {
        "contextPath": "ctx",
        "secrets": [f"id=file,src={workspace / 'token'}", "id=env,env=BUILDG_TEST_TOKEN"],
    }
    command = parse_launch(raw).command(workspace)
    assert [s.id for s in command.secrets] == ["file", "env"]


# --- the builder --------------------------------------------------------------------


def test_no_builder_means_the_embedded_one(workspace: Path) -> None:
    builder = parse_launch({"contextPath": "ctx"}).command(workspace).builder
    assert builder.address is None
    assert builder.tls is None


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("tcp://builder:1234", Address(scheme="tcp", host="builder", port=1234)),
        (
            "unix:///run/buildkit/buildkitd.sock",
            Address(scheme="unix", path="/run/buildkit/buildkitd.sock"),
        ),
    ],
)
def test_builder_is_parsed(workspace: Path, text: str, address: Address) -> None:
    builder = parse_launch({"contextPath": "ctx", "builder": text}).command(workspace).builder
    assert builder.address == address


def test_builder_falls_back_to_buildkit_host(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BUILDKIT_HOST", "tcp://from-env:99")
    builder = parse_launch({"contextPath": "ctx"}).command(workspace).builder
    assert builder.address == Address(scheme="tcp", host="from-env", port=99)
    # an explicit builder wins
    given = parse_launch({"contextPath": "ctx", "builder": "tcp://given:1"}).command(workspace)
    assert given.builder.address == Address(scheme="tcp", host="given", port=1)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ftp://builder", "unsupported builder address 'ftp://builder'"),
        ("tcp://builder", "builder address 'tcp://builder' needs tcp://HOST:PORT"),
        ("tcp://builder:port", "builder address 'tcp://builder:port' has a bad port"),
        ("unix://", "builder address 'unix://' names no socket path"),
        ("   ", "empty builder address"),
    ],
)
def test_a_bad_builder_is_a_launch_error(workspace: Path, text: str, message: str) -> None:
    assert command_error({"contextPath": "ctx", "builder": text}, workspace).startswith(message)


def test_builder_tls_fields_reach_the_builder(workspace: Path) -> None:
    raw = {
        "contextPath": "ctx",
        "builder": "tcp://builder:1234",
        "builderTLS": {
            "ca": "/tls/ca.pem",
            "cert": "/tls/c.pem",
            "key": "/tls/k.pem",
            "serverName": "b.example",
        },
    }
    tls = parse_launch(raw).command(workspace).builder.tls
    assert tls is not None
    assert (tls.ca, tls.cert, tls.key) == (
        Path("/tls/ca.pem"),
        Path("/tls/c.pem"),
        Path("/tls/k.pem"),
    )
    assert tls.server_name == "b.example"


def test_builder_tls_fields_are_optional(workspace: Path) -> None:
    raw = {"contextPath": "ctx", "builder": "tcp://b:1", "builderTLS": {"serverName": "b"}}
    tls = parse_launch(raw).command(workspace).builder.tls
    assert tls is not None
    assert (tls.ca, tls.cert, tls.key, tls.server_name) == (None, None, None, "b")
