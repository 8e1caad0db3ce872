#!/usr/bin/python3
"""Matryoshka embeddings with adanns from Python: upsert full vectors, search by recall target.

Uses the `adanns` package beside this script (or an installed one):

    python3 client/python/adanns_example.py --server 127.0.0.1:50051

Exits 0 only if every probed stored vector comes back as its own nearest neighbour.
"""

import argparse
import sys
import uuid

import numpy as np

import adanns


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default=None,
                        help="HOST:PORT of adanns-server (default: $ADANNS_SERVER or "
                             "127.0.0.1:50051)")
    parser.add_argument("--api-key", default=None,
                        help="API key for servers with --api_keys_file (default: $ADANNS_API_KEY)")
    parser.add_argument("--tls-ca", default=None,
                        help="PEM CA of the server's certificate: connect with TLS")
    parser.add_argument("--dim", type=int, default=64, help="embedding length")
    parser.add_argument("--count", type=int, default=2000, help="vectors to upsert")
    parser.add_argument("--keep", action="store_true", help="keep the collection afterwards")
    return parser.parse_args()


def embed(count: int, dim: int) -> np.ndarray:
    """Stands in for a Matryoshka model: early dims carry most of the signal, as after MRL."""
    rng = np.random.default_rng(seed=7)
    scale = 1.0 / np.sqrt(np.arange(1, dim + 1, dtype=np.float32))
    return rng.standard_normal((count, dim), dtype=np.float32) * scale


def main() -> int:
    args = parse_args()
    name = "example_" + uuid.uuid4().hex[:8]
    vectors = embed(args.count, args.dim)
    with adanns.Client(args.server, api_key=args.api_key, tls_ca=args.tls_ca,
                       timeout=120) as client:
        try:
            client.create_collection(name, args.dim, "cosine")
            print(f"upserted {client.upsert(name, range(args.count), vectors)} vectors")
            client.build_index(name, "ivf", nlist=16, coarse_dims=min(16, args.dim))
            client.calibrate(name, ks=[10], sample=50)
            found = True
            for probe in (0, args.count // 2, args.count - 1):
                result = client.search(name, vectors[probe], k=10, target_recall=0.95)
                print(f"query {probe}: ids {result.ids[:5].tolist()}\n  plan {result.plan}\n"
                      f"  cost {result.cost['mflops']:.3f} MFLOPs, estimated recall "
                      f"{result.estimate['recall'] if result.estimate else 'n/a'}")
                found &= len(result) > 0 and int(result.ids[0]) == probe
        except adanns.AdannsError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        finally:
            if not args.keep:
                try:
                    client.drop_collection(name)
                except adanns.AdannsError:
                    pass  # the error that ended the run is already printed
    print("every probe found itself" if found else "FAIL: a probe did not find itself")
    return 0 if found else 1


if __name__ == "__main__":
    sys.exit(main())
