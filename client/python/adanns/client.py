"""The blocking client."""

from __future__ import annotations

import time
from typing import Any, Callable, Iterable, List, Optional, TypeVar, Union

import grpc

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

T = TypeVar("T")


class Client:
    """A connection to adanns-server. Use it as a context manager, or call close().

    Every method raises an AdannsError subclass (NotFound, InvalidArgument, ...) carrying the
    server's message; arguments the client can check itself raise InvalidArgument before any I/O.
    """

    def __init__(self, address: Optional[str] = None, api_key: Optional[str] = None,
                 tls_ca: Union[str, bytes, None] = None, timeout: Optional[float] = None,
                 retry: Optional[RetryPolicy] = None) -> None:
        self._settings = Settings(address, api_key, tls_ca, timeout, retry)
        self._channel = self._settings.open_channel(grpc)
        self._stub = pb2_grpc.AdannsStub(self._channel)
        # Upsert messages go out as bytes encoded from the arrays (see _wire).
        self._upsert = self._channel.stream_unary(
            UPSERT_METHOD, request_serializer=None,
            response_deserializer=pb2.UpsertResponse.FromString)

    @property
    def address(self) -> str:
        return self._settings.address

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _call(self, method: Callable[..., T], request: Any, *, idempotent: bool = False,
              **kwargs: Any) -> T:
        """One call; with `idempotent`, retried on UNAVAILABLE under the client's RetryPolicy.
        `request`: the request, or a function making it afresh per attempt (a stream's messages).
        """
        call = {**self._settings.call_kwargs(), **kwargs}
        timeout = call.pop("timeout")

        def attempt(left: Optional[float]) -> T:
            return method(request() if callable(request) else request, timeout=left, **call)

        return retry.call(self._settings.retry, attempt, timeout, idempotent,
                          retry.channel_wait(self._channel))

    # Collections.

    def create_collection(self, name: str, dim: int, metric: str,
                          nesting_dims: Optional[Iterable[int]] = None,
                          **storage: Any) -> results.CollectionInfo:
        """Creates an empty collection. `metric`: "l2", "ip" or "cosine". `nesting_dims`: the
        Matryoshka prefix lengths (default: powers of two below dim, and dim)."""
        request = requests.create_collection_request(name, dim, metric, nesting_dims, storage)
        return results.collection_info(self._call(self._stub.CreateCollection, request))

    def describe(self, name: str) -> results.CollectionInfo:
        request = pb2.DescribeCollectionRequest(name=name)
        return results.collection_info(
            self._call(self._stub.DescribeCollection, request, idempotent=True))

    def list_collections(self) -> List[results.CollectionInfo]:
        response = self._call(self._stub.ListCollections, pb2.ListCollectionsRequest(),
                              idempotent=True)
        return [results.collection_info(info) for info in response.collections]

    def drop_collection(self, name: str) -> int:
        """Drops the collection; returns how many vectors it held."""
        request = pb2.DropCollectionRequest(name=name)
        return self._call(self._stub.DropCollection, request).dropped_vectors

    def set_default_budget(self, collection: str, *, target_recall: Optional[float] = None,
                           max_mflops: Optional[float] = None, max_dims: Optional[int] = None,
                           plan: Optional[requests.PlanLike] = None) -> results.CollectionInfo:
        """The budget of searches that set none; nothing set clears it."""
        request = pb2.UpdateCollectionRequest(name=collection)
        budget = requests.budget_message(target_recall, max_mflops, max_dims, plan)
        if budget is not None:
            request.default_budget.CopyFrom(budget)
        return results.collection_info(
            self._call(self._stub.UpdateCollection, request, idempotent=True))

    # Vectors.

    def upsert(self, collection: str, ids: requests.IdsLike, vectors: Any, *,
               progress: ProgressArg = False, message_bytes: int = UPSERT_MESSAGE_BYTES,
               timeout: Optional[float] = None) -> int:
        """Stores `vectors` (n x dim, any float dtype or order: converted once) under `ids`
        (an integer array, a sequence or a range), streamed in durable messages of about
        `message_bytes`. Returns the count committed. On an error, the messages before it are
        committed (the error says how many vectors) and none after. `timeout`: for the whole
        stream (default: none, whatever the client's per-call timeout)."""
        # Checked and converted now (InvalidArgument before any I/O); a retry streams it all
        # again (upserts by id are idempotent).
        first = [wire.upsert_stream(collection, ids, vectors, progress, message_bytes,
                                    MAX_MESSAGE_BYTES)]

        def messages() -> Any:
            return first.pop() if first else wire.upsert_stream(
                collection, ids, vectors, progress, message_bytes, MAX_MESSAGE_BYTES)

        return self._call(self._upsert, messages, idempotent=True, timeout=timeout).upserted

    def get(self, collection: str, ids: requests.IdsLike) -> results.Vectors:
        request = pb2.GetRequest(collection=collection, ids=requests.as_ids(ids).tolist())
        return results.vectors_result(self._call(self._stub.Get, request, idempotent=True))

    def delete(self, collection: str, ids: requests.IdsLike) -> int:
        """Deletes the ids; returns how many existed."""
        request = pb2.DeleteRequest(collection=collection, ids=requests.as_ids(ids).tolist())
        return self._call(self._stub.Delete, request, idempotent=True).deleted

    # Search.

    def search(self, collection: str, query: Any, k: int = 10, *,
               target_recall: Optional[float] = None, max_mflops: Optional[float] = None,
               max_dims: Optional[int] = None, plan: Optional[requests.PlanLike] = None,
               device: str = "auto", session_key: str = "") -> results.SearchResult:
        """Top-k for one query (the full vector or a long enough prefix). Budget: at most one
        of target_recall, max_mflops and plan (a dict of Plan fields), plus max_dims. Against a
        cluster, calls with the same session_key read the same replica of each shard."""
        budget = requests.budget_message(target_recall, max_mflops, max_dims, plan)
        request = requests.search_request(collection, query, k, budget, device, session_key)
        return results.search_result(self._call(self._stub.Search, request, idempotent=True))

    def search_batch(self, collection: str, queries: Any, k: int = 10, *,
                     target_recall: Optional[float] = None, max_mflops: Optional[float] = None,
                     max_dims: Optional[int] = None, plan: Optional[requests.PlanLike] = None,
                     device: str = "auto", session_key: str = "") -> results.BatchResult:
        """Top-k for each row of `queries` (n x dims) with one budget: (n, k) ids and scores."""
        budget = requests.budget_message(target_recall, max_mflops, max_dims, plan)
        responses = [self._call(self._stub.SearchBatch, request, idempotent=True)
                     for request in requests.search_batch_requests(
                         collection, queries, k, budget, device, MAX_MESSAGE_BYTES, session_key)]
        return results.batch_result(responses, k)

    # Indexes and calibration.

    def build_index(self, collection: str, kind: Optional[str] = None, *, wait: bool = True,
                    progress: ProgressArg = None, timeout: Optional[float] = None,
                    **params: Any) -> List[results.IndexInfo]:
        """Starts a build: kind None is the default index; "ivf" and "hnsw" take IvfParams' and
        HnswParams' fields; "opq" takes codebooks=[(prefix_dims, m), ...]. With `wait`, returns
        once every started index is ready (BuildFailed if one fails), reporting progress in
        thousandths; `timeout` bounds the wait (DeadlineExceeded)."""
        request = requests.build_index_request(collection, kind, params)
        started = self._call(self._stub.BuildIndex, request).indexes
        names = [index.name for index in started]
        if wait:
            self._wait(collection, lambda info: waiting.builds_progress(info, names), progress,
                       timeout, "build")
        info = self.describe(collection)
        return [index for index in info.indexes if index.name in names]

    def drop_index(self, collection: str, name: str) -> None:
        self._call(self._stub.DropIndex, pb2.DropIndexRequest(collection=collection, name=name))

    def calibrate(self, collection: str, *, queries: Any = None, sample: Optional[int] = None,
                  ks: Optional[Iterable[int]] = None, seed: Optional[int] = None,
                  source: Optional[str] = None, wait: bool = True,
                  progress: ProgressArg = None, timeout: Optional[float] = None) -> dict:
        """Measures the recall-compute frontier the budgets plan with: on `queries` (n x dim,
        e.g. real traffic), or per `source`: "auto" (default: the server's reservoir of recent
        queries once it holds 100, else stored vectors for the flat plans while indexes keep
        the points their build measured on held-out rows), "sampled" (`sample` stored vectors
        for every plan) or "reservoir". Returns the calibration's state (ready, with `wait`)."""
        request = requests.calibrate_request(collection, queries, ks, sample, seed, source)
        calibration = self._call(self._stub.Calibrate, request)
        if wait:
            calibration = self._wait(
                collection,
                lambda info: waiting.calibration_progress(info.calibration, collection),
                progress, timeout, "calibrate").calibration
        return results.calibration_dict(calibration)

    def frontier(self, collection: str, k: int = 10) -> List[dict]:
        """The calibrated plans at k, cheapest first: plan, recall, mflops, latency_us."""
        info = self._call(self._stub.DescribeCollection,
                          pb2.DescribeCollectionRequest(name=collection), idempotent=True)
        return results.frontier_rows(info.calibration, k)

    def _wait(self, collection: str, check: Callable[[Any], Any], progress: ProgressArg,
              timeout: Optional[float], what: str) -> "pb2.CollectionInfo":
        report = reporter(progress, 1000, what)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            info = self._call(self._stub.DescribeCollection,
                              pb2.DescribeCollectionRequest(name=collection), idempotent=True)
            done, fraction = check(info)
            if report:
                report(int(fraction * 1000), 1000)
            if done:
                return info
            if deadline is not None and time.monotonic() > deadline:
                raise DeadlineExceeded(f"{what} of '{collection}' still running after {timeout} s",
                                       grpc.StatusCode.DEADLINE_EXCEEDED)
            time.sleep(waiting.POLL_SECONDS)

    # Snapshots.

    def snapshot(self, name: Optional[str] = None) -> results.SnapshotInfo:
        """A consistent snapshot of the whole store under the server's --snapshot_dir."""
        request = pb2.CreateSnapshotRequest(name=name or "")
        return results.snapshot_info(self._call(self._stub.CreateSnapshot, request))

    def list_snapshots(self) -> List[results.SnapshotInfo]:
        response = self._call(self._stub.ListSnapshots, pb2.ListSnapshotsRequest(),
                              idempotent=True)
        return [results.snapshot_info(info) for info in response.snapshots]

    # Cluster administration (through a router).

    def move_shard(self, collection: str, shard: int, from_node: str, to_node: str,
                   timeout: Optional[float] = 3600) -> results.ShardMove:
        """Moves one copy of a shard to another data node; waits up to `timeout` seconds for the
        new copy to catch up (DeadlineExceeded leaves the move going on: call again to wait)."""
        request = pb2.MoveShardRequest(collection=collection, shard=shard, from_node=from_node,
                                       to_node=to_node)
        return results.shard_move(self._call(self._stub.MoveShard, request, idempotent=True,
                                              timeout=timeout))

