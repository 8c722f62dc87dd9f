"""Docker image references: parsing and normalisation.

The grammar and the normalisation rules follow github.com/distribution/reference (the
package BuildKit and the Docker CLI use), so a reference is accepted here exactly when
BuildKit would accept it as a cache ``ref``.
"""

from __future__ import annotations

import hashlib
import re
from typing import Final

from pydantic import BaseModel, ConfigDict

from buildg_dap.cache.errors import CacheError

DEFAULT_DOMAIN: Final = "docker.io"
# Docker Hub's API lives on a different host than the name users write.
DOCKER_HUB_API_HOST: Final = "registry-1.docker.io"
_LEGACY_DOMAIN: Final = "index.docker.io"
_OFFICIAL_PREFIX: Final = "library/"
DEFAULT_TAG: Final = "latest"
NAME_MAX_LENGTH: Final = 255

_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_IPV6 = r"\[(?:[a-fA-F0-9:]+)\]"
_HOST = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|{_IPV6})"
_DOMAIN_AND_PORT = rf"{_HOST}(?::[0-9]+)?"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_REMOTE_NAME = rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"

# re.ASCII keeps \w to [A-Za-z0-9_] as in Go's regexp.
_REFERENCE_RE: Final = re.compile(
    rf"^((?:{_DOMAIN_AND_PORT}/)?{_REMOTE_NAME})(?::({_TAG}))?(?:@({_DIGEST}))?$", re.ASCII
)
_NAME_RE: Final = re.compile(rf"^(?:({_DOMAIN_AND_PORT})/)?({_REMOTE_NAME})$", re.ASCII)
_IDENTIFIER_RE: Final = re.compile(r"^[a-f0-9]{64}$")
_DIGEST_RE: Final = re.compile(rf"^{_DIGEST}$", re.ASCII)
# Hex lengths of the digest algorithms the registry protocol knows.
_DIGEST_HEX_LENGTHS: Final = {"sha256": 64, "sha384": 96, "sha512": 128}


class InvalidReference(CacheError, ValueError):
    """A string that is not a valid image reference; the message says why."""


class Reference(BaseModel):
    """A normalised reference: ``domain/path[:tag][@digest]``."""

    model_config = ConfigDict(frozen=True)

    domain: str
    path: str
    tag: str | None = None
    digest: str | None = None

    @classmethod
    def parse(cls, text: str) -> Reference:
        """Parses ``text`` the way ``docker pull`` does; a bare name gets ``:latest``."""
        ref = parse_normalized(text)
        if ref.tag is None and ref.digest is None:
            return ref.model_copy(update={"tag": DEFAULT_TAG})
        return ref

    @property
    def name(self) -> str:
        return f"{self.domain}/{self.path}"

    @property
    def registry_host(self) -> str:
        """The ``host[:port]`` that serves the distribution API for this name."""
        return DOCKER_HUB_API_HOST if self.domain == DEFAULT_DOMAIN else self.domain

    @property
    def manifest_reference(self) -> str:
        """What goes after ``/manifests/``: the digest when pinned, else the tag."""
        return self.digest or self.tag or DEFAULT_TAG

    def pinned(self, digest: str) -> Reference:
        """The immutable form ``name@digest`` (the tag no longer matters once pinned)."""
        return Reference(domain=self.domain, path=self.path, digest=validate_digest(digest))

    def __str__(self) -> str:
        text = self.name
        if self.tag is not None:
            text += f":{self.tag}"
        if self.digest is not None:
            text += f"@{self.digest}"
        return text


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def validate_digest(text: str) -> str:
    """Checks ``algorithm:hex`` with the algorithm's exact length; returns ``text``."""
    if not _DIGEST_RE.match(text):
        raise InvalidReference(f"invalid checksum digest format: {text!r}")
    algorithm, _, encoded = text.partition(":")
    expected = _DIGEST_HEX_LENGTHS.get(algorithm)
    if expected is None:
        raise InvalidReference(f"unsupported digest algorithm: {text!r}")
    if len(encoded) != expected:
        raise InvalidReference(f"invalid checksum digest length: {text!r}")
    if encoded != encoded.lower():
        raise InvalidReference(f"invalid checksum digest format: {text!r}")
    return text


def parse_normalized(text: str) -> Reference:
    """Like distribution's ParseNormalizedNamed: no default tag is added."""
    if _IDENTIFIER_RE.match(text):
        raise InvalidReference(
            f"invalid repository name ({text}), cannot specify 64-byte hexadecimal strings"
        )
    domain, remainder = _split_domain(text)
    remote = remainder.split(":", 1)[0]
    if remote.lower() != remote:
        raise InvalidReference(
            f"invalid reference format: repository name ({remote}) must be lowercase"
        )
    return _parse_full(f"{domain}/{remainder}", text)


def _split_domain(text: str) -> tuple[str, str]:
    first, sep, rest = text.partition("/")
    if not sep:
        return DEFAULT_DOMAIN, _OFFICIAL_PREFIX + text
    if first == "localhost" or any(c in first for c in ".:") or first.lower() != first:
        domain, remote = first, rest
    else:
        domain, remote = DEFAULT_DOMAIN, text
    if domain == _LEGACY_DOMAIN:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in remote:
        remote = _OFFICIAL_PREFIX + remote
    return domain, remote


def _parse_full(full: str, original: str) -> Reference:
    match = _REFERENCE_RE.match(full)
    if match is None:
        if _REFERENCE_RE.match(full.lower()):
            raise InvalidReference(
                f"invalid reference format: repository name must be lowercase: {original!r}"
            )
        raise InvalidReference(f"invalid reference format: {original!r}")
    name, tag, digest = match.groups()
    name_match = _NAME_RE.match(name)
    # A first component that looked like a host but is not a valid one (say
    # "my_host.com/x") would otherwise silently become part of the path.
    if name_match is None or name_match.group(1) is None:
        raise InvalidReference(f"invalid reference format: {original!r}")
    domain, path = name_match.group(1), name_match.group(2)
    if len(path) > NAME_MAX_LENGTH:
        raise InvalidReference(
            f"invalid reference format: repository name must not be more than "
            f"{NAME_MAX_LENGTH} characters: {original!r}"
        )
    if digest is not None:
        try:
            validate_digest(digest)
        except InvalidReference as exc:
            raise InvalidReference(f"invalid reference format: {exc}") from None
    return Reference(domain=domain, path=path, tag=tag, digest=digest)
