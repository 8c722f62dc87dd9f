"""Build flags in buildx syntax: cache imports/exports, outputs, build args, platforms.

Values are CSV (``type=registry,ref=...``) with CSV quoting, so a value may hold commas
when quoted: ``"type=local,dest=a,b"`` is not, ``type=local,"dest=a,b"`` is.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from buildg_dap.buildkit.control import CacheEntry, Exporter

CACHE_IMPORT_TYPES = ("registry", "local", "gha", "s3", "azblob")
CACHE_EXPORT_TYPES = ("registry", "local", "inline", "gha", "s3", "azblob")
OUTPUT_TYPES = ("local", "tar", "oci", "docker", "image", "registry")
_BOOL_ATTRS = ("registry.insecure", "image-manifest", "oci-mediatypes", "ignore-error", "push")


# strconv.ParseBool, which BuildKit and buildx use for boolean attributes.
GO_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
GO_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})


class OptionError(ValueError):
    """A malformed flag value; the message names the flag and the value."""


class MalformedFields(ValueError):
    """A CSV ``key=value`` list that does not parse; callers add their context."""


def csv_fields(text: str) -> list[str]:
    try:
        rows = list(csv.reader([text], strict=True))
    except csv.Error as exc:
        raise MalformedFields(f"bad CSV: {exc}") from None
    return rows[0] if rows else []


def key_values(fields: Iterable[str]) -> dict[str, str]:
    """``key=value`` fields; keys are case-insensitive like buildx's."""
    attrs: dict[str, str] = {}
    for field in fields:
        key, sep, value = field.partition("=")
        key = key.strip().lower()
        if not sep or not key:
            raise MalformedFields(f"{field!r} is not key=value")
        attrs[key] = value
    return attrs


def _fields(flag: str, text: str) -> list[str]:
    try:
        return csv_fields(text)
    except MalformedFields as exc:
        raise OptionError(f"{flag} {text!r}: {exc}") from None


def _pairs(flag: str, text: str, fields: Iterable[str]) -> dict[str, str]:
    try:
        return key_values(fields)
    except MalformedFields as exc:
        raise OptionError(f"{flag} {text!r}: {exc}") from None


def _check_bools(flag: str, text: str, attrs: Mapping[str, str]) -> None:
    for key in _BOOL_ATTRS:
        if key in attrs and attrs[key] not in GO_TRUE | GO_FALSE:
            raise OptionError(f"{flag} {text!r}: {key} must be true or false, not {attrs[key]!r}")


def parse_cache(text: str, *, export: bool) -> list[CacheEntry]:
    """One ``--cache-from``/``--cache-to`` value; a bare ``a,b`` is two registry refs."""
    flag = "--cache-to" if export else "--cache-from"
    fields = _fields(flag, text)
    if not fields:
        raise OptionError(f"{flag}: empty value")
    if "=" not in text:
        return [CacheEntry(type="registry", attrs={"ref": ref}) for ref in fields if ref]
    attrs = _pairs(flag, text, fields)
    kind = attrs.pop("type", "")
    if not kind:
        raise OptionError(f"{flag} {text!r}: type= is required")
    allowed = CACHE_EXPORT_TYPES if export else CACHE_IMPORT_TYPES
    if kind not in allowed:
        raise OptionError(
            f"{flag} {text!r}: unknown cache type {kind!r} (one of: {', '.join(allowed)})"
        )
    needs = {"registry": "ref", "local": "dest" if export else "src"}.get(kind)
    if needs and not attrs.get(needs):
        raise OptionError(f"{flag} {text!r}: type={kind} needs {needs}=")
    if export and attrs.get("mode", "min") not in ("min", "max"):
        raise OptionError(f"{flag} {text!r}: mode must be min or max, not {attrs['mode']!r}")
    _check_bools(flag, text, attrs)
    return [CacheEntry(type=kind, attrs=attrs)]


def parse_caches(values: Iterable[str], *, export: bool) -> list[CacheEntry]:
    return [entry for value in values if value for entry in parse_cache(value, export=export)]


class Output(BaseModel):
    """An ``--output``: the exporter buildkitd runs, and where its stream lands here."""

    model_config = ConfigDict(frozen=True)

    type: str
    attrs: dict[str, str] = Field(default_factory=dict)
    # A directory (local) or a file (tar, oci, docker; "-" is stdout); "" for images.
    dest: str = ""

    @property
    def target(self) -> Literal["dir", "file", "none"]:
        if self.type == "local":
            return "dir"
        return "file" if self.dest else "none"

    def exporter(self) -> Exporter:
        return Exporter(type=self.type, attrs=self.attrs)


def parse_output(text: str) -> Output:
    """One ``-o``/``--output`` value; ``DIR`` alone means a local copy, ``-`` a tar on stdout."""
    flag = "--output"
    fields = _fields(flag, text)
    if not fields:
        raise OptionError(f"{flag}: empty value")
    if len(fields) == 1 and "=" not in fields[0]:
        return Output(type="tar" if fields[0] == "-" else "local", dest=fields[0])
    attrs = _pairs(flag, text, fields)
    kind = attrs.pop("type", "")
    dest = attrs.pop("dest", "")
    if not kind:
        raise OptionError(f"{flag} {text!r}: type= is required")
    if kind not in OUTPUT_TYPES:
        raise OptionError(
            f"{flag} {text!r}: unknown output type {kind!r} (one of: {', '.join(OUTPUT_TYPES)})"
        )
    _check_bools(flag, text, attrs)
    if kind == "registry":
        # buildx's shorthand for an image that is pushed.
        kind, attrs = "image", {**attrs, "push": "true"}
    if kind == "local":
        if not dest:
            raise OptionError(f"{flag} {text!r}: type=local needs dest=DIRECTORY")
        if attrs.get("mode", "copy") != "copy":
            raise OptionError(f"{flag} {text!r}: only mode=copy is supported for type=local")
    elif kind in ("tar", "oci", "docker"):
        if not dest:
            raise OptionError(f"{flag} {text!r}: type={kind} needs dest=FILE (- for stdout)")
        if kind != "tar" and "tar" in attrs and attrs["tar"] not in GO_TRUE:
            raise OptionError(f"{flag} {text!r}: only tar=true is supported for type={kind}")
    elif dest:
        raise OptionError(f"{flag} {text!r}: type={kind} takes no dest=")
    return Output(type=kind, attrs=attrs, dest=dest)


def parse_build_args(values: Iterable[str], env: Mapping[str, str] | None = None) -> dict[str, str]:
    """``K=V`` pairs; a bare ``K`` takes its value from the environment, or is left out."""
    env = os.environ if env is None else env
    args: dict[str, str] = {}
    for value in values:
        key, sep, text = value.partition("=")
        if not key.strip():
            raise OptionError(f"--build-arg {value!r}: the name is empty")
        if sep:
            args[key] = text
        elif key in env:
            args[key] = env[key]
    return args


def parse_platforms(values: Iterable[str]) -> list[str]:
    """Platforms from repeated and comma-separated ``--platform`` values, de-duplicated."""
    platforms: list[str] = []
    for value in values:
        for item in value.split(","):
            name = item.strip()
            parts = name.split("/")
            if not name or len(parts) > 3 or not all(parts):
                raise OptionError(f"--platform {value!r}: {name!r} is not OS/ARCH[/VARIANT]")
            if name not in platforms:
                platforms.append(name)
    return platforms
