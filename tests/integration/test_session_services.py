"""Secrets and registry credentials reach buildkitd through our session services."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import socket
import stat
from pathlib import Path

import pytest

from tests.integration.debugsession import run_debug, write_context
from tests.lab import Buildkitd, Registry, buildctl_build
from tests.lab.lab import AUTH_PASSWORD, AUTH_USER

SECRET = "s3cr3t-value-9f1c"


def test_secret_is_readable_in_run_and_exec_but_never_printed(
    tmp_path: Path, builder_a: Buildkitd
) -> None:
    secret_file = tmp_path / "token.txt"
    secret_file.write_text(SECRET)
    context = write_context(
        tmp_path / "ctx",
        "FROM busybox\n"
        "RUN --mount=type=secret,id=tok sha256sum /run/secrets/tok | cut -c1-64 > /sum\n",
    )
    session = run_debug(
        builder_a,
        context,
        ["break 2", "continue", "exec cat /sum", "exec cat /run/secrets/tok", "continue"],
        "--secret",
        f"id=tok,src={secret_file}",
    )
    assert session.code == 0, session.text
    digest = hashlib.sha256(SECRET.encode()).hexdigest()
    assert f"(buildg) exec cat /sum\n{digest}\n" in session.out
    assert f"(buildg) exec cat /run/secrets/tok\n{SECRET}" in session.out
    # Only the exec the user asked for shows it: never the build output.
    assert SECRET not in session.err
    assert session.out.count(SECRET) == 1


def test_missing_secret_file_is_refused_before_the_build(
    tmp_path: Path, builder_a: Buildkitd
) -> None:
    context = write_context(tmp_path / "ctx", "FROM busybox\n")
    session = run_debug(builder_a, context, ["q"], "--secret", "id=tok,src=/nonexistent/x")
    assert session.code == 1
    assert session.err.strip() == "error: secret 'tok': file /nonexistent/x does not exist"


@pytest.fixture(scope="module")
def private_image(
    lab: object,
    builder_a: Buildkitd,
    auth_registry: Registry,
    tmp_path_factory: pytest.TempPathFactory,
) -> str:
    """busybox, pushed to the registry that wants a password."""
    config = tmp_path_factory.mktemp("pusher-docker")
    _write_auths(config, auth_registry.host, AUTH_USER, AUTH_PASSWORD)
    context = write_context(tmp_path_factory.mktemp("bb"), "FROM busybox\nRUN echo private > /p\n")
    image = f"{auth_registry.host}/private/busybox:1"
    previous = os.environ.get("DOCKER_CONFIG")
    os.environ["DOCKER_CONFIG"] = str(config)
    try:
        buildctl_build(builder_a, context, "--output",
            f"type=image,name={image},push=true,registry.insecure=true",
        )
    finally:
        if previous is None:
            del os.environ["DOCKER_CONFIG"]
        else:
            os.environ["DOCKER_CONFIG"] = previous
    return image


def _write_auths(directory: Path, host: str, user: str, password: str) -> None:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    (directory / "config.json").write_text(json.dumps({"auths": {host: {"auth": token}}}))


def _pull_through_debug(
    tmp_path: Path, builder: Buildkitd, image: str, config: Path, path: str = ""
) -> tuple[int, str]:
    context = write_context(tmp_path / "ctx", f"FROM {image}\nRUN cat /p\n")
    env_path = f"{path}:{os.environ['PATH']}" if path else os.environ["PATH"]
    import subprocess

    from tests.integration.debugsession import debug_command

    done = subprocess.run(
        debug_command(builder, context),
        input="continue\n",
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "DOCKER_CONFIG": str(config), "PATH": env_path},
        check=False,
    )
    return done.returncode, done.stdout + done.stderr


def test_pull_with_credentials_from_docker_config(
    tmp_path: Path, fresh_builder: Buildkitd, auth_registry: Registry, private_image: str
) -> None:
    config = tmp_path / "docker"
    config.mkdir()
    _write_auths(config, auth_registry.host, AUTH_USER, AUTH_PASSWORD)
    code, text = _pull_through_debug(tmp_path, fresh_builder, private_image, config)
    assert code == 0, text
    assert "#5 0." in text or "private" in text, text


def test_pull_with_a_credential_helper(
    tmp_path: Path, fresh_builder: Buildkitd, auth_registry: Registry, private_image: str
) -> None:
    config = tmp_path / "docker"
    config.mkdir()
    (config / "config.json").write_text(
        json.dumps({"credHelpers": {auth_registry.host: "labtest"}})
    )
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    helper = bin_dir / "docker-credential-labtest"
    reply = json.dumps(
        {"ServerURL": auth_registry.host, "Username": AUTH_USER, "Secret": AUTH_PASSWORD}
    )
    helper.write_text(f"#!/bin/sh\nread server\necho '{reply}'\n")
    helper.chmod(helper.stat().st_mode | stat.S_IEXEC)
    code, text = _pull_through_debug(
        tmp_path, fresh_builder, private_image, config, path=str(bin_dir)
    )
    assert code == 0, text


def test_wrong_password_names_the_registry(
    tmp_path: Path, fresh_builder: Buildkitd, auth_registry: Registry, private_image: str
) -> None:
    config = tmp_path / "docker"
    config.mkdir()
    _write_auths(config, auth_registry.host, AUTH_USER, "wrong")
    code, text = _pull_through_debug(tmp_path, fresh_builder, private_image, config)
    assert code == 1
    assert auth_registry.host in text
    assert "401 Unauthorized" in text or "unauthorized" in text.lower(), text


def test_ssh_agent_socket_is_forwarded_into_run(tmp_path: Path, builder_a: Buildkitd) -> None:
    context = write_context(
        tmp_path / "ctx",
        "FROM busybox\nRUN --mount=type=ssh test -S \"$SSH_AUTH_SOCK\" && echo ssh-ok > /r\n",
    )
    agent = tmp_path / "agent.sock"
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(agent))
        listener.listen()
        forwarded = run_debug(builder_a, context, ["continue"], "--ssh", f"default={agent}")
        # A different step, so the result above cannot be reused from cache.
        (context / "Dockerfile").write_text(
            (context / "Dockerfile").read_text().replace("ssh-ok", "ssh-again")
        )
        missing = run_debug(builder_a, context, ["continue"])
    assert forwarded.code == 0, forwarded.text
    # Without an agent the (optional) socket is absent and the RUN's test fails.
    assert missing.code == 1
    assert "Breakpoint[on-fail]: caught error" in missing.out
    assert "exit code: 1" in missing.out
