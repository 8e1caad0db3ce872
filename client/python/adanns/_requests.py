"""Requests built from Python values: arrays checked and converted once, budgets, plans.

Everything here is checked before any I/O, so a bad argument raises InvalidArgument and writes
nothing.
"""

from __future__ import annotations

import operator
from typing import Any, Dict, Iterable, Iterator, Mapping, Optional, Sequence, Union

import numpy as np

from adanns._errors import InvalidArgument
from adanns.v1 import adanns_pb2 as pb2

PlanLike = Union[Mapping[str, Any], "pb2.Plan"]
IdsLike = Union[range, Sequence[int], np.ndarray]

METRICS = {"l2": pb2.L2, "ip": pb2.INNER_PRODUCT, "inner_product": pb2.INNER_PRODUCT,
           "cosine": pb2.COSINE}
DEVICES = {"auto": pb2.DEVICE_AUTO, "cpu": pb2.DEVICE_CPU, "gpu": pb2.DEVICE_GPU}
MAX_BATCH_QUERIES = 10_000  # the server's SearchBatch limit
# Bytes a hit takes in a SearchBatch response (id, score, tags) plus each result's plan and cost.
_HIT_BYTES = 16
_RESULT_BYTES = 256


def metric_value(metric: str) -> int:
    try:
        return METRICS[metric.lower()]
    except (KeyError, AttributeError):
        raise InvalidArgument(f"metric must be one of {sorted(METRICS)}; got {metric!r}") from None


def device_value(device: str) -> int:
    try:
        return DEVICES[device.lower()]
    except (KeyError, AttributeError):
        raise InvalidArgument(f"device must be one of {sorted(DEVICES)}; got {device!r}") from None


def _check_float_array(array: np.ndarray, what: str) -> None:
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise InvalidArgument(f"{what} must be numeric; got dtype {array.dtype}")


def as_rows(vectors: Any, what: str = "vectors") -> np.ndarray:
    """A 2-D float32 C-ordered copy (or view) of `vectors`; every value finite."""
    array = np.asarray(vectors)
    if array.ndim != 2:
        raise InvalidArgument(f"{what} must be a 2-D array (n x dim); got shape {array.shape}")
    _check_float_array(array, what)
    rows = np.ascontiguousarray(array, dtype=np.float32)
    if not np.isfinite(rows).all():
        bad = int(np.argwhere(~np.isfinite(rows))[0][0])
        raise InvalidArgument(f"{what} row {bad} holds a NaN or infinite value (or one that "
                              "overflows float32)")
    return rows


def as_query(query: Any) -> np.ndarray:
    """A 1-D float32 query (the full vector or a prefix)."""
    array = np.asarray(query)
    if array.ndim != 1 or array.size == 0:
        raise InvalidArgument(f"query must be a non-empty 1-D array; got shape {array.shape}")
    return as_rows(array.reshape(1, -1), "query")[0]


def as_ids(ids: IdsLike, count: Optional[int] = None) -> np.ndarray:
    """uint64 ids from a range, a sequence or an integer array; `count` of them when given."""
    if isinstance(ids, range):
        if ids.start < 0 or (len(ids) and ids[-1] < 0):
            raise InvalidArgument("ids must be non-negative")
        array = np.arange(ids.start, ids.stop, ids.step, dtype=np.uint64)
    elif isinstance(ids, np.ndarray):
        if ids.ndim != 1:
            raise InvalidArgument(f"ids must be 1-D; got shape {ids.shape}")
        if ids.size and not np.issubdtype(ids.dtype, np.integer):
            raise InvalidArgument(f"ids must be integers; got dtype {ids.dtype}")
        if ids.size and np.issubdtype(ids.dtype, np.signedinteger) and ids.min() < 0:
            raise InvalidArgument("ids must be non-negative")
        array = ids.astype(np.uint64, copy=False)
    else:
        # Python ints one by one: numpy would turn a list mixing ids above 2**63 with small ones
        # into float64 and lose the low bits.
        try:
            values = [operator.index(i) for i in ids]
        except TypeError:
            raise InvalidArgument("ids must be integers") from None
        if any(v < 0 or v >= 2**64 for v in values):
            raise InvalidArgument("ids must be in 0..2**64-1")
        array = np.array(values, dtype=np.uint64)
    if count is not None and len(array) != count:
        raise InvalidArgument(f"{len(array)} ids for {count} vectors")
    return array


def plan_message(plan: PlanLike) -> "pb2.Plan":
    """A Plan from a dict such as {"index": "ivf", "nprobe": 8} (or a Plan, passed through)."""
    if isinstance(plan, pb2.Plan):
        return plan
    fields = pb2.Plan.DESCRIPTOR.fields_by_name
    unknown = sorted(set(plan) - set(fields))
    if unknown:
        raise InvalidArgument(f"unknown plan fields {unknown}; plans take {sorted(fields)}")
    try:
        return pb2.Plan(**plan)
    except (TypeError, ValueError) as error:
        raise InvalidArgument(f"bad plan {dict(plan)!r}: {error}") from None


def budget_message(target_recall: Optional[float] = None, max_mflops: Optional[float] = None,
                   max_dims: Optional[int] = None,
                   plan: Optional[PlanLike] = None) -> Optional["pb2.Budget"]:
    """The Budget of a call; None when nothing is set (the collection's default applies)."""
    limits = [name for name, value in (("target_recall", target_recall),
                                       ("max_mflops", max_mflops), ("plan", plan))
              if value is not None]
    if len(limits) > 1:
        raise InvalidArgument(f"a budget sets at most one of target_recall, max_mflops and plan; "
                              f"got {limits}")
    if not limits and max_dims is None:
        return None
    budget = pb2.Budget()
    if target_recall is not None:
        budget.target_recall = float(target_recall)
    elif max_mflops is not None:
        budget.max_mflops = float(max_mflops)
    elif plan is not None:
        budget.plan.CopyFrom(plan_message(plan))
    if max_dims is not None:
        budget.max_dims = int(max_dims)
    return budget


def create_collection_request(name: str, dim: int, metric: str,
                              nesting_dims: Optional[Iterable[int]],
                              storage: Mapping[str, Any]) -> "pb2.CreateCollectionRequest":
    request = pb2.CreateCollectionRequest(name=name, dim=int(dim), metric=metric_value(metric),
                                          nesting_dims=list(nesting_dims or []))
    if storage:
        if "storage" not in pb2.CreateCollectionRequest.DESCRIPTOR.fields_by_name:
            raise InvalidArgument(f"storage options {sorted(storage)} need a server and client "
                                  "with CreateCollectionRequest.storage; this adanns.v1 has none")
        try:
            request.storage.CopyFrom(type(request.storage)(**storage))
        except (TypeError, ValueError) as error:
            raise InvalidArgument(f"bad storage options {dict(storage)!r}: {error}") from None
    return request


def search_request(collection: str, query: Any, k: int, budget: Optional["pb2.Budget"],
                   device: str, session_key: str = "") -> "pb2.SearchRequest":
    request = pb2.SearchRequest(collection=collection, k=int(k), device=device_value(device),
                                session_key=session_key)
    request.query.extend(as_query(query).tolist())
    if budget is not None:
        request.budget.CopyFrom(budget)
    return request


def queries_per_batch(k: int, dims: int, message_bytes: int) -> int:
    """Queries per SearchBatch call that keep request and response under `message_bytes`."""
    per_query = max(4 * dims, k * _HIT_BYTES + _RESULT_BYTES)
    return int(max(1, min(MAX_BATCH_QUERIES, (message_bytes // 2) // per_query)))


def search_batch_requests(collection: str, queries: Any, k: int, budget: Optional["pb2.Budget"],
                          device: str, message_bytes: int,
                          session_key: str = "") -> Iterator["pb2.SearchBatchRequest"]:
    """One SearchBatchRequest per chunk of `queries` (n x dims) under the server's limits."""
    rows = as_rows(queries, "queries")
    per_call = queries_per_batch(k, rows.shape[1], message_bytes)
    for start in range(0, len(rows), per_call):
        chunk = rows[start:start + per_call]
        request = pb2.SearchBatchRequest(collection=collection, query_dims=rows.shape[1],
                                         k=int(k), device=device_value(device),
                                         session_key=session_key)
        request.queries.extend(chunk.ravel().tolist())  # Python floats convert fastest
        if budget is not None:
            request.budget.CopyFrom(budget)
        yield request


def _params(message_type: Any, params: Mapping[str, Any], what: str) -> Any:
    fields = message_type.DESCRIPTOR.fields_by_name
    unknown = sorted(set(params) - set(fields))
    if unknown:
        raise InvalidArgument(f"unknown {what} parameters {unknown}; it takes {sorted(fields)}")
    try:
        return message_type(**params)
    except (TypeError, ValueError) as error:
        raise InvalidArgument(f"bad {what} parameters {dict(params)!r}: {error}") from None


def build_index_request(collection: str, kind: Optional[str],
                        params: Dict[str, Any]) -> "pb2.BuildIndexRequest":
    """kind None: the default index; "ivf"/"hnsw": IvfParams/HnswParams fields; "opq":
    codebooks=[(prefix_dims, m), ...] and OpqParams' other fields."""
    request = pb2.BuildIndexRequest(collection=collection)
    if kind is None:
        if params:
            raise InvalidArgument(f"the default index takes no parameters; got {sorted(params)} "
                                  "(name a kind: 'ivf', 'hnsw' or 'opq')")
    elif kind == "ivf":
        request.ivf.CopyFrom(_params(pb2.IvfParams, params, "ivf"))
    elif kind == "hnsw":
        request.hnsw.CopyFrom(_params(pb2.HnswParams, params, "hnsw"))
    elif kind == "opq":
        rest = dict(params)
        specs = rest.pop("codebooks", None)
        if not specs:
            raise InvalidArgument("an opq build needs codebooks=[(prefix_dims, m), ...]")
        opq = _params(pb2.OpqParams, rest, "opq")
        for prefix_dims, m in specs:
            opq.codebooks.add(prefix_dims=int(prefix_dims), m=int(m))
        request.opq.CopyFrom(opq)
    else:
        raise InvalidArgument(f"index kind must be None (the default), 'ivf', 'hnsw' or 'opq'; "
                              f"got {kind!r}")
    return request


CALIBRATION_SOURCES = {"auto": pb2.CALIBRATION_SOURCE_AUTO,
                       "sampled": pb2.CALIBRATION_SOURCE_SAMPLED,
                       "reservoir": pb2.CALIBRATION_SOURCE_RESERVOIR}


def calibrate_request(collection: str, queries: Any, ks: Optional[Iterable[int]],
                      sample: Optional[int], seed: Optional[int],
                      source: Optional[str] = None) -> "pb2.CalibrateRequest":
    if source is not None and source not in CALIBRATION_SOURCES:
        raise InvalidArgument(f"source must be one of {sorted(CALIBRATION_SOURCES)}; got {source!r}")
    request = pb2.CalibrateRequest(collection=collection, ks=list(ks or []),
                                   queries=int(sample or 0), seed=int(seed or 0),
                                   source=CALIBRATION_SOURCES[source or "auto"])
    if queries is not None:
        request.query_vectors.extend(as_rows(queries, "queries").ravel().tolist())
    return request
