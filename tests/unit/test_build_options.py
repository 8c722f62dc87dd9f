"""Parsing buildx-style build flags."""

from __future__ import annotations

import pytest

from buildg_dap.buildkit.control import CacheEntry, Exporter
from buildg_dap.buildkit.options import (
    OptionError,
    Output,
    parse_build_args,
    parse_cache,
    parse_caches,
    parse_output,
    parse_platforms,
)


def test_cache_ref_shorthand() -> None:
    assert parse_cache("reg.example/cache:main", export=False) == [
        CacheEntry(type="registry", attrs={"ref": "reg.example/cache:main"})
    ]


def test_cache_shorthand_list_is_several_refs() -> None:
    assert parse_caches(["a/one,b/two", ""], export=False) == [
        CacheEntry(type="registry", attrs={"ref": "a/one"}),
        CacheEntry(type="registry", attrs={"ref": "b/two"}),
    ]


def test_cache_registry_with_attrs() -> None:
    text = (
        "type=registry,ref=r/c:1,mode=max,registry.insecure=true,"
        "image-manifest=true,oci-mediatypes=true"
    )
    assert parse_cache(text, export=True) == [
        CacheEntry(
            type="registry",
            attrs={
                "ref": "r/c:1",
                "mode": "max",
                "registry.insecure": "true",
                "image-manifest": "true",
                "oci-mediatypes": "true",
            },
        )
    ]


def test_cache_local_and_keys_are_case_insensitive() -> None:
    assert parse_cache("TYPE=local,Src=/tmp/c", export=False) == [
        CacheEntry(type="local", attrs={"src": "/tmp/c"})
    ]
    assert parse_cache("type=local,dest=/tmp/c", export=True) == [
        CacheEntry(type="local", attrs={"dest": "/tmp/c"})
    ]


def test_cache_quoted_value_keeps_its_comma() -> None:
    assert parse_cache('type=local,"src=/tmp/a,b"', export=False) == [
        CacheEntry(type="local", attrs={"src": "/tmp/a,b"})
    ]


@pytest.mark.parametrize(
    ("text", "export", "message"),
    [
        ("mode=max", True, "--cache-to 'mode=max': type= is required"),
        ("type=registry", False, "--cache-from 'type=registry': type=registry needs ref="),
        ("type=local,dest=/x", False, "--cache-from 'type=local,dest=/x': type=local needs src="),
        ("type=local,src=/x", True, "--cache-to 'type=local,src=/x': type=local needs dest="),
        (
            "type=inline",
            False,
            "--cache-from 'type=inline': unknown cache type 'inline' "
            "(one of: registry, local, gha, s3, azblob)",
        ),
        (
            "type=registry,ref=r,mode=all",
            True,
            "--cache-to 'type=registry,ref=r,mode=all': mode must be min or max, not 'all'",
        ),
        (
            "type=registry,ref=r,registry.insecure=yes",
            False,
            "--cache-from 'type=registry,ref=r,registry.insecure=yes': "
            "registry.insecure must be true or false, not 'yes'",
        ),
        ("type=registry,ref", False, "--cache-from 'type=registry,ref': 'ref' is not key=value"),
        (
            'type=local,"src=a"b',
            False,
            "--cache-from 'type=local,\"src=a\"b': bad CSV: ',' expected after '\"'",
        ),
    ],
)
def test_cache_errors(text: str, export: bool, message: str) -> None:
    with pytest.raises(OptionError) as caught:
        parse_cache(text, export=export)
    assert str(caught.value) == message


def test_output_shorthands() -> None:
    assert parse_output("out/dir") == Output(type="local", dest="out/dir")
    assert parse_output("-") == Output(type="tar", dest="-")


def test_output_kinds() -> None:
    local = parse_output("type=local,dest=/tmp/o")
    assert (local.target, local.exporter()) == ("dir", Exporter(type="local"))
    oci = parse_output("type=oci,dest=/tmp/o.tar,name=x")
    assert oci.target == "file"
    assert oci.exporter() == Exporter(type="oci", attrs={"name": "x"})
    image = parse_output("type=image,name=r/x:y,push=true")
    assert (image.target, image.exporter()) == (
        "none",
        Exporter(type="image", attrs={"name": "r/x:y", "push": "true"}),
    )
    assert parse_output("type=registry,name=r/x").exporter() == Exporter(
        type="image", attrs={"name": "r/x", "push": "true"}
    )
    assert parse_output("type=tar,dest=-") == Output(type="tar", dest="-")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("type=local", "--output 'type=local': type=local needs dest=DIRECTORY"),
        ("type=oci", "--output 'type=oci': type=oci needs dest=FILE (- for stdout)"),
        ("dest=/x", "--output 'dest=/x': type= is required"),
        (
            "type=zip,dest=/x",
            "--output 'type=zip,dest=/x': unknown output type 'zip' "
            "(one of: local, tar, oci, docker, image, registry)",
        ),
        ("type=image,dest=/x", "--output 'type=image,dest=/x': type=image takes no dest="),
        (
            "type=oci,dest=/x,tar=false",
            "--output 'type=oci,dest=/x,tar=false': only tar=true is supported for type=oci",
        ),
        (
            "type=local,dest=/x,mode=delete",
            "--output 'type=local,dest=/x,mode=delete': only mode=copy is supported for type=local",
        ),
        (
            "type=image,push=maybe",
            "--output 'type=image,push=maybe': push must be true or false, not 'maybe'",
        ),
        ("", "--output: empty value"),
    ],
)
def test_output_errors(text: str, message: str) -> None:
    with pytest.raises(OptionError) as caught:
        parse_output(text)
    assert str(caught.value) == message


def test_build_args() -> None:
    env = {"FROM_ENV": "env value"}
    args = parse_build_args(["A=1", "B=", "C=x=y", "FROM_ENV", "MISSING"], env)
    assert args == {"A": "1", "B": "", "C": "x=y", "FROM_ENV": "env value"}


def test_build_arg_without_name() -> None:
    with pytest.raises(OptionError) as caught:
        parse_build_args(["=v"], {})
    assert str(caught.value) == "--build-arg '=v': the name is empty"


def test_platforms() -> None:
    assert parse_platforms(["linux/amd64,linux/arm64/v8", "linux/amd64", "local"]) == [
        "linux/amd64",
        "linux/arm64/v8",
        "local",
    ]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("linux/amd64,", "--platform 'linux/amd64,': '' is not OS/ARCH[/VARIANT]"),
        ("linux//arm", "--platform 'linux//arm': 'linux//arm' is not OS/ARCH[/VARIANT]"),
        ("a/b/c/d", "--platform 'a/b/c/d': 'a/b/c/d' is not OS/ARCH[/VARIANT]"),
    ],
)
def test_platform_errors(value: str, message: str) -> None:
    with pytest.raises(OptionError) as caught:
        parse_platforms([value])
    assert str(caught.value) == message
