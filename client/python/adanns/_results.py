"""What calls return: numpy arrays for hits, dataclasses and plain dicts for the rest."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
from google.protobuf.json_format import MessageToDict

from adanns.v1 import adanns_pb2 as pb2

# The id a batch result carries where a query found fewer than k hits (its score is NaN).
MISSING_ID = np.iinfo(np.uint64).max

_METRIC_NAMES = {pb2.L2: "l2", pb2.INNER_PRODUCT: "ip", pb2.COSINE: "cosine"}


def plan_dict(plan: "pb2.Plan") -> Dict[str, Any]:
    """A plan as a dict of the fields set (the server fills every field it used)."""
    return MessageToDict(plan, preserving_proto_field_name=True)


def cost_dict(cost: "pb2.Cost") -> Dict[str, Any]:
    return {"mflops": cost.mflops, "vectors_scanned": cost.vectors_scanned, "capped": cost.capped}


def estimate_dict(response: "pb2.SearchResponse") -> Optional[Dict[str, Any]]:
    if not response.HasField("estimate"):
        return None
    estimate = response.estimate
    return {"recall": estimate.recall, "recall_lower_bound": estimate.recall_lower_bound,
            "queries": estimate.queries, "k": estimate.k, "mflops": estimate.mflops}


@dataclass
class SearchResult:
    """Hits of one query, best first: `ids` (uint64) and `scores` (float32; squared L2 distance
    for l2, lower is better; similarity for ip and cosine), and how the server ran it."""

    ids: np.ndarray
    scores: np.ndarray
    plan: Dict[str, Any]
    cost: Dict[str, Any]
    estimate: Optional[Dict[str, Any]] = None
    target_missed: bool = False
    device: str = "cpu"

    def __len__(self) -> int:
        return len(self.ids)


def search_result(response: "pb2.SearchResponse") -> SearchResult:
    return SearchResult(
        ids=np.fromiter((hit.id for hit in response.hits), dtype=np.uint64,
                        count=len(response.hits)),
        scores=np.fromiter((hit.score for hit in response.hits), dtype=np.float32,
                           count=len(response.hits)),
        plan=plan_dict(response.plan), cost=cost_dict(response.cost),
        estimate=estimate_dict(response), target_missed=response.target_missed,
        device=response.device)


@dataclass
class BatchResult:
    """Hits of n queries as (n, k) arrays; a query with fewer than k hits is padded with
    MISSING_ID and NaN. `plans`, `costs` and `estimates` hold one entry per query."""

    ids: np.ndarray
    scores: np.ndarray
    plans: List[Dict[str, Any]] = field(default_factory=list)
    costs: List[Dict[str, Any]] = field(default_factory=list)
    estimates: List[Optional[Dict[str, Any]]] = field(default_factory=list)
    target_missed: List[bool] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)


def batch_result(responses: Sequence["pb2.SearchBatchResponse"], k: int) -> BatchResult:
    n = sum(len(response.results) for response in responses)
    ids = np.full((n, k), MISSING_ID, dtype=np.uint64)
    scores = np.full((n, k), np.nan, dtype=np.float32)
    result = BatchResult(ids=ids, scores=scores)
    row = 0
    for response in responses:
        for one in response.results:
            hits = one.hits
            ids[row, :len(hits)] = [hit.id for hit in hits]
            scores[row, :len(hits)] = [hit.score for hit in hits]
            result.plans.append(plan_dict(one.plan))
            result.costs.append(cost_dict(one.cost))
            result.estimates.append(estimate_dict(one))
            result.target_missed.append(one.target_missed)
            row += 1
    return result


@dataclass
class IndexInfo:
    """One index of a collection: state "ready", "building", "failed" or "cancelled"."""

    name: str
    kind: str
    state: str
    progress: float
    memory_bytes: int
    params: Dict[str, float]
    build_seconds: float
    error: str
    vectors_added_since_build: int
    rebuild_advised: bool


def index_info(info: "pb2.IndexInfo") -> IndexInfo:
    return IndexInfo(name=info.name, kind=info.kind, state=info.state, progress=info.progress,
                     memory_bytes=info.memory_bytes, params=dict(info.params),
                     build_seconds=info.build_seconds, error=info.error,
                     vectors_added_since_build=info.vectors_added_since_build,
                     rebuild_advised=info.rebuild_advised)


def frontier_rows(calibration: "pb2.CalibrationInfo", k: int) -> List[Dict[str, Any]]:
    """The calibrated frontier at `k` (empty when k was not calibrated)."""
    for frontier in calibration.frontiers:
        if frontier.k == k:
            return [{"plan": plan_dict(point.plan), "recall": point.recall,
                     "recall_stderr": point.recall_stderr, "mflops": point.mflops,
                     "latency_us": point.latency_us}
                    for point in frontier.points]
    return []


def calibration_dict(calibration: "pb2.CalibrationInfo") -> Dict[str, Any]:
    return {"state": calibration.state, "progress": calibration.progress,
            "error": calibration.error, "seconds": calibration.seconds,
            "queries": calibration.queries,
            "ks": [frontier.k for frontier in calibration.frontiers],
            "source": calibration.source, "age_seconds": calibration.age_seconds,
            "reservoir_queries": calibration.reservoir_queries,
            "recalibration_reason": calibration.recalibration_reason}


@dataclass
class CollectionInfo:
    """A collection as the server describes it."""

    name: str
    dim: int
    metric: str
    nesting_dims: List[int]
    vector_count: int
    indexes: List[IndexInfo]
    vector_memory_bytes: int
    calibration: Dict[str, Any]
    default_budget: Optional[Dict[str, Any]]

    def index(self, name: str) -> Optional[IndexInfo]:
        return next((index for index in self.indexes if index.name == name), None)


def collection_info(info: "pb2.CollectionInfo") -> CollectionInfo:
    budget = (MessageToDict(info.default_budget, preserving_proto_field_name=True)
              if info.HasField("default_budget") else None)
    return CollectionInfo(name=info.name, dim=info.dim,
                          metric=_METRIC_NAMES.get(info.metric, "unspecified"),
                          nesting_dims=list(info.nesting_dims), vector_count=info.vector_count,
                          indexes=[index_info(index) for index in info.indexes],
                          vector_memory_bytes=info.vector_memory_bytes,
                          calibration=calibration_dict(info.calibration),
                          default_budget=budget)


@dataclass
class SnapshotInfo:
    name: str
    path: str
    bytes: int
    created_unix_seconds: int


def snapshot_info(info: "pb2.SnapshotInfo") -> SnapshotInfo:
    return SnapshotInfo(name=info.name, path=info.path, bytes=info.bytes,
                        created_unix_seconds=info.created_unix_seconds)


@dataclass
class ShardMove:
    """A shard after MoveShard: its copies, in-sync set, primary and epoch."""

    replicas: List[str]
    in_sync: List[str]
    primary: str
    epoch: int
    already_done: bool
    old_copy_dropped: bool
    catch_up_seconds: float


def shard_move(response: "pb2.MoveShardResponse") -> ShardMove:
    return ShardMove(replicas=list(response.replicas), in_sync=list(response.in_sync),
                     primary=response.primary, epoch=response.epoch,
                     already_done=response.already_done,
                     old_copy_dropped=response.old_copy_dropped,
                     catch_up_seconds=response.catch_up_seconds)


@dataclass
class Vectors:
    """Stored vectors as sent: `ids` found (request order), `vectors` (n, dim) float32, and the
    requested ids that are not stored."""

    ids: np.ndarray
    vectors: np.ndarray
    missing_ids: List[int]

    def __len__(self) -> int:
        return len(self.ids)


def vectors_result(response: "pb2.GetResponse") -> Vectors:
    found = response.vectors
    dim = len(found[0].values) if len(found) else 0
    vectors = np.empty((len(found), dim), dtype=np.float32)
    for row, vector in enumerate(found):
        vectors[row] = vector.values
    return Vectors(ids=np.fromiter((v.id for v in found), dtype=np.uint64, count=len(found)),
                   vectors=vectors, missing_ids=list(response.missing_ids))
