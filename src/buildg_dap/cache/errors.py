"""Why a cache could not be used; each message is meant to be shown to the user as is."""

from __future__ import annotations


class CacheError(Exception):
    """Base of every cache failure. ``str(exc)`` is the complete user-facing message."""


class CacheNotFound(CacheError):
    """The registry or directory has no such manifest or blob."""


class CacheUnauthorized(CacheError):
    """The registry refused access (HTTP 401/403)."""


class RegistryUnreachable(CacheError):
    """No HTTP answer: connection refused, DNS failure, timeouts."""


class RegistryFailed(CacheError):
    """The registry answered, but with a status that is neither success nor a known refusal."""


class CacheCorrupt(CacheError):
    """Content that does not match its digest, is truncated, or does not parse."""


class NotABuildCache(CacheError):
    """The reference names something valid that is not a BuildKit cache (e.g. an image)."""


class InvalidCacheSpec(CacheError):
    """A ``--cache-from`` value that cannot be understood."""
