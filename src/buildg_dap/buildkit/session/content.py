"""Local caches (``type=local``): the Content service buildkitd reads and writes them through.

buildkitd never touches the client's disk. For a local cache it calls containerd's
Content service over the session and picks a store per call with the
``buildkit-attachable-store-id`` metadata: ``"local:"`` + the directory exactly as
given in the cache attributes. After an export, the client tags the cache manifest
in the directory's ``index.json`` (buildctl does the same).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable, Mapping
from pathlib import Path
from typing import Final, NoReturn

import anyio
import grpc
from google.protobuf import empty_pb2

from buildg_dap._proto.containerd import content_pb2
from buildg_dap.buildkit.control import CacheEntry
from buildg_dap.buildkit.errors import SolveError
from buildg_dap.buildkit.session.layout_store import (
    ContentError,
    Ingest,
    LayoutStore,
    check_digest,
    timestamp,
)
from buildg_dap.buildkit.session.rpcserver import Attachable, CallContext
from buildg_dap.oci import DEFAULT_TAG, Descriptor, tag_in_index

STORE_ID_KEY: Final = "buildkit-attachable-store-id"
STORE_PREFIX: Final = "local:"
# The exporter response entry holding the cache manifest's descriptor (JSON).
CACHE_MANIFEST_KEY: Final = "cache.manifest"
# containerd's List sends infos in batches.
_BATCH: Final = 100


async def _abort(context: CallContext, error: ContentError) -> NoReturn:
    await context.abort(error.code, str(error))


def _no_filters(filters: Iterable[str]) -> None:
    if any(filters):
        raise ContentError(grpc.StatusCode.UNIMPLEMENTED, "content filters are not supported")


class ContentService:
    """containerd's Content API over our layout stores. Labels are not kept, as in the
    store buildctl serves."""

    def __init__(self, stores: Mapping[str, LayoutStore]) -> None:
        self._stores = dict(stores)

    def _store(self, context: CallContext) -> LayoutStore:
        metadata = context.invocation_metadata() or ()
        ids = [str(value) for key, value in metadata if key == STORE_ID_KEY]
        if not ids:
            raise ContentError(
                grpc.StatusCode.INVALID_ARGUMENT, f"request lacks metadata {STORE_ID_KEY!r}"
            )
        store = self._stores.get(ids[0])
        if store is None:
            raise ContentError(grpc.StatusCode.NOT_FOUND, f"unknown store {ids[0]}")
        return store

    async def Info(
        self, request: content_pb2.InfoRequest, context: CallContext
    ) -> content_pb2.InfoResponse:
        try:
            return content_pb2.InfoResponse(info=await self._store(context).info(request.digest))
        except ContentError as error:
            await _abort(context, error)

    async def Read(
        self, request: content_pb2.ReadContentRequest, context: CallContext
    ) -> AsyncIterator[content_pb2.ReadContentResponse]:
        try:
            store = self._store(context)
            async for chunk in store.read(request.digest, request.offset, request.size):
                yield chunk
        except ContentError as error:
            await _abort(context, error)

    async def List(
        self, request: content_pb2.ListContentRequest, context: CallContext
    ) -> AsyncIterator[content_pb2.ListContentResponse]:
        try:
            _no_filters(request.filters)
            batch: list[content_pb2.Info] = []
            async for info in self._store(context).blobs():
                batch.append(info)
                if len(batch) == _BATCH:
                    yield content_pb2.ListContentResponse(info=batch)
                    batch = []
            if batch:
                yield content_pb2.ListContentResponse(info=batch)
        except ContentError as error:
            await _abort(context, error)

    async def Delete(
        self, request: content_pb2.DeleteContentRequest, context: CallContext
    ) -> empty_pb2.Empty:
        try:
            await self._store(context).delete(request.digest)
        except ContentError as error:
            await _abort(context, error)
        return empty_pb2.Empty()

    async def Update(
        self, request: content_pb2.UpdateRequest, context: CallContext
    ) -> content_pb2.UpdateResponse:
        await context.abort(
            grpc.StatusCode.FAILED_PRECONDITION, "update not supported on immutable content store"
        )

    async def Status(
        self, request: content_pb2.StatusRequest, context: CallContext
    ) -> content_pb2.StatusResponse:
        try:
            return content_pb2.StatusResponse(status=await self._store(context).status(request.ref))
        except ContentError as error:
            await _abort(context, error)

    async def ListStatuses(
        self, request: content_pb2.ListStatusesRequest, context: CallContext
    ) -> content_pb2.ListStatusesResponse:
        try:
            _no_filters(request.filters)
            statuses = await self._store(context).statuses()
        except ContentError as error:
            await _abort(context, error)
        return content_pb2.ListStatusesResponse(statuses=statuses)

    async def Abort(
        self, request: content_pb2.AbortRequest, context: CallContext
    ) -> empty_pb2.Empty:
        try:
            await self._store(context).abort(request.ref)
        except ContentError as error:
            await _abort(context, error)
        return empty_pb2.Empty()

    async def Write(
        self, request_iterator: AsyncIterator[content_pb2.WriteContentRequest], context: CallContext
    ) -> AsyncIterator[content_pb2.WriteContentResponse]:
        try:
            store = self._store(context)
            requests = aiter(request_iterator)
            first = await anext(requests, None)
            if first is None or not first.ref:
                raise ContentError(
                    grpc.StatusCode.INVALID_ARGUMENT, "first message must have a reference"
                )
            async with store.writer(first.ref, first.total, first.expected) as ingest:
                async for reply in _transaction(store, ingest, first, requests):
                    yield reply
        except ContentError as error:
            await _abort(context, error)


async def _transaction(
    store: LayoutStore,
    ingest: Ingest,
    request: content_pb2.WriteContentRequest,
    requests: AsyncIterator[content_pb2.WriteContentRequest],
) -> AsyncIterator[content_pb2.WriteContentResponse]:
    """One reply per request; ends after a COMMIT or when the client stops sending."""
    expected = request.expected
    while True:
        reply = content_pb2.WriteContentResponse(action=request.action, offset=ingest.offset)
        if request.expected:
            expected = check_digest(request.expected)
            if await anyio.Path(store.blob_path(expected)).exists():
                await store.abort(ingest.ref)
                raise ContentError(
                    grpc.StatusCode.ALREADY_EXISTS, f"blob with expected digest {expected} exists"
                )
        if request.total > 0:
            ingest.total = request.total
        if request.action == content_pb2.STAT:
            reply.started_at.CopyFrom(timestamp(ingest.started))
            reply.updated_at.CopyFrom(timestamp(ingest.updated))
            reply.total = ingest.total
        else:
            if request.offset > 0 and request.offset != ingest.offset:
                raise ContentError(
                    grpc.StatusCode.OUT_OF_RANGE,
                    f"write @{request.offset} must occur at current offset {ingest.offset}",
                )
            if request.offset == 0 and ingest.offset > 0:
                # Offset 0 on a partial transaction: the client starts it again.
                await ingest.restart()
            if request.data:
                await ingest.write(request.data)
            reply.offset = ingest.offset
            if request.action == content_pb2.COMMIT:
                reply.digest = await ingest.commit(ingest.total, expected)
                yield reply
                return
        reply.digest = ingest.digest()
        yield reply
        following = await anext(requests, None)
        if following is None:
            return
        request = following


def local_stores(imports: Iterable[CacheEntry], exports: Iterable[CacheEntry]) -> dict[str, Path]:
    """The store ids BuildKit will ask for, with their directories, one per local cache."""
    dirs = [e.attrs["src"] for e in imports if e.type == "local"]
    dirs += [e.attrs["dest"] for e in exports if e.type == "local"]
    return {STORE_PREFIX + d: Path(d) for d in dirs}


def content_store(stores: Mapping[str, Path]) -> Attachable:
    service = ContentService({key: LayoutStore(root) for key, root in stores.items()})
    return Attachable(
        descriptor=content_pb2.DESCRIPTOR.services_by_name["Content"],
        servicer=service,
    )


async def record_exports(exports: Iterable[CacheEntry], response: Mapping[str, str]) -> None:
    """After a build: tag the exported cache manifest in each local cache's index.json."""
    raw = response.get(CACHE_MANIFEST_KEY, "")
    local = [e for e in exports if e.type == "local"]
    if not raw or not local:
        return
    try:
        manifest = json.loads(raw)
        Descriptor.model_validate(manifest)
    except ValueError:  # pydantic's ValidationError included
        raise SolveError(
            f"buildkitd returned an invalid cache manifest descriptor: {raw}"
        ) from None
    for entry in local:
        dest, tag = Path(entry.attrs["dest"]), entry.attrs.get("tag", DEFAULT_TAG)
        try:
            await anyio.to_thread.run_sync(tag_in_index, dest, manifest, tag)
        except (OSError, ValueError) as exc:
            raise SolveError(f"cannot tag the exported cache in {dest}: {exc}") from None
