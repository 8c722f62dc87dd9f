"""Reference parsing against distribution/reference's grammar and normalisation."""

from __future__ import annotations

import pytest

from buildg_dap.cache.reference import InvalidReference, Reference

HEX_A = "a" * 64
HEX_B = "b" * 64


@pytest.mark.parametrize(
    ("text", "normalised", "domain", "path", "api_host"),
    [
        (
            "busybox",
            "docker.io/library/busybox:latest",
            "docker.io",
            "library/busybox",
            "registry-1.docker.io",
        ),
        (
            "busybox:1.36",
            "docker.io/library/busybox:1.36",
            "docker.io",
            "library/busybox",
            "registry-1.docker.io",
        ),
        (
            "docker.io/busybox",
            "docker.io/library/busybox:latest",
            "docker.io",
            "library/busybox",
            "registry-1.docker.io",
        ),
        (
            "index.docker.io/user/app:v1",
            "docker.io/user/app:v1",
            "docker.io",
            "user/app",
            "registry-1.docker.io",
        ),
        ("user/app", "docker.io/user/app:latest", "docker.io", "user/app", "registry-1.docker.io"),
        ("host:5000/a/b:tag", "host:5000/a/b:tag", "host:5000", "a/b", "host:5000"),
        (
            "127.0.0.1:5000/cache:seed",
            "127.0.0.1:5000/cache:seed",
            "127.0.0.1:5000",
            "cache",
            "127.0.0.1:5000",
        ),
        ("localhost/x", "localhost/x:latest", "localhost", "x", "localhost"),
        ("[::1]:5000/foo", "[::1]:5000/foo:latest", "[::1]:5000", "foo", "[::1]:5000"),
        # An upper-case first component can only be a host name, as in distribution.
        ("Example/x", "Example/x:latest", "Example", "x", "Example"),
        ("a.b/c__d/e-f.g", "a.b/c__d/e-f.g:latest", "a.b", "c__d/e-f.g", "a.b"),
        (
            f"busybox@sha256:{HEX_A}",
            f"docker.io/library/busybox@sha256:{HEX_A}",
            "docker.io",
            "library/busybox",
            "registry-1.docker.io",
        ),
        (f"r.io/x:t@sha256:{HEX_B}", f"r.io/x:t@sha256:{HEX_B}", "r.io", "x", "r.io"),
    ],
)
def test_parse_normalises(
    text: str, normalised: str, domain: str, path: str, api_host: str
) -> None:
    ref = Reference.parse(text)
    assert str(ref) == normalised
    assert (ref.domain, ref.path, ref.registry_host) == (domain, path, api_host)


def test_tag_and_digest_are_kept_apart() -> None:
    ref = Reference.parse(f"r.io/x:t@sha256:{HEX_B}")
    assert (ref.tag, ref.digest) == ("t", f"sha256:{HEX_B}")
    assert ref.manifest_reference == f"sha256:{HEX_B}"
    assert Reference.parse("r.io/x:t").manifest_reference == "t"


def test_pinned_drops_the_tag() -> None:
    pinned = Reference.parse("127.0.0.1:5000/cache:seed").pinned(f"sha256:{HEX_A}")
    assert str(pinned) == f"127.0.0.1:5000/cache@sha256:{HEX_A}"
    assert pinned.tag is None


def test_pinned_refuses_a_bad_digest() -> None:
    with pytest.raises(InvalidReference) as caught:
        Reference.parse("r.io/x").pinned("sha256:1234")
    assert str(caught.value) == "invalid checksum digest format: 'sha256:1234'"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "invalid reference format: ''"),
        (
            "Busybox",
            "invalid reference format: repository name (library/Busybox) must be lowercase",
        ),
        ("r.io/Foo:t", "invalid reference format: repository name (Foo) must be lowercase"),
        ("user/Foo", "invalid reference format: repository name (user/Foo) must be lowercase"),
        ("a//b", "invalid reference format: 'a//b'"),
        ("r.io/x:", "invalid reference format: 'r.io/x:'"),
        ("r.io/x:-bad", "invalid reference format: 'r.io/x:-bad'"),
        ("r.io/x:" + "t" * 129, "invalid reference format: 'r.io/x:" + "t" * 129 + "'"),
        ("my_host.com/x", "invalid reference format: 'my_host.com/x'"),
        ("r.io/x@sha256:abc", "invalid reference format: 'r.io/x@sha256:abc'"),
        (
            "r.io/x@sha256:" + "a" * 40,
            "invalid reference format: invalid checksum digest length: 'sha256:" + "a" * 40 + "'",
        ),
        (
            "r.io/x@md5:" + "a" * 32,
            "invalid reference format: unsupported digest algorithm: 'md5:" + "a" * 32 + "'",
        ),
        (
            HEX_A,
            f"invalid repository name ({HEX_A}), cannot specify 64-byte hexadecimal strings",
        ),
        (
            "r.io/" + "a" * 256,
            "invalid reference format: repository name must not be more than 255 characters: "
            f"'r.io/{'a' * 256}'",
        ),
    ],
)
def test_malformed_references(text: str, message: str) -> None:
    with pytest.raises(InvalidReference) as caught:
        Reference.parse(text)
    assert str(caught.value) == message
