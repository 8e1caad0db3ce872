#!/usr/bin/python3
"""Using adanns from Python: create a collection, upsert vectors, search with a prefix plan.

Needs Debian's python3-grpcio and python3-numpy, and the stubs CMake generates into
<build>/python (target adanns_python_stubs):

    python3 client/python/adanns_example.py --server 127.0.0.1:50051 --stubs build/python

Exits 0 only if every probed stored vector comes back as its own nearest neighbour.
"""

import argparse
import os
import sys
import uuid

import numpy as np


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default=os.environ.get("ADANNS_SERVER", "127.0.0.1:50051"),
                        help="HOST:PORT of adanns-server (default: $ADANNS_SERVER or %(default)s)")
    parser.add_argument("--stubs", default=os.environ.get("ADANNS_PYTHON_STUBS", "build/python"),
                        help="directory holding adanns/v1/adanns_pb2*.py (default: %(default)s)")
    parser.add_argument("--api-key", default=os.environ.get("ADANNS_API_KEY", ""),
                        help="API key for servers with --api_keys_file (default: $ADANNS_API_KEY)")
    parser.add_argument("--tls-ca", default="",
                        help="PEM CA of the server's certificate: connect with TLS")
    parser.add_argument("--dim", type=int, default=64, help="embedding length")
    parser.add_argument("--count", type=int, default=1000, help="vectors to upsert")
    parser.add_argument("--keep", action="store_true", help="keep the collection afterwards")
    return parser.parse_args()


def upsert_messages(pb2, collection, vectors, per_message=256):
    """Yields the Upsert stream: each message is one atomic, durable batch."""
    for start in range(0, len(vectors), per_message):
        batch = vectors[start:start + per_message]
        yield pb2.UpsertRequest(
            collection=collection,
            vectors=[pb2.Vector(id=start + i, values=row.tolist()) for i, row in enumerate(batch)])


def main():
    args = parse_args()
    sys.path.insert(0, os.path.abspath(args.stubs))
    import grpc
    from adanns.v1 import adanns_pb2 as pb2
    from adanns.v1 import adanns_pb2_grpc as pb2_grpc

    if args.tls_ca:
        with open(args.tls_ca, "rb") as ca:
            channel = grpc.secure_channel(args.server,
                                          grpc.ssl_channel_credentials(root_certificates=ca.read()))
    else:
        channel = grpc.insecure_channel(args.server)
    # Every call carries the key when one is given: "authorization: Bearer KEY".
    auth = {"metadata": [("authorization", "Bearer " + args.api_key)]} if args.api_key else {}
    try:
        grpc.channel_ready_future(channel).result(timeout=10)
    except grpc.FutureTimeoutError:
        print(f"error: no adanns server answered at {args.server}", file=sys.stderr)
        return 2
    stub = pb2_grpc.AdannsStub(channel)

    # A Matryoshka model trains every prefix (8, 16, 32, 64 dims) to be a usable embedding.
    name = "example_" + uuid.uuid4().hex[:8]
    nesting = [d for d in (8, 16, 32, 64, 128, 256, 512) if d < args.dim] + [args.dim]
    info = stub.CreateCollection(pb2.CreateCollectionRequest(
        name=name, dim=args.dim, metric=pb2.COSINE, nesting_dims=nesting), **auth)
    print(f"created {info.name}: dim={info.dim} nesting_dims={list(info.nesting_dims)}")

    try:
        rng = np.random.default_rng(seed=7)
        vectors = rng.standard_normal((args.count, args.dim), dtype=np.float32)
        upserted = stub.Upsert(upsert_messages(pb2, name, vectors), **auth).upserted
        print(f"upserted {upserted} vectors")

        # Funnel plan: scan all vectors on a 16-dim prefix, re-rank the best 50 on every dim.
        plan = pb2.Plan(index="flat", search_dims=min(16, args.dim), rerank_dims=args.dim,
                        rerank_candidates=50)
        all_found = True
        for probe in (0, args.count // 2, args.count - 1):
            response = stub.Search(pb2.SearchRequest(
                collection=name, query=vectors[probe].tolist(), k=5,
                budget=pb2.Budget(plan=plan)), **auth)
            hits = [(hit.id, round(hit.score, 4)) for hit in response.hits]
            used = response.plan
            print(f"query {probe}: hits {hits}")
            print(f"  plan index={used.index} search_dims={used.search_dims} "
                  f"rerank_dims={used.rerank_dims} rerank_candidates={used.rerank_candidates}; "
                  f"cost {response.cost.mflops:.3f} MFLOPs, "
                  f"{response.cost.vectors_scanned} vectors scanned")
            if not response.hits or response.hits[0].id != probe:
                print(f"  FAIL: the nearest neighbour of {probe} is not itself", file=sys.stderr)
                all_found = False
    except grpc.RpcError as error:
        print(f"error: {error.code().name}: {error.details()}", file=sys.stderr)
        return 1
    finally:
        if not args.keep:
            stub.DropCollection(pb2.DropCollectionRequest(name=name), **auth)
    return 0 if all_found else 1


if __name__ == "__main__":
    sys.exit(main())
