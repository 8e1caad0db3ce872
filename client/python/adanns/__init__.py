"""Python client of adanns, the Matryoshka embedding search server.

    import adanns, numpy as np
    with adanns.Client("127.0.0.1:50051") as client:
        client.create_collection("docs", dim=768, metric="cosine")
        client.upsert("docs", range(len(embeddings)), embeddings)
        hits = client.search("docs", embeddings[0], k=10, target_recall=0.95)
        print(hits.ids, hits.scores, hits.plan, hits.cost)

adanns.aio.Client is the asyncio variant with the same methods.
"""

from adanns._errors import (AdannsError, AlreadyExists, BuildFailed, Cancelled, DeadlineExceeded,
                            FailedPrecondition, Internal, InvalidArgument, NotFound, OutOfRange,
                            PermissionDenied, ResourceExhausted, Unauthenticated, Unavailable)
from adanns._results import (MISSING_ID, BatchResult, CollectionInfo, IndexInfo, SearchResult,
                             ShardMove, SnapshotInfo, Vectors)
from adanns._retry import RetryPolicy
from adanns.client import Client

__version__ = "0.1.0"

__all__ = [
    "AdannsError", "AlreadyExists", "BatchResult", "BuildFailed", "Cancelled", "Client",
    "CollectionInfo", "DeadlineExceeded", "FailedPrecondition", "IndexInfo", "Internal",
    "InvalidArgument", "MISSING_ID", "NotFound", "OutOfRange", "PermissionDenied",
    "ResourceExhausted", "RetryPolicy", "SearchResult", "ShardMove", "SnapshotInfo", "Unauthenticated",
    "Unavailable", "Vectors",
]
