"""The Content service over an OCI layout: store selection, reads, the write protocol
(resume, restart, abort, refused commits) and index.json tagging after an export."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from grpc import aio

from buildg_dap._proto.containerd import content_pb2, content_pb2_grpc
from buildg_dap.buildkit.control import CacheEntry
from buildg_dap.buildkit.errors import SolveError
from buildg_dap.buildkit.session.content import content_store, local_stores, record_exports
from tests.unit.loopback import grpc_service

STAT, WRITE, COMMIT = content_pb2.STAT, content_pb2.WRITE, content_pb2.COMMIT
DATA = bytes(range(256)) * 9000  # over 2 MiB: several read chunks
REF_NAME = "org.opencontainers.image.ref.name"


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Store:
    """A stub bound to one store id, as buildkitd's caller store is."""

    def __init__(self, channel: aio.Channel, root: Path) -> None:
        self.stub = content_pb2_grpc.ContentStub(channel)
        self.root = root
        self.md = (("buildkit-attachable-store-id", f"local:{root}"),)

    def write(
        self,
    ) -> aio.StreamStreamCall[content_pb2.WriteContentRequest, content_pb2.WriteContentResponse]:
        return self.stub.Write(metadata=self.md)

    async def read(self, digest: str, offset: int = 0, size: int = 0) -> bytes:
        call = self.stub.Read(
            content_pb2.ReadContentRequest(digest=digest, offset=offset, size=size),
            metadata=self.md,
        )
        data = b""
        async for chunk in call:
            assert chunk.offset == offset + len(data)
            data += chunk.data
        return data

    async def status(self, ref: str) -> content_pb2.Status:
        reply = await self.stub.Status(content_pb2.StatusRequest(ref=ref), metadata=self.md)
        return reply.status

    def blob(self, digest: str) -> Path:
        return self.root / "blobs" / "sha256" / digest.removeprefix("sha256:")


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    root = tmp_path / "cache"
    async with grpc_service(content_store(local_stores([], [_export(root)]))) as channel:
        yield Store(channel, root)


def _export(root: Path, **attrs: str) -> CacheEntry:
    return CacheEntry(type="local", attrs={"dest": str(root), **attrs})


async def send(
    call: aio.StreamStreamCall[content_pb2.WriteContentRequest, content_pb2.WriteContentResponse],
    **fields: object,
) -> content_pb2.WriteContentResponse:
    await call.write(content_pb2.WriteContentRequest(**fields))  # type: ignore[arg-type]
    reply = await call.read()
    assert isinstance(reply, content_pb2.WriteContentResponse)
    return reply


async def refused(call: object) -> aio.AioRpcError:
    with pytest.raises(aio.AioRpcError) as caught:
        await call  # type: ignore[misc]
    return caught.value


@pytest.mark.anyio
async def test_write_in_pieces_then_read_back(store: Store) -> None:
    expected = digest_of(DATA)
    call = store.write()
    first = await send(call, action=STAT, ref="layer-1", total=len(DATA), expected=expected)
    assert (first.offset, first.total) == (0, len(DATA))
    middle = await send(call, action=WRITE, offset=0, data=DATA[:1000])
    assert middle.offset == 1000 and middle.digest == digest_of(DATA[:1000])
    done = await send(
        call, action=COMMIT, offset=1000, data=DATA[1000:], total=len(DATA), expected=expected
    )
    assert (done.offset, done.digest) == (len(DATA), expected)
    await call.done_writing()
    assert store.blob(expected).read_bytes() == DATA
    assert not any((store.root / "ingest").iterdir())

    info = await store.stub.Info(content_pb2.InfoRequest(digest=expected), metadata=store.md)
    assert (info.info.digest, info.info.size) == (expected, len(DATA))
    assert await store.read(expected) == DATA
    assert await store.read(expected, offset=10, size=5) == DATA[10:15]
    assert await store.read(expected, offset=len(DATA) - 3, size=100) == DATA[-3:]
    past = await refused(store.read(expected, offset=len(DATA) + 1))
    assert past.code() == grpc.StatusCode.OUT_OF_RANGE
    assert past.details() == f"read past object length {len(DATA)} bytes"


@pytest.mark.anyio
async def test_commit_with_wrong_digest_is_refused_and_can_be_aborted(store: Store) -> None:
    wrong = digest_of(b"something else")
    call = store.write()
    await send(call, action=STAT, ref="bad", total=5)
    error = await refused(
        send(call, action=COMMIT, offset=0, data=b"hello", total=5, expected=wrong)
    )
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error.details() == f"unexpected commit digest {digest_of(b'hello')}, expected {wrong}"
    assert not store.blob(wrong).exists() and not store.blob(digest_of(b"hello")).exists()
    # The refused data is kept until the client aborts the transaction.
    assert (await store.status("bad")).offset == 5
    await store.stub.Abort(content_pb2.AbortRequest(ref="bad"), metadata=store.md)
    gone = await refused(store.status("bad"))
    assert gone.code() == grpc.StatusCode.NOT_FOUND
    assert gone.details() == "could not get status for ref 'bad': not found"
    again = await refused(store.stub.Abort(content_pb2.AbortRequest(ref="bad"), metadata=store.md))
    assert again.code() == grpc.StatusCode.NOT_FOUND
    assert again.details() == "ingest ref 'bad': not found"


@pytest.mark.anyio
async def test_commit_with_wrong_size_is_refused(store: Store) -> None:
    call = store.write()
    await send(call, action=STAT, ref="short")
    error = await refused(send(call, action=COMMIT, offset=0, data=b"hello", total=6))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error.details() == "unexpected commit size 5, expected 6"


@pytest.mark.anyio
async def test_interrupted_write_is_resumed_by_the_next_stream(store: Store) -> None:
    expected = digest_of(DATA)
    call = store.write()
    await send(call, action=STAT, ref="resume", total=len(DATA), expected=expected)
    await send(call, action=WRITE, offset=0, data=DATA[:4096])
    await call.done_writing()
    assert await call.read() == aio.EOF
    status = await store.status("resume")
    assert (status.ref, status.offset, status.total) == ("resume", 4096, len(DATA))
    listed = await store.stub.ListStatuses(content_pb2.ListStatusesRequest(), metadata=store.md)
    assert [s.ref for s in listed.statuses] == ["resume"]

    call = store.write()
    stat = await send(call, action=STAT, ref="resume", total=len(DATA), expected=expected)
    assert (stat.offset, stat.digest) == (4096, digest_of(DATA[:4096]))
    wrong_place = await refused(send(call, action=WRITE, offset=100, data=b"x"))
    assert wrong_place.code() == grpc.StatusCode.OUT_OF_RANGE
    assert wrong_place.details() == "write @100 must occur at current offset 4096"

    call = store.write()
    await send(call, action=STAT, ref="resume", total=len(DATA), expected=expected)
    done = await send(call, action=COMMIT, offset=4096, data=DATA[4096:], expected=expected)
    assert done.digest == expected
    assert store.blob(expected).read_bytes() == DATA


@pytest.mark.anyio
async def test_offset_zero_restarts_a_partial_write(store: Store) -> None:
    call = store.write()
    await send(call, action=STAT, ref="again")
    await send(call, action=WRITE, offset=0, data=b"garbage")
    restarted = await send(call, action=WRITE, offset=0, data=b"good")
    assert (restarted.offset, restarted.digest) == (4, digest_of(b"good"))
    done = await send(call, action=COMMIT, offset=4, total=4, expected=digest_of(b"good"))
    assert done.digest == digest_of(b"good")
    assert store.blob(digest_of(b"good")).read_bytes() == b"good"


@pytest.mark.anyio
async def test_refused_writes(store: Store) -> None:
    call = store.write()
    await send(call, action=COMMIT, ref="x", data=b"exists", expected=digest_of(b"exists"))
    existing = await refused(
        send(store.write(), action=STAT, ref="y", expected=digest_of(b"exists"))
    )
    assert existing.code() == grpc.StatusCode.ALREADY_EXISTS
    assert existing.details() == f"content {digest_of(b'exists')}: already exists"

    no_ref = await refused(send(store.write(), action=STAT, total=3))
    assert no_ref.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert no_ref.details() == "first message must have a reference"

    holder = store.write()
    await send(holder, action=STAT, ref="busy")
    locked = await refused(send(store.write(), action=STAT, ref="busy"))
    assert locked.code() == grpc.StatusCode.UNAVAILABLE
    assert locked.details() == "ref busy is locked by another write"
    await holder.done_writing()
    assert await holder.read() == aio.EOF
    # Released when its stream ended.
    assert (await send(store.write(), action=STAT, ref="busy")).offset == 0

    bad = await refused(send(store.write(), action=STAT, ref="z", expected="sha256:../../x"))
    assert bad.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert bad.details() == "'sha256:../../x' failed validation"


@pytest.mark.anyio
async def test_store_selection_and_other_calls(store: Store) -> None:
    request = content_pb2.InfoRequest(digest=digest_of(b"none"))
    unlabelled = await refused(store.stub.Info(request))
    assert unlabelled.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert unlabelled.details() == "request lacks metadata 'buildkit-attachable-store-id'"
    other = await refused(
        store.stub.Info(request, metadata=(("buildkit-attachable-store-id", "local:/elsewhere"),))
    )
    assert other.code() == grpc.StatusCode.NOT_FOUND
    assert other.details() == "unknown store local:/elsewhere"
    missing = await refused(store.stub.Info(request, metadata=store.md))
    assert missing.code() == grpc.StatusCode.NOT_FOUND
    assert missing.details() == f"content {digest_of(b'none')}: not found"

    for blob in (b"one", b"two"):
        await send(store.write(), action=COMMIT, ref=blob.decode(), data=blob)
    listed = [
        info.digest
        async for reply in store.stub.List(content_pb2.ListContentRequest(), metadata=store.md)
        for info in reply.info
    ]
    assert listed == sorted([digest_of(b"one"), digest_of(b"two")])
    await store.stub.Delete(
        content_pb2.DeleteContentRequest(digest=digest_of(b"one")), metadata=store.md
    )
    assert not store.blob(digest_of(b"one")).exists()
    filtered = await refused(
        store.stub.ListStatuses(
            content_pb2.ListStatusesRequest(filters=["ref==a"]), metadata=store.md
        )
    )
    assert filtered.code() == grpc.StatusCode.UNIMPLEMENTED
    assert filtered.details() == "content filters are not supported"
    update = await refused(
        store.stub.Update(
            content_pb2.UpdateRequest(info=content_pb2.Info(digest=digest_of(b"two"))),
            metadata=store.md,
        )
    )
    assert update.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert update.details() == "update not supported on immutable content store"


def test_store_ids_are_the_directories_as_given() -> None:
    imports = [
        CacheEntry(type="local", attrs={"src": "/c/in", "digest": digest_of(b"m")}),
        CacheEntry(type="registry", attrs={"ref": "r/cache"}),
    ]
    exports = [_export(Path("/c/out"), mode="max")]
    assert local_stores(imports, exports) == {
        "local:/c/in": Path("/c/in"),
        "local:/c/out": Path("/c/out"),
    }


def _manifest(data: bytes) -> str:
    return json.dumps({"mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "digest": digest_of(data), "size": len(data)})  # fmt: skip


@pytest.mark.anyio
async def test_exports_are_tagged_in_index_json(tmp_path: Path) -> None:
    root = tmp_path / "cache"
    root.mkdir()
    named = {REF_NAME: "v1", "io.containerd.image.name": "docker.io/x:v1"}
    image = {"digest": digest_of(b"img"), "size": 3, "annotations": named}
    (root / "index.json").write_text(
        json.dumps({"schemaVersion": 2, "manifests": [image], "annotations": {"keep": "me"}})
    )
    await record_exports([_export(root, tag="v1")], {"cache.manifest": _manifest(b"a")})
    await record_exports([_export(root)], {"cache.manifest": _manifest(b"b")})
    await record_exports([_export(root, tag="v1")], {"cache.manifest": _manifest(b"c")})
    index = json.loads((root / "index.json").read_text())
    assert index["annotations"] == {"keep": "me"}
    assert index["mediaType"] == "application/vnd.oci.image.index.v1+json"
    tagged = [(m["annotations"].get(REF_NAME), m["digest"]) for m in index["manifests"]]
    # The image named v1 is not a cache tag and stays; the cache tag v1 moved to c.
    assert tagged == [("v1", image["digest"]), ("latest", digest_of(b"b")),
                      ("v1", digest_of(b"c"))]  # fmt: skip
    assert json.loads((root / "oci-layout").read_text()) == {"imageLayoutVersion": "1.0.0"}

    # No cache.manifest (nothing exported): index.json is left alone.
    before = (root / "index.json").read_bytes()
    await record_exports([_export(root)], {})
    assert (root / "index.json").read_bytes() == before


@pytest.mark.anyio
async def test_export_tagging_errors(tmp_path: Path) -> None:
    with pytest.raises(SolveError) as caught:
        await record_exports([_export(tmp_path)], {"cache.manifest": '{"digest": 1}'})
    assert str(caught.value) == (
        'buildkitd returned an invalid cache manifest descriptor: {"digest": 1}'
    )
    (tmp_path / "index.json").write_text("{not json")
    with pytest.raises(SolveError) as caught:
        await record_exports([_export(tmp_path)], {"cache.manifest": _manifest(b"a")})
    assert str(caught.value) == (
        f"cannot tag the exported cache in {tmp_path}: "
        "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"
    )
