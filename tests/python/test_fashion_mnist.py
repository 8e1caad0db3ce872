"""60,000 x 784 Fashion-MNIST-PCA (prepared by adanns-bench) upserted from Python with progress,
then searched with search_batch: recall@10 against the bench's exact ground truth."""

from __future__ import annotations

import os
import time
import unittest

import numpy as np

import adanns
from adanns_server import ServerProcess

K = 10


def recall_at_k(found: np.ndarray, truth: np.ndarray) -> float:
    hits = sum(len(set(row.tolist()) & set(true[:K].tolist())) for row, true in zip(found, truth))
    return hits / (len(found) * K)


class FashionMnistTest(unittest.TestCase):
    def test_upsert_then_batch_search_recall(self) -> None:
        data = os.environ.get("ADANNS_FMNIST_DIR", "build/testdata/fmnist")
        base = np.load(os.path.join(data, "base.npy"))
        queries = np.load(os.path.join(data, "queries.npy"))
        truth = np.load(os.path.join(data, "groundtruth.npy"))
        self.assertEqual(base.shape, (60000, 784))
        with ServerProcess(["--auto_calibrate=false"]) as server, \
                adanns.Client(server.address, timeout=300) as client:
            client.create_collection("fmnist", 784, "l2")
            seen = []
            start = time.monotonic()
            # Fortran order: the client converts it once.
            count = client.upsert("fmnist", range(len(base)), np.asfortranarray(base),
                                  progress=lambda done, total: seen.append(done))
            seconds = time.monotonic() - start
            print(f"python upsert: {count} vectors in {seconds:.2f} s = "
                  f"{count / seconds:,.0f} vectors/s")
            self.assertEqual(count, 60000)
            self.assertEqual(seen[-1], 60000)
            self.assertEqual(client.describe("fmnist").vector_count, 60000)

            exact = client.search_batch("fmnist", queries, k=K, plan={"index": "flat"})
            self.assertEqual(exact.ids.shape, (len(queries), K))
            self.assertGreaterEqual(recall_at_k(exact.ids, truth), 0.999)
            funnel = client.search_batch("fmnist", queries, k=K,
                                         plan={"index": "flat", "search_dims": 64,
                                               "rerank_candidates": 200})
            funnel_recall = recall_at_k(funnel.ids, truth)
            print(f"funnel (64 dims, re-rank 200 at 784) recall@10 {funnel_recall:.3f}")
            self.assertGreaterEqual(funnel_recall, 0.95)
            self.assertLess(funnel.costs[0]["mflops"], exact.costs[0]["mflops"] / 5)

            client.build_index("fmnist", "ivf", nlist=256, coarse_dims=32, search_dims=64,
                               timeout=300)
            ivf = client.search_batch("fmnist", queries, k=K,
                                      plan={"index": "ivf", "nprobe": 16,
                                            "rerank_candidates": 200})
            ivf_recall = recall_at_k(ivf.ids, truth)
            print(f"ivf (nprobe 16) recall@10 {ivf_recall:.3f}")
            self.assertGreaterEqual(ivf_recall, 0.9)


if __name__ == "__main__":
    unittest.main()
