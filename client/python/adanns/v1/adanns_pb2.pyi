from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

CALIBRATION_SOURCE_AUTO: CalibrationSource
CALIBRATION_SOURCE_RESERVOIR: CalibrationSource
CALIBRATION_SOURCE_SAMPLED: CalibrationSource
COSINE: Metric
DESCRIPTOR: _descriptor.FileDescriptor
DEVICE_AUTO: Device
DEVICE_CPU: Device
DEVICE_GPU: Device
INNER_PRODUCT: Metric
L2: Metric
METRIC_UNSPECIFIED: Metric
PRECISION_FP16: Precision
PRECISION_FP32: Precision
PRECISION_INT8: Precision

class BlockCacheInfo(_message.Message):
    __slots__ = ["capacity_bytes", "hits", "misses", "usage_bytes"]
    CAPACITY_BYTES_FIELD_NUMBER: _ClassVar[int]
    HITS_FIELD_NUMBER: _ClassVar[int]
    MISSES_FIELD_NUMBER: _ClassVar[int]
    USAGE_BYTES_FIELD_NUMBER: _ClassVar[int]
    capacity_bytes: int
    hits: int
    misses: int
    usage_bytes: int
    def __init__(self, capacity_bytes: _Optional[int] = ..., usage_bytes: _Optional[int] = ..., hits: _Optional[int] = ..., misses: _Optional[int] = ...) -> None: ...

class Budget(_message.Message):
    __slots__ = ["max_dims", "max_mflops", "plan", "target_recall"]
    MAX_DIMS_FIELD_NUMBER: _ClassVar[int]
    MAX_MFLOPS_FIELD_NUMBER: _ClassVar[int]
    PLAN_FIELD_NUMBER: _ClassVar[int]
    TARGET_RECALL_FIELD_NUMBER: _ClassVar[int]
    max_dims: int
    max_mflops: float
    plan: Plan
    target_recall: float
    def __init__(self, max_mflops: _Optional[float] = ..., target_recall: _Optional[float] = ..., plan: _Optional[_Union[Plan, _Mapping]] = ..., max_dims: _Optional[int] = ...) -> None: ...

class BuildIndexRequest(_message.Message):
    __slots__ = ["collection", "hnsw", "ivf", "opq"]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    HNSW_FIELD_NUMBER: _ClassVar[int]
    IVF_FIELD_NUMBER: _ClassVar[int]
    OPQ_FIELD_NUMBER: _ClassVar[int]
    collection: str
    hnsw: HnswParams
    ivf: IvfParams
    opq: OpqParams
    def __init__(self, collection: _Optional[str] = ..., ivf: _Optional[_Union[IvfParams, _Mapping]] = ..., hnsw: _Optional[_Union[HnswParams, _Mapping]] = ..., opq: _Optional[_Union[OpqParams, _Mapping]] = ...) -> None: ...

class BuildIndexResponse(_message.Message):
    __slots__ = ["indexes"]
    INDEXES_FIELD_NUMBER: _ClassVar[int]
    indexes: _containers.RepeatedCompositeFieldContainer[IndexInfo]
    def __init__(self, indexes: _Optional[_Iterable[_Union[IndexInfo, _Mapping]]] = ...) -> None: ...

class CalibrateRequest(_message.Message):
    __slots__ = ["collection", "ks", "queries", "query_vectors", "seed", "source"]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    KS_FIELD_NUMBER: _ClassVar[int]
    QUERIES_FIELD_NUMBER: _ClassVar[int]
    QUERY_VECTORS_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    collection: str
    ks: _containers.RepeatedScalarFieldContainer[int]
    queries: int
    query_vectors: _containers.RepeatedScalarFieldContainer[float]
    seed: int
    source: CalibrationSource
    def __init__(self, collection: _Optional[str] = ..., queries: _Optional[int] = ..., query_vectors: _Optional[_Iterable[float]] = ..., ks: _Optional[_Iterable[int]] = ..., seed: _Optional[int] = ..., source: _Optional[_Union[CalibrationSource, str]] = ...) -> None: ...

class CalibrationInfo(_message.Message):
    __slots__ = ["age_seconds", "error", "frontiers", "progress", "queries", "recalibration_reason", "reservoir_queries", "seconds", "source", "state"]
    AGE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    FRONTIERS_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    QUERIES_FIELD_NUMBER: _ClassVar[int]
    RECALIBRATION_REASON_FIELD_NUMBER: _ClassVar[int]
    RESERVOIR_QUERIES_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    age_seconds: float
    error: str
    frontiers: _containers.RepeatedCompositeFieldContainer[Frontier]
    progress: float
    queries: int
    recalibration_reason: str
    reservoir_queries: int
    seconds: float
    source: str
    state: str
    def __init__(self, state: _Optional[str] = ..., progress: _Optional[float] = ..., error: _Optional[str] = ..., seconds: _Optional[float] = ..., queries: _Optional[int] = ..., frontiers: _Optional[_Iterable[_Union[Frontier, _Mapping]]] = ..., source: _Optional[str] = ..., age_seconds: _Optional[float] = ..., reservoir_queries: _Optional[int] = ..., recalibration_reason: _Optional[str] = ...) -> None: ...

class CodebookSpec(_message.Message):
    __slots__ = ["m", "prefix_dims"]
    M_FIELD_NUMBER: _ClassVar[int]
    PREFIX_DIMS_FIELD_NUMBER: _ClassVar[int]
    m: int
    prefix_dims: int
    def __init__(self, prefix_dims: _Optional[int] = ..., m: _Optional[int] = ...) -> None: ...

class CollectionInfo(_message.Message):
    __slots__ = ["block_cache", "calibration", "default_budget", "dim", "indexes", "memory", "metric", "name", "nesting_dims", "shards", "storage", "vector_count", "vector_memory_bytes"]
    BLOCK_CACHE_FIELD_NUMBER: _ClassVar[int]
    CALIBRATION_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_BUDGET_FIELD_NUMBER: _ClassVar[int]
    DIM_FIELD_NUMBER: _ClassVar[int]
    INDEXES_FIELD_NUMBER: _ClassVar[int]
    MEMORY_FIELD_NUMBER: _ClassVar[int]
    METRIC_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    NESTING_DIMS_FIELD_NUMBER: _ClassVar[int]
    SHARDS_FIELD_NUMBER: _ClassVar[int]
    STORAGE_FIELD_NUMBER: _ClassVar[int]
    VECTOR_COUNT_FIELD_NUMBER: _ClassVar[int]
    VECTOR_MEMORY_BYTES_FIELD_NUMBER: _ClassVar[int]
    block_cache: BlockCacheInfo
    calibration: CalibrationInfo
    default_budget: Budget
    dim: int
    indexes: _containers.RepeatedCompositeFieldContainer[IndexInfo]
    memory: _containers.RepeatedCompositeFieldContainer[MemoryComponent]
    metric: Metric
    name: str
    nesting_dims: _containers.RepeatedScalarFieldContainer[int]
    shards: _containers.RepeatedCompositeFieldContainer[ShardInfo]
    storage: StorageOptions
    vector_count: int
    vector_memory_bytes: int
    def __init__(self, name: _Optional[str] = ..., dim: _Optional[int] = ..., metric: _Optional[_Union[Metric, str]] = ..., nesting_dims: _Optional[_Iterable[int]] = ..., vector_count: _Optional[int] = ..., indexes: _Optional[_Iterable[_Union[IndexInfo, _Mapping]]] = ..., vector_memory_bytes: _Optional[int] = ..., calibration: _Optional[_Union[CalibrationInfo, _Mapping]] = ..., default_budget: _Optional[_Union[Budget, _Mapping]] = ..., storage: _Optional[_Union[StorageOptions, _Mapping]] = ..., memory: _Optional[_Iterable[_Union[MemoryComponent, _Mapping]]] = ..., block_cache: _Optional[_Union[BlockCacheInfo, _Mapping]] = ..., shards: _Optional[_Iterable[_Union[ShardInfo, _Mapping]]] = ...) -> None: ...

class Cost(_message.Message):
    __slots__ = ["capped", "mflops", "vectors_fetched", "vectors_scanned"]
    CAPPED_FIELD_NUMBER: _ClassVar[int]
    MFLOPS_FIELD_NUMBER: _ClassVar[int]
    VECTORS_FETCHED_FIELD_NUMBER: _ClassVar[int]
    VECTORS_SCANNED_FIELD_NUMBER: _ClassVar[int]
    capped: bool
    mflops: float
    vectors_fetched: int
    vectors_scanned: int
    def __init__(self, mflops: _Optional[float] = ..., vectors_scanned: _Optional[int] = ..., capped: bool = ..., vectors_fetched: _Optional[int] = ...) -> None: ...

class CreateCollectionRequest(_message.Message):
    __slots__ = ["dim", "metric", "name", "nesting_dims", "replicas", "shards", "storage"]
    DIM_FIELD_NUMBER: _ClassVar[int]
    METRIC_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    NESTING_DIMS_FIELD_NUMBER: _ClassVar[int]
    REPLICAS_FIELD_NUMBER: _ClassVar[int]
    SHARDS_FIELD_NUMBER: _ClassVar[int]
    STORAGE_FIELD_NUMBER: _ClassVar[int]
    dim: int
    metric: Metric
    name: str
    nesting_dims: _containers.RepeatedScalarFieldContainer[int]
    replicas: int
    shards: int
    storage: StorageOptions
    def __init__(self, name: _Optional[str] = ..., dim: _Optional[int] = ..., metric: _Optional[_Union[Metric, str]] = ..., nesting_dims: _Optional[_Iterable[int]] = ..., storage: _Optional[_Union[StorageOptions, _Mapping]] = ..., shards: _Optional[int] = ..., replicas: _Optional[int] = ...) -> None: ...

class CreateSnapshotRequest(_message.Message):
    __slots__ = ["name"]
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class DeleteRequest(_message.Message):
    __slots__ = ["collection", "ids"]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    IDS_FIELD_NUMBER: _ClassVar[int]
    collection: str
    ids: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, collection: _Optional[str] = ..., ids: _Optional[_Iterable[int]] = ...) -> None: ...

class DeleteResponse(_message.Message):
    __slots__ = ["deleted"]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    deleted: int
    def __init__(self, deleted: _Optional[int] = ...) -> None: ...

class DescribeCollectionRequest(_message.Message):
    __slots__ = ["name"]
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class DropCollectionRequest(_message.Message):
    __slots__ = ["name"]
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class DropCollectionResponse(_message.Message):
    __slots__ = ["dropped_vectors"]
    DROPPED_VECTORS_FIELD_NUMBER: _ClassVar[int]
    dropped_vectors: int
    def __init__(self, dropped_vectors: _Optional[int] = ...) -> None: ...

class DropIndexRequest(_message.Message):
    __slots__ = ["collection", "name"]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    collection: str
    name: str
    def __init__(self, collection: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class DropIndexResponse(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class Frontier(_message.Message):
    __slots__ = ["k", "points"]
    K_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    k: int
    points: _containers.RepeatedCompositeFieldContainer[FrontierPoint]
    def __init__(self, k: _Optional[int] = ..., points: _Optional[_Iterable[_Union[FrontierPoint, _Mapping]]] = ...) -> None: ...

class FrontierPoint(_message.Message):
    __slots__ = ["latency_us", "measured_unix_seconds", "mflops", "plan", "queries", "recall", "recall_stderr", "source"]
    LATENCY_US_FIELD_NUMBER: _ClassVar[int]
    MEASURED_UNIX_SECONDS_FIELD_NUMBER: _ClassVar[int]
    MFLOPS_FIELD_NUMBER: _ClassVar[int]
    PLAN_FIELD_NUMBER: _ClassVar[int]
    QUERIES_FIELD_NUMBER: _ClassVar[int]
    RECALL_FIELD_NUMBER: _ClassVar[int]
    RECALL_STDERR_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    latency_us: float
    measured_unix_seconds: int
    mflops: float
    plan: Plan
    queries: int
    recall: float
    recall_stderr: float
    source: str
    def __init__(self, plan: _Optional[_Union[Plan, _Mapping]] = ..., recall: _Optional[float] = ..., recall_stderr: _Optional[float] = ..., mflops: _Optional[float] = ..., latency_us: _Optional[float] = ..., queries: _Optional[int] = ..., source: _Optional[str] = ..., measured_unix_seconds: _Optional[int] = ...) -> None: ...

class GetRequest(_message.Message):
    __slots__ = ["collection", "ids"]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    IDS_FIELD_NUMBER: _ClassVar[int]
    collection: str
    ids: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, collection: _Optional[str] = ..., ids: _Optional[_Iterable[int]] = ...) -> None: ...

class GetResponse(_message.Message):
    __slots__ = ["missing_ids", "vectors"]
    MISSING_IDS_FIELD_NUMBER: _ClassVar[int]
    VECTORS_FIELD_NUMBER: _ClassVar[int]
    missing_ids: _containers.RepeatedScalarFieldContainer[int]
    vectors: _containers.RepeatedCompositeFieldContainer[Vector]
    def __init__(self, vectors: _Optional[_Iterable[_Union[Vector, _Mapping]]] = ..., missing_ids: _Optional[_Iterable[int]] = ...) -> None: ...

class Hit(_message.Message):
    __slots__ = ["id", "score"]
    ID_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    id: int
    score: float
    def __init__(self, id: _Optional[int] = ..., score: _Optional[float] = ...) -> None: ...

class HnswParams(_message.Message):
    __slots__ = ["ef_construction", "graph_dims", "m", "seed"]
    EF_CONSTRUCTION_FIELD_NUMBER: _ClassVar[int]
    GRAPH_DIMS_FIELD_NUMBER: _ClassVar[int]
    M_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    ef_construction: int
    graph_dims: int
    m: int
    seed: int
    def __init__(self, graph_dims: _Optional[int] = ..., m: _Optional[int] = ..., ef_construction: _Optional[int] = ..., seed: _Optional[int] = ...) -> None: ...

class IndexInfo(_message.Message):
    __slots__ = ["build_seconds", "error", "kind", "memory_bytes", "name", "params", "progress", "rebuild_advised", "state", "vectors_added_since_build"]
    class ParamsEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    BUILD_SECONDS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    MEMORY_BYTES_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    REBUILD_ADVISED_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    VECTORS_ADDED_SINCE_BUILD_FIELD_NUMBER: _ClassVar[int]
    build_seconds: float
    error: str
    kind: str
    memory_bytes: int
    name: str
    params: _containers.ScalarMap[str, float]
    progress: float
    rebuild_advised: bool
    state: str
    vectors_added_since_build: int
    def __init__(self, name: _Optional[str] = ..., kind: _Optional[str] = ..., state: _Optional[str] = ..., progress: _Optional[float] = ..., memory_bytes: _Optional[int] = ..., params: _Optional[_Mapping[str, float]] = ..., build_seconds: _Optional[float] = ..., error: _Optional[str] = ..., vectors_added_since_build: _Optional[int] = ..., rebuild_advised: bool = ...) -> None: ...

class IvfParams(_message.Message):
    __slots__ = ["coarse_dims", "kmeans_iterations", "nlist", "search_dims", "seed", "training_sample"]
    COARSE_DIMS_FIELD_NUMBER: _ClassVar[int]
    KMEANS_ITERATIONS_FIELD_NUMBER: _ClassVar[int]
    NLIST_FIELD_NUMBER: _ClassVar[int]
    SEARCH_DIMS_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    TRAINING_SAMPLE_FIELD_NUMBER: _ClassVar[int]
    coarse_dims: int
    kmeans_iterations: int
    nlist: int
    search_dims: int
    seed: int
    training_sample: int
    def __init__(self, nlist: _Optional[int] = ..., coarse_dims: _Optional[int] = ..., search_dims: _Optional[int] = ..., kmeans_iterations: _Optional[int] = ..., training_sample: _Optional[int] = ..., seed: _Optional[int] = ...) -> None: ...

class ListCollectionsRequest(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class ListCollectionsResponse(_message.Message):
    __slots__ = ["collections"]
    COLLECTIONS_FIELD_NUMBER: _ClassVar[int]
    collections: _containers.RepeatedCompositeFieldContainer[CollectionInfo]
    def __init__(self, collections: _Optional[_Iterable[_Union[CollectionInfo, _Mapping]]] = ...) -> None: ...

class ListSnapshotsRequest(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class ListSnapshotsResponse(_message.Message):
    __slots__ = ["snapshots"]
    SNAPSHOTS_FIELD_NUMBER: _ClassVar[int]
    snapshots: _containers.RepeatedCompositeFieldContainer[SnapshotInfo]
    def __init__(self, snapshots: _Optional[_Iterable[_Union[SnapshotInfo, _Mapping]]] = ...) -> None: ...

class MemoryComponent(_message.Message):
    __slots__ = ["bytes", "bytes_per_vector", "name"]
    BYTES_FIELD_NUMBER: _ClassVar[int]
    BYTES_PER_VECTOR_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    bytes: int
    bytes_per_vector: float
    name: str
    def __init__(self, name: _Optional[str] = ..., bytes: _Optional[int] = ..., bytes_per_vector: _Optional[float] = ...) -> None: ...

class MoveShardRequest(_message.Message):
    __slots__ = ["collection", "from_node", "shard", "to_node"]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    FROM_NODE_FIELD_NUMBER: _ClassVar[int]
    SHARD_FIELD_NUMBER: _ClassVar[int]
    TO_NODE_FIELD_NUMBER: _ClassVar[int]
    collection: str
    from_node: str
    shard: int
    to_node: str
    def __init__(self, collection: _Optional[str] = ..., shard: _Optional[int] = ..., from_node: _Optional[str] = ..., to_node: _Optional[str] = ...) -> None: ...

class MoveShardResponse(_message.Message):
    __slots__ = ["already_done", "catch_up_seconds", "epoch", "in_sync", "old_copy_dropped", "primary", "replicas"]
    ALREADY_DONE_FIELD_NUMBER: _ClassVar[int]
    CATCH_UP_SECONDS_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    IN_SYNC_FIELD_NUMBER: _ClassVar[int]
    OLD_COPY_DROPPED_FIELD_NUMBER: _ClassVar[int]
    PRIMARY_FIELD_NUMBER: _ClassVar[int]
    REPLICAS_FIELD_NUMBER: _ClassVar[int]
    already_done: bool
    catch_up_seconds: float
    epoch: int
    in_sync: _containers.RepeatedScalarFieldContainer[str]
    old_copy_dropped: bool
    primary: str
    replicas: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, replicas: _Optional[_Iterable[str]] = ..., in_sync: _Optional[_Iterable[str]] = ..., primary: _Optional[str] = ..., epoch: _Optional[int] = ..., already_done: bool = ..., old_copy_dropped: bool = ..., catch_up_seconds: _Optional[float] = ...) -> None: ...

class OpqParams(_message.Message):
    __slots__ = ["codebooks", "opq_iterations", "seed", "training_sample"]
    CODEBOOKS_FIELD_NUMBER: _ClassVar[int]
    OPQ_ITERATIONS_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    TRAINING_SAMPLE_FIELD_NUMBER: _ClassVar[int]
    codebooks: _containers.RepeatedCompositeFieldContainer[CodebookSpec]
    opq_iterations: int
    seed: int
    training_sample: int
    def __init__(self, codebooks: _Optional[_Iterable[_Union[CodebookSpec, _Mapping]]] = ..., training_sample: _Optional[int] = ..., opq_iterations: _Optional[int] = ..., seed: _Optional[int] = ...) -> None: ...

class Plan(_message.Message):
    __slots__ = ["coarse_dims", "codebook", "ef", "index", "nprobe", "rerank_candidates", "rerank_dims", "search_dims"]
    COARSE_DIMS_FIELD_NUMBER: _ClassVar[int]
    CODEBOOK_FIELD_NUMBER: _ClassVar[int]
    EF_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    NPROBE_FIELD_NUMBER: _ClassVar[int]
    RERANK_CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    RERANK_DIMS_FIELD_NUMBER: _ClassVar[int]
    SEARCH_DIMS_FIELD_NUMBER: _ClassVar[int]
    coarse_dims: int
    codebook: str
    ef: int
    index: str
    nprobe: int
    rerank_candidates: int
    rerank_dims: int
    search_dims: int
    def __init__(self, index: _Optional[str] = ..., coarse_dims: _Optional[int] = ..., nprobe: _Optional[int] = ..., search_dims: _Optional[int] = ..., rerank_dims: _Optional[int] = ..., rerank_candidates: _Optional[int] = ..., ef: _Optional[int] = ..., codebook: _Optional[str] = ...) -> None: ...

class RecallEstimate(_message.Message):
    __slots__ = ["k", "mflops", "queries", "recall", "recall_lower_bound"]
    K_FIELD_NUMBER: _ClassVar[int]
    MFLOPS_FIELD_NUMBER: _ClassVar[int]
    QUERIES_FIELD_NUMBER: _ClassVar[int]
    RECALL_FIELD_NUMBER: _ClassVar[int]
    RECALL_LOWER_BOUND_FIELD_NUMBER: _ClassVar[int]
    k: int
    mflops: float
    queries: int
    recall: float
    recall_lower_bound: float
    def __init__(self, recall: _Optional[float] = ..., k: _Optional[int] = ..., mflops: _Optional[float] = ..., recall_lower_bound: _Optional[float] = ..., queries: _Optional[int] = ...) -> None: ...

class SearchBatchRequest(_message.Message):
    __slots__ = ["allow_partial", "budget", "collection", "device", "k", "queries", "query_dims", "session_key"]
    ALLOW_PARTIAL_FIELD_NUMBER: _ClassVar[int]
    BUDGET_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    K_FIELD_NUMBER: _ClassVar[int]
    QUERIES_FIELD_NUMBER: _ClassVar[int]
    QUERY_DIMS_FIELD_NUMBER: _ClassVar[int]
    SESSION_KEY_FIELD_NUMBER: _ClassVar[int]
    allow_partial: bool
    budget: Budget
    collection: str
    device: Device
    k: int
    queries: _containers.RepeatedScalarFieldContainer[float]
    query_dims: int
    session_key: str
    def __init__(self, collection: _Optional[str] = ..., query_dims: _Optional[int] = ..., queries: _Optional[_Iterable[float]] = ..., k: _Optional[int] = ..., budget: _Optional[_Union[Budget, _Mapping]] = ..., device: _Optional[_Union[Device, str]] = ..., allow_partial: bool = ..., session_key: _Optional[str] = ...) -> None: ...

class SearchBatchResponse(_message.Message):
    __slots__ = ["results"]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[SearchResponse]
    def __init__(self, results: _Optional[_Iterable[_Union[SearchResponse, _Mapping]]] = ...) -> None: ...

class SearchRequest(_message.Message):
    __slots__ = ["allow_partial", "budget", "collection", "device", "k", "query", "session_key"]
    ALLOW_PARTIAL_FIELD_NUMBER: _ClassVar[int]
    BUDGET_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    K_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    SESSION_KEY_FIELD_NUMBER: _ClassVar[int]
    allow_partial: bool
    budget: Budget
    collection: str
    device: Device
    k: int
    query: _containers.RepeatedScalarFieldContainer[float]
    session_key: str
    def __init__(self, collection: _Optional[str] = ..., query: _Optional[_Iterable[float]] = ..., k: _Optional[int] = ..., budget: _Optional[_Union[Budget, _Mapping]] = ..., device: _Optional[_Union[Device, str]] = ..., allow_partial: bool = ..., session_key: _Optional[str] = ...) -> None: ...

class SearchResponse(_message.Message):
    __slots__ = ["cost", "device", "estimate", "hits", "plan", "shard_plans", "shards_answered", "shards_total", "target_missed"]
    COST_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    ESTIMATE_FIELD_NUMBER: _ClassVar[int]
    HITS_FIELD_NUMBER: _ClassVar[int]
    PLAN_FIELD_NUMBER: _ClassVar[int]
    SHARDS_ANSWERED_FIELD_NUMBER: _ClassVar[int]
    SHARDS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    SHARD_PLANS_FIELD_NUMBER: _ClassVar[int]
    TARGET_MISSED_FIELD_NUMBER: _ClassVar[int]
    cost: Cost
    device: str
    estimate: RecallEstimate
    hits: _containers.RepeatedCompositeFieldContainer[Hit]
    plan: Plan
    shard_plans: _containers.RepeatedCompositeFieldContainer[ShardPlan]
    shards_answered: int
    shards_total: int
    target_missed: bool
    def __init__(self, hits: _Optional[_Iterable[_Union[Hit, _Mapping]]] = ..., plan: _Optional[_Union[Plan, _Mapping]] = ..., cost: _Optional[_Union[Cost, _Mapping]] = ..., estimate: _Optional[_Union[RecallEstimate, _Mapping]] = ..., target_missed: bool = ..., device: _Optional[str] = ..., shards_answered: _Optional[int] = ..., shards_total: _Optional[int] = ..., shard_plans: _Optional[_Iterable[_Union[ShardPlan, _Mapping]]] = ...) -> None: ...

class ShardInfo(_message.Message):
    __slots__ = ["epoch", "error", "in_sync", "node_id", "replicas", "shard", "state", "vector_count"]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    IN_SYNC_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    REPLICAS_FIELD_NUMBER: _ClassVar[int]
    SHARD_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    VECTOR_COUNT_FIELD_NUMBER: _ClassVar[int]
    epoch: int
    error: str
    in_sync: _containers.RepeatedScalarFieldContainer[str]
    node_id: str
    replicas: _containers.RepeatedScalarFieldContainer[str]
    shard: int
    state: str
    vector_count: int
    def __init__(self, shard: _Optional[int] = ..., node_id: _Optional[str] = ..., state: _Optional[str] = ..., vector_count: _Optional[int] = ..., error: _Optional[str] = ..., replicas: _Optional[_Iterable[str]] = ..., in_sync: _Optional[_Iterable[str]] = ..., epoch: _Optional[int] = ...) -> None: ...

class ShardPlan(_message.Message):
    __slots__ = ["plan", "shard"]
    PLAN_FIELD_NUMBER: _ClassVar[int]
    SHARD_FIELD_NUMBER: _ClassVar[int]
    plan: Plan
    shard: int
    def __init__(self, shard: _Optional[int] = ..., plan: _Optional[_Union[Plan, _Mapping]] = ...) -> None: ...

class ShardSnapshotInfo(_message.Message):
    __slots__ = ["bytes", "collection", "node_id", "path", "shard"]
    BYTES_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    SHARD_FIELD_NUMBER: _ClassVar[int]
    bytes: int
    collection: str
    node_id: str
    path: str
    shard: int
    def __init__(self, collection: _Optional[str] = ..., shard: _Optional[int] = ..., node_id: _Optional[str] = ..., path: _Optional[str] = ..., bytes: _Optional[int] = ...) -> None: ...

class SnapshotInfo(_message.Message):
    __slots__ = ["bytes", "created_unix_seconds", "name", "path", "shards"]
    BYTES_FIELD_NUMBER: _ClassVar[int]
    CREATED_UNIX_SECONDS_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    SHARDS_FIELD_NUMBER: _ClassVar[int]
    bytes: int
    created_unix_seconds: int
    name: str
    path: str
    shards: _containers.RepeatedCompositeFieldContainer[ShardSnapshotInfo]
    def __init__(self, name: _Optional[str] = ..., path: _Optional[str] = ..., bytes: _Optional[int] = ..., created_unix_seconds: _Optional[int] = ..., shards: _Optional[_Iterable[_Union[ShardSnapshotInfo, _Mapping]]] = ...) -> None: ...

class StorageOptions(_message.Message):
    __slots__ = ["resident_dims", "resident_precision"]
    RESIDENT_DIMS_FIELD_NUMBER: _ClassVar[int]
    RESIDENT_PRECISION_FIELD_NUMBER: _ClassVar[int]
    resident_dims: int
    resident_precision: Precision
    def __init__(self, resident_dims: _Optional[int] = ..., resident_precision: _Optional[_Union[Precision, str]] = ...) -> None: ...

class UpdateCollectionRequest(_message.Message):
    __slots__ = ["default_budget", "name"]
    DEFAULT_BUDGET_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    default_budget: Budget
    name: str
    def __init__(self, name: _Optional[str] = ..., default_budget: _Optional[_Union[Budget, _Mapping]] = ...) -> None: ...

class UpsertRequest(_message.Message):
    __slots__ = ["collection", "vectors"]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    VECTORS_FIELD_NUMBER: _ClassVar[int]
    collection: str
    vectors: _containers.RepeatedCompositeFieldContainer[Vector]
    def __init__(self, collection: _Optional[str] = ..., vectors: _Optional[_Iterable[_Union[Vector, _Mapping]]] = ...) -> None: ...

class UpsertResponse(_message.Message):
    __slots__ = ["upserted"]
    UPSERTED_FIELD_NUMBER: _ClassVar[int]
    upserted: int
    def __init__(self, upserted: _Optional[int] = ...) -> None: ...

class Vector(_message.Message):
    __slots__ = ["id", "values"]
    ID_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    id: int
    values: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, id: _Optional[int] = ..., values: _Optional[_Iterable[float]] = ...) -> None: ...

class Metric(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class Precision(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class CalibrationSource(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class Device(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
