"""Docker config parsing, credential helpers on PATH, and the lookup order."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path
from typing import Any

import pytest

from buildg_dap.dockerauth.config import ConfigError, load, normalize_host
from buildg_dap.dockerauth.helpers import HelperError
from buildg_dap.dockerauth.store import Credentials, CredentialStore

HOST = "reg.example:5000"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def write_config(directory: Path, config: Any) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.json").write_text(json.dumps(config))
    return directory


def basic(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture
def bin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory on PATH for fake ``docker-credential-*`` programs."""
    directory = tmp_path / "bin"
    directory.mkdir()
    monkeypatch.setenv("PATH", f"{directory}:/usr/bin:/bin")
    return directory


def add_helper(bin_dir: Path, name: str, body: str) -> Path:
    """A helper that logs each call (its argument and stdin) to ``<name>.calls``."""
    script = bin_dir / f"docker-credential-{name}"
    log = bin_dir / f"{name}.calls"
    script.write_text(f'#!/bin/sh\ninput=$(cat)\necho "$1 $input" >> {log}\n{body}\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return log


def found_helper(bin_dir: Path, name: str, user: str, secret: str) -> Path:
    answer = json.dumps({"ServerURL": "ignored", "Username": user, "Secret": secret})
    return add_helper(bin_dir, name, f"echo '{answer}'")


# --- config.json -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "host"),
    [
        ("https://index.docker.io/v1/", "registry-1.docker.io"),
        ("docker.io", "registry-1.docker.io"),
        ("index.docker.io", "registry-1.docker.io"),
        ("registry-1.docker.io", "registry-1.docker.io"),
        ("HTTPS://Index.Docker.IO/v1/", "registry-1.docker.io"),
        ("http://localhost:5000/v2/", "localhost:5000"),
        ("https://ghcr.io", "ghcr.io"),
        ("[::1]:5000", "[::1]:5000"),
    ],
)
def test_normalize_host(key: str, host: str) -> None:
    assert normalize_host(key) == host


def test_missing_config_is_empty(tmp_path: Path) -> None:
    path, config = load(tmp_path)
    assert path == tmp_path / "config.json"
    assert config.auths == {} and config.creds_store == "" and config.cred_helpers == {}


def test_config_dir_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_config(tmp_path / "d", {"credsStore": "pass"})
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "d"))
    path, config = load()
    assert path == tmp_path / "d" / "config.json"
    assert config.creds_store == "pass"


def test_null_sections_are_empty(tmp_path: Path) -> None:
    write_config(tmp_path, {"auths": None, "credHelpers": None, "credsStore": None})
    _, config = load(tmp_path)
    assert config.auths == {} and config.cred_helpers == {} and config.creds_store == ""


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "{",
            "{path} is not valid JSON: Expecting property name enclosed in double quotes: "
            "line 1 column 2 (char 1)",
        ),
        (
            '{"auths": []}',
            "{path} is not a valid Docker config: auths: Input should be a valid dictionary",
        ),
        (
            '{"auths": {"r": {"auth": "%%%"}}}',
            "{path}: auths entry 'r' is invalid: its auth value is not valid base64",
        ),
        (
            '{"auths": {"r": {"auth": "' + base64.b64encode(b"nocolon").decode() + '"}}}',
            "{path}: auths entry 'r' is invalid: its auth value does not decode to USER:PASSWORD",
        ),
        (
            "[]",
            "{path} is not a valid Docker config: top level: Input should be a valid "
            "dictionary or instance of DockerConfig",
        ),
    ],
)
def test_invalid_config(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "config.json").write_text(text)
    with pytest.raises(ConfigError) as caught:
        load(tmp_path)
    assert str(caught.value) == message.format(path=tmp_path / "config.json")


# --- auths -----------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("asked", ["docker.io", "registry-1.docker.io", "index.docker.io"])
async def test_docker_hub_aliases_share_credentials(tmp_path: Path, asked: str) -> None:
    write_config(tmp_path, {"auths": {"https://index.docker.io/v1/": {"auth": basic("u", "p")}}})
    found = await CredentialStore(tmp_path).lookup(asked)
    assert found == Credentials(username="u", secret="p")


@pytest.mark.anyio
async def test_auths_key_with_scheme_and_path(tmp_path: Path) -> None:
    write_config(tmp_path, {"auths": {"http://localhost:5000/v2/": {"auth": basic("u", "p:x")}}})
    store = CredentialStore(tmp_path)
    assert await store.lookup("localhost:5000") == Credentials(username="u", secret="p:x")
    assert await store.lookup("localhost:5001") is None


@pytest.mark.anyio
async def test_auths_entry_forms(tmp_path: Path) -> None:
    write_config(
        tmp_path,
        {
            "auths": {
                "plain.example": {"username": "alice", "password": "pw"},
                "both.example": {"auth": basic("bob", "b64"), "username": "x", "password": "y"},
                "idtoken.example": {"auth": basic("carol", ""), "identitytoken": "refresh"},
                "regtoken.example": {"registrytoken": "bearer"},
                "empty.example": {},
            }
        },
    )
    store = CredentialStore(tmp_path)
    assert await store.lookup("plain.example") == Credentials(username="alice", secret="pw")
    assert await store.lookup("both.example") == Credentials(username="bob", secret="b64")
    assert await store.lookup("idtoken.example") == Credentials(
        username="carol", identity_token="refresh"
    )
    assert await store.lookup("regtoken.example") == Credentials(registry_token="bearer")
    assert await store.lookup("empty.example") is None


def test_credentials_hide_secrets() -> None:
    creds = Credentials(username="u", secret="hunter2", identity_token="tok-9", registry_token="r7")
    for text in (repr(creds), str(creds)):
        assert "username='u'" in text
        assert "hunter2" not in text and "tok-9" not in text and "r7" not in text


# --- credential helpers ----------------------------------------------------------


@pytest.mark.anyio
async def test_creds_store_helper_is_asked_with_the_server_url(
    tmp_path: Path, bin_dir: Path
) -> None:
    log = found_helper(bin_dir, "fake", "helper-user", "helper-secret")
    write_config(tmp_path / "cfg", {"credsStore": "fake"})
    store = CredentialStore(tmp_path / "cfg")
    assert await store.lookup("docker.io") == Credentials(
        username="helper-user", secret="helper-secret"
    )
    assert await store.lookup(HOST) == Credentials(username="helper-user", secret="helper-secret")
    assert log.read_text() == f"get https://index.docker.io/v1/\nget {HOST}\n"


@pytest.mark.anyio
async def test_each_host_is_asked_once(tmp_path: Path, bin_dir: Path) -> None:
    log = found_helper(bin_dir, "fake", "u", "s")
    write_config(tmp_path / "cfg", {"credsStore": "fake"})
    store = CredentialStore(tmp_path / "cfg")
    for _ in range(3):
        assert await store.lookup(f"https://{HOST}/v2/") == Credentials(username="u", secret="s")
    assert log.read_text() == f"get {HOST}\n"


@pytest.mark.anyio
async def test_token_user_means_identity_token(tmp_path: Path, bin_dir: Path) -> None:
    found_helper(bin_dir, "fake", "<token>", "refresh-123")
    write_config(tmp_path / "cfg", {"credsStore": "fake"})
    found = await CredentialStore(tmp_path / "cfg").lookup(HOST)
    assert found == Credentials(identity_token="refresh-123")


@pytest.mark.anyio
async def test_cred_helpers_win_over_creds_store(tmp_path: Path, bin_dir: Path) -> None:
    found_helper(bin_dir, "special", "special-user", "s1")
    store_log = found_helper(bin_dir, "general", "general-user", "s2")
    write_config(
        tmp_path / "cfg",
        {"credsStore": "general", "credHelpers": {f"https://{HOST}": "special"}},
    )
    store = CredentialStore(tmp_path / "cfg")
    assert await store.lookup(HOST) == Credentials(username="special-user", secret="s1")
    assert not store_log.exists()
    assert store.sources(HOST) == [
        "docker-credential-special (credHelpers)",
        f"{tmp_path / 'cfg' / 'config.json'} auths",
    ]
    assert store.sources("other.example") == [
        "docker-credential-general (credsStore)",
        f"{tmp_path / 'cfg' / 'config.json'} auths",
    ]


@pytest.mark.anyio
async def test_helper_without_credentials_falls_back_to_auths(
    tmp_path: Path, bin_dir: Path
) -> None:
    log = add_helper(bin_dir, "empty", "echo 'credentials not found in native keychain'; exit 1")
    write_config(
        tmp_path / "cfg",
        {"credsStore": "empty", "auths": {HOST: {"auth": basic("file-user", "file-pw")}}},
    )
    store = CredentialStore(tmp_path / "cfg")
    assert await store.lookup(HOST) == Credentials(username="file-user", secret="file-pw")
    assert await store.lookup("nothing.example") is None
    assert log.read_text() == f"get {HOST}\nget nothing.example\n"


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "echo 'boom: keyring locked' >&2; exit 3",
            "credential helper docker-credential-broken failed for reg.example:5000 "
            "(exit status 3): boom: keyring locked",
        ),
        (
            "echo 'error getting credentials'; exit 1",
            "credential helper docker-credential-broken failed for reg.example:5000 "
            "(exit status 1): error getting credentials",
        ),
        (
            "exit 2",
            "credential helper docker-credential-broken failed for reg.example:5000 "
            "(exit status 2): no output",
        ),
        (
            "echo 'not json'",
            "credential helper docker-credential-broken returned invalid JSON for reg.example:5000",
        ),
    ],
)
async def test_failing_helper(tmp_path: Path, bin_dir: Path, body: str, message: str) -> None:
    add_helper(bin_dir, "broken", body)
    write_config(tmp_path / "cfg", {"credHelpers": {HOST: "broken"}})
    with pytest.raises(HelperError) as caught:
        await CredentialStore(tmp_path / "cfg").lookup(HOST)
    assert str(caught.value) == message


@pytest.mark.anyio
async def test_missing_helper(tmp_path: Path, bin_dir: Path) -> None:
    write_config(tmp_path / "cfg", {"credsStore": "nowhere"})
    with pytest.raises(HelperError) as caught:
        await CredentialStore(tmp_path / "cfg").lookup("docker.io")
    assert str(caught.value) == (
        "credential helper docker-credential-nowhere (for https://index.docker.io/v1/) "
        "is not on PATH"
    )


def test_sources_without_a_config_file(tmp_path: Path) -> None:
    assert CredentialStore(tmp_path).sources(HOST) == [f"{tmp_path / 'config.json'} (absent)"]


@pytest.mark.anyio
async def test_helper_that_cannot_run(tmp_path: Path, bin_dir: Path) -> None:
    script = bin_dir / "docker-credential-garbled"
    script.write_bytes(b"\x00\x01 not a program")
    script.chmod(0o755)
    write_config(tmp_path / "cfg", {"credsStore": "garbled"})
    with pytest.raises(HelperError) as caught:
        await CredentialStore(tmp_path / "cfg").lookup(HOST)
    assert str(caught.value) == (
        f"cannot run credential helper docker-credential-garbled for {HOST}: Exec format error"
    )


@pytest.mark.anyio
async def test_empty_cred_helper_entry_skips_creds_store(tmp_path: Path, bin_dir: Path) -> None:
    log = found_helper(bin_dir, "general", "general-user", "s")
    write_config(
        tmp_path / "cfg",
        {
            "credsStore": "general",
            "credHelpers": {HOST: ""},
            "auths": {HOST: {"auth": basic("file-user", "pw")}},
        },
    )
    store = CredentialStore(tmp_path / "cfg")
    assert await store.lookup(HOST) == Credentials(username="file-user", secret="pw")
    assert not log.exists()
    assert store.sources(HOST) == [f"{tmp_path / 'cfg' / 'config.json'} auths"]
