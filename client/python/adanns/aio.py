"""The asyncio client: adanns.aio.Client has the blocking client's methods, as coroutines."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Callable, Iterable, List, Optional, Union

import grpc
import grpc.aio

from adanns import _requests as requests
from adanns import _results as results
from adanns import _waiting as waiting
from adanns import _retry as retry
from adanns import _wire as wire
from adanns._errors import DeadlineExceeded
from adanns._progress import ProgressArg, reporter
from adanns._retry import RetryPolicy
from adanns._settings import MAX_MESSAGE_BYTES, UPSERT_MESSAGE_BYTES, UPSERT_METHOD, Settings
from adanns.v1 import adanns_pb2 as pb2
from adanns.v1 import adanns_pb2_grpc as pb2_grpc

__all__ = ["Client"]


class Client:
    """A grpc.aio connection to adanns-server; `async with adanns.aio.Client() as client:`.
    Arguments, results and errors are those of adanns.Client. Create it inside the event loop
    that uses it."""

    def __init__(self, address: Optional[str] = None, api_key: Optional[str] = None,
                 tls_ca: Union[str, bytes, None] = None, timeout: Optional[float] = None,
                 retry: Optional[RetryPolicy] = None) -> None:
        self._settings = Settings(address, api_key, tls_ca, timeout, retry)
        self._channel = self._settings.open_channel(grpc.aio)
        self._stub = pb2_grpc.AdannsStub(self._channel)
        self._upsert = self._channel.stream_unary(
            UPSERT_METHOD, request_serializer=None,
            response_deserializer=pb2.UpsertResponse.FromString)

    @property
    def address(self) -> str:
        return self._settings.address

    async def close(self) -> None:
        await self._channel.close()

    async def __aenter__(self) -> "Client":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    async def _call(self, method: Callable[..., Any], request: Any, *, idempotent: bool = False,
                    **kwargs: Any) -> Any:
        """One call; with `idempotent`, retried on UNAVAILABLE under the client's RetryPolicy.
        `request`: the request, or a function making it afresh per attempt (a stream's messages).
        """
        call = {**self._settings.call_kwargs(), **kwargs}
        timeout = call.pop("timeout")

        async def attempt(left: Optional[float]) -> Any:
            return await method(request() if callable(request) else request, timeout=left, **call)

        return await retry.call_async(self._settings.retry, attempt, timeout, idempotent,
                                      self._channel)

    async def create_collection(self, name: str, dim: int, metric: str,
                                nesting_dims: Optional[Iterable[int]] = None,
                                **storage: Any) -> results.CollectionInfo:
        request = requests.create_collection_request(name, dim, metric, nesting_dims, storage)
        return results.collection_info(await self._call(self._stub.CreateCollection, request))

    async def describe(self, name: str) -> results.CollectionInfo:
        return results.collection_info(await self._describe(name))

    async def _describe(self, name: str) -> "pb2.CollectionInfo":
        return await self._call(self._stub.DescribeCollection,
                                pb2.DescribeCollectionRequest(name=name), idempotent=True)

    async def list_collections(self) -> List[results.CollectionInfo]:
        response = await self._call(self._stub.ListCollections, pb2.ListCollectionsRequest(),
                                    idempotent=True)
        return [results.collection_info(info) for info in response.collections]

    async def drop_collection(self, name: str) -> int:
        request = pb2.DropCollectionRequest(name=name)
        return (await self._call(self._stub.DropCollection, request)).dropped_vectors

    async def set_default_budget(self, collection: str, *, target_recall: Optional[float] = None,
                                 max_mflops: Optional[float] = None,
                                 max_dims: Optional[int] = None,
                                 plan: Optional[requests.PlanLike] = None
                                 ) -> results.CollectionInfo:
        request = pb2.UpdateCollectionRequest(name=collection)
        budget = requests.budget_message(target_recall, max_mflops, max_dims, plan)
        if budget is not None:
            request.default_budget.CopyFrom(budget)
        return results.collection_info(
            await self._call(self._stub.UpdateCollection, request, idempotent=True))

    async def upsert(self, collection: str, ids: requests.IdsLike, vectors: Any, *,
                     progress: ProgressArg = False, message_bytes: int = UPSERT_MESSAGE_BYTES,
                     timeout: Optional[float] = None) -> int:
        # Checked and converted now (InvalidArgument before any I/O); a retry streams it all
        # again (upserts by id are idempotent).
        first = [wire.upsert_stream(collection, ids, vectors, progress, message_bytes,
                                    MAX_MESSAGE_BYTES)]

        def messages() -> Any:
            return first.pop() if first else wire.upsert_stream(
                collection, ids, vectors, progress, message_bytes, MAX_MESSAGE_BYTES)

        return (await self._call(self._upsert, messages, idempotent=True,
                                 timeout=timeout)).upserted

    async def get(self, collection: str, ids: requests.IdsLike) -> results.Vectors:
        request = pb2.GetRequest(collection=collection, ids=requests.as_ids(ids).tolist())
        return results.vectors_result(await self._call(self._stub.Get, request, idempotent=True))

    async def delete(self, collection: str, ids: requests.IdsLike) -> int:
        request = pb2.DeleteRequest(collection=collection, ids=requests.as_ids(ids).tolist())
        return (await self._call(self._stub.Delete, request, idempotent=True)).deleted

    async def search(self, collection: str, query: Any, k: int = 10, *,
                     target_recall: Optional[float] = None, max_mflops: Optional[float] = None,
                     max_dims: Optional[int] = None, plan: Optional[requests.PlanLike] = None,
                     device: str = "auto", session_key: str = "") -> results.SearchResult:
        budget = requests.budget_message(target_recall, max_mflops, max_dims, plan)
        request = requests.search_request(collection, query, k, budget, device, session_key)
        return results.search_result(await self._call(self._stub.Search, request, idempotent=True))

    async def search_batch(self, collection: str, queries: Any, k: int = 10, *,
                           target_recall: Optional[float] = None,
                           max_mflops: Optional[float] = None, max_dims: Optional[int] = None,
                           plan: Optional[requests.PlanLike] = None,
                           device: str = "auto", session_key: str = "") -> results.BatchResult:
        budget = requests.budget_message(target_recall, max_mflops, max_dims, plan)
        responses = [await self._call(self._stub.SearchBatch, request, idempotent=True)
                     for request in requests.search_batch_requests(
                         collection, queries, k, budget, device, MAX_MESSAGE_BYTES, session_key)]
        return results.batch_result(responses, k)

    async def build_index(self, collection: str, kind: Optional[str] = None, *,
                          wait: bool = True, progress: ProgressArg = None,
                          timeout: Optional[float] = None,
                          **params: Any) -> List[results.IndexInfo]:
        request = requests.build_index_request(collection, kind, params)
        started = (await self._call(self._stub.BuildIndex, request)).indexes
        names = [index.name for index in started]
        if wait:
            await self._wait(collection, lambda info: waiting.builds_progress(info, names),
                             progress, timeout, "build")
        info = await self.describe(collection)
        return [index for index in info.indexes if index.name in names]

    async def drop_index(self, collection: str, name: str) -> None:
        await self._call(self._stub.DropIndex,
                         pb2.DropIndexRequest(collection=collection, name=name))

    async def calibrate(self, collection: str, *, queries: Any = None,
                        sample: Optional[int] = None, ks: Optional[Iterable[int]] = None,
                        seed: Optional[int] = None, source: Optional[str] = None,
                        wait: bool = True, progress: ProgressArg = None,
                        timeout: Optional[float] = None) -> dict:
        request = requests.calibrate_request(collection, queries, ks, sample, seed, source)
        calibration = await self._call(self._stub.Calibrate, request)
        if wait:
            calibration = (await self._wait(
                collection,
                lambda info: waiting.calibration_progress(info.calibration, collection),
                progress, timeout, "calibrate")).calibration
        return results.calibration_dict(calibration)

    async def frontier(self, collection: str, k: int = 10) -> List[dict]:
        return results.frontier_rows((await self._describe(collection)).calibration, k)

    async def _wait(self, collection: str, check: Callable[[Any], Any], progress: ProgressArg,
                    timeout: Optional[float], what: str) -> "pb2.CollectionInfo":
        report = reporter(progress, 1000, what)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            info = await self._describe(collection)
            done, fraction = check(info)
            if report:
                report(int(fraction * 1000), 1000)
            if done:
                return info
            if deadline is not None and time.monotonic() > deadline:
                raise DeadlineExceeded(f"{what} of '{collection}' still running after {timeout} s",
                                       grpc.StatusCode.DEADLINE_EXCEEDED)
            await asyncio.sleep(waiting.POLL_SECONDS)

    async def snapshot(self, name: Optional[str] = None) -> results.SnapshotInfo:
        request = pb2.CreateSnapshotRequest(name=name or "")
        return results.snapshot_info(await self._call(self._stub.CreateSnapshot, request))

    async def list_snapshots(self) -> List[results.SnapshotInfo]:
        response = await self._call(self._stub.ListSnapshots, pb2.ListSnapshotsRequest(),
                                    idempotent=True)
        return [results.snapshot_info(info) for info in response.snapshots]

    async def move_shard(self, collection: str, shard: int, from_node: str, to_node: str,
                         timeout: Optional[float] = 3600) -> results.ShardMove:
        """Client.move_shard, awaited."""
        request = pb2.MoveShardRequest(collection=collection, shard=shard, from_node=from_node,
                                       to_node=to_node)
        return results.shard_move(await self._call(self._stub.MoveShard, request,
                                                    idempotent=True, timeout=timeout))
