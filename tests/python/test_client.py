"""adanns.Client against a real server on loopback: every method, numpy dtypes and orders,
budgets and plans, and every error class from a real failing call."""

from __future__ import annotations

import logging
import random
import socket
import unittest

import numpy as np

import adanns
from adanns import _wire
from adanns.v1 import adanns_pb2 as pb2
from adanns_server import ServerProcess

DIM = 16


def random_rows(n: int, seed: int, dim: int = DIM) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)


class ServerTest(unittest.TestCase):
    """One server for the class; each test uses its own collections."""

    server_flags: list = []

    @classmethod
    def setUpClass(cls) -> None:
        cls.server = ServerProcess(cls.server_flags)
        cls.client = adanns.Client(cls.server.address, timeout=60)

    @classmethod
    def tearDownClass(cls) -> None:
        cls.client.close()
        cls.server.stop()


class CollectionsTest(ServerTest):
    def test_create_describe_list_drop(self) -> None:
        info = self.client.create_collection("c1", DIM, "l2", nesting_dims=[4, 8, 16])
        self.assertEqual((info.name, info.dim, info.metric, info.nesting_dims),
                         ("c1", DIM, "l2", [4, 8, 16]))
        self.assertEqual(info.vector_count, 0)
        self.assertEqual(info.index("flat").state, "ready")
        self.client.create_collection("c2", 8, "cosine")
        self.assertEqual(self.client.describe("c2").metric, "cosine")
        self.assertEqual([c.name for c in self.client.list_collections()][:2], ["c1", "c2"])
        self.client.upsert("c1", range(10), random_rows(10, 1))
        self.assertEqual(self.client.drop_collection("c1"), 10)
        with self.assertRaises(adanns.NotFound) as raised:
            self.client.describe("c1")
        self.assertIn("c1", raised.exception.message)
        with self.assertRaises(adanns.AlreadyExists):
            self.client.create_collection("c2", 8, "l2")

    def test_bad_collection_arguments(self) -> None:
        with self.assertRaises(adanns.InvalidArgument):
            self.client.create_collection("m", DIM, "manhattan")  # refused before any I/O
        with self.assertRaises(adanns.InvalidArgument):
            self.client.create_collection("../m", DIM, "l2")  # refused by the server
        with self.assertRaises(adanns.InvalidArgument) as raised:
            self.client.create_collection("m", DIM, "l2", resident_dims=DIM + 1)
        self.assertIn("storage", raised.exception.message)
        self.assertNotIn("m", [c.name for c in self.client.list_collections()])

    def test_default_budget_round_trip(self) -> None:
        self.client.create_collection("budget", DIM, "l2")
        info = self.client.set_default_budget("budget", plan={"index": "flat", "search_dims": 8})
        self.assertEqual(info.default_budget, {"plan": {"index": "flat", "search_dims": 8}})
        self.client.upsert("budget", range(50), random_rows(50, 2))
        self.assertEqual(self.client.search("budget", random_rows(1, 3)[0]).plan["search_dims"], 8)
        self.assertIsNone(self.client.set_default_budget("budget").default_budget)


class VectorsTest(ServerTest):
    def test_dtypes_orders_and_id_kinds_round_trip(self) -> None:
        self.client.create_collection("v", DIM, "l2")
        base = random_rows(40, 4)
        cases = [(np.float32, "C"), (np.float16, "C"), (np.float64, "F"), (np.float32, "F")]
        for case, (dtype, order) in enumerate(cases):
            sent = np.asarray(base.astype(dtype), order=order)
            ids = [range(case * 40, case * 40 + 40), list(range(case * 40, case * 40 + 40)),
                   np.arange(case * 40, case * 40 + 40, dtype=np.int64),
                   np.arange(case * 40, case * 40 + 40, dtype=np.uint64)][case]
            self.assertEqual(self.client.upsert("v", ids, sent), 40)
            got = self.client.get("v", ids)
            np.testing.assert_array_equal(got.ids, np.arange(case * 40, case * 40 + 40))
            self.assertEqual(got.vectors.dtype, np.float32)
            np.testing.assert_array_equal(got.vectors, sent.astype(np.float32))
        self.assertEqual(self.client.describe("v").vector_count, 160)
        got = self.client.get("v", [3, 10_000, 5])
        np.testing.assert_array_equal(got.ids, [3, 5])
        self.assertEqual(got.missing_ids, [10_000])
        self.assertEqual(self.client.delete("v", [3, 5, 10_000]), 2)
        self.assertEqual(self.client.get("v", [3]).missing_ids, [3])

    def test_large_ids_and_many_messages_with_progress(self) -> None:
        self.client.create_collection("m", DIM, "l2")
        ids = np.array([0, 2**63, 2**64 - 1] + list(range(1, 998)), dtype=np.uint64)
        rows = random_rows(1000, 5)
        seen = []
        # 16 dims are 64 bytes a vector: 2,000-byte messages hold about 20.
        count = self.client.upsert("m", ids, rows, message_bytes=2000,
                                   progress=lambda done, total: seen.append((done, total)))
        self.assertEqual(count, 1000)
        self.assertGreater(len(seen), 40)
        self.assertEqual(seen[-1], (1000, 1000))
        self.assertEqual([d for d, _ in seen], sorted(d for d, _ in seen))
        got = self.client.get("m", [2**64 - 1, 0])  # a list: ids above 2**63 stay exact
        np.testing.assert_array_equal(got.vectors, rows[[2, 0]])

    def test_bad_vectors_write_nothing(self) -> None:
        self.client.create_collection("bad", DIM, "l2")
        rows = random_rows(10, 6)
        rows[7, 3] = np.nan
        bad_calls = [
            lambda: self.client.upsert("bad", range(10), rows),                  # NaN
            lambda: self.client.upsert("bad", range(10), np.zeros((10, 2, 8))),  # 3-D
            lambda: self.client.upsert("bad", range(9), random_rows(10, 7)),     # count
            lambda: self.client.upsert("bad", [-1], random_rows(1, 7)),          # negative id
            lambda: self.client.upsert("bad", [1.5], random_rows(1, 7)),         # float id
            lambda: self.client.upsert("bad", range(3), np.array([["a"] * DIM] * 3)),
            lambda: self.client.upsert("bad", range(3), random_rows(3, 8, dim=DIM + 1)),
        ]
        for call in bad_calls:
            with self.assertRaises(adanns.InvalidArgument):
                call()
        self.assertEqual(self.client.describe("bad").vector_count, 0)
        with self.assertRaises(adanns.NotFound):
            self.client.upsert("missing", range(2), random_rows(2, 9))

    def test_wire_encoding_is_the_protobuf_encoding(self) -> None:
        rng = np.random.default_rng(10)
        for dim in (1, 3, 200):
            ids = np.concatenate([np.array([0, 1, 127, 128, 2**64 - 1], dtype=np.uint64),
                                  rng.integers(0, 2**63, 20, dtype=np.uint64)])
            rows = rng.standard_normal((len(ids), dim)).astype(np.float32)
            expected = pb2.UpsertRequest(collection="coll-é", vectors=[
                pb2.Vector(id=int(i), values=row.tolist()) for i, row in zip(ids, rows)])
            self.assertEqual(_wire.encode_upsert("coll-é", ids, rows),
                             expected.SerializeToString())


class SearchTest(ServerTest):
    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        cls.rows = random_rows(2000, 11, dim=32)
        cls.client.create_collection("s", 32, "l2", nesting_dims=[8, 16, 32])
        cls.client.upsert("s", range(2000), cls.rows)

    def test_exact_search_finds_the_stored_vector(self) -> None:
        result = self.client.search("s", self.rows[17], k=5, plan={"index": "flat"})
        self.assertEqual(result.ids.dtype, np.uint64)
        self.assertEqual(result.scores.dtype, np.float32)
        self.assertEqual(len(result), 5)
        self.assertEqual(int(result.ids[0]), 17)
        self.assertEqual(float(result.scores[0]), 0.0)
        self.assertTrue(np.all(np.diff(result.scores) >= 0))
        self.assertEqual(result.plan["index"], "flat")
        self.assertEqual(result.plan["search_dims"], 32)
        self.assertEqual(result.cost["vectors_scanned"], 2000)
        self.assertAlmostEqual(result.cost["mflops"], 2000 * 32 / 1e6, places=3)
        self.assertIsNone(result.estimate)
        self.assertEqual(result.device, "cpu")
        # Exact L2 against numpy.
        distances = ((self.rows - self.rows[17]) ** 2).sum(axis=1)
        np.testing.assert_array_equal(np.sort(result.ids), np.sort(np.argsort(distances)[:5]))

    def test_prefix_funnel_and_dimension_budget(self) -> None:
        funnel = self.client.search("s", self.rows[5], k=3,
                                    plan={"index": "flat", "search_dims": 8,
                                          "rerank_candidates": 50})
        self.assertEqual(int(funnel.ids[0]), 5)
        self.assertEqual(funnel.plan["rerank_dims"], 32)
        prefix = self.client.search("s", self.rows[5][:16], k=3, max_dims=16)
        self.assertEqual(int(prefix.ids[0]), 5)
        self.assertLessEqual(prefix.plan["search_dims"], 16)
        with self.assertRaises(adanns.InvalidArgument):
            self.client.search("s", self.rows[5][:8], k=3, plan={"index": "flat"})  # too short

    def test_budgets_are_checked(self) -> None:
        with self.assertRaises(adanns.InvalidArgument):
            self.client.search("s", self.rows[0], target_recall=0.9, max_mflops=1.0)
        with self.assertRaises(adanns.InvalidArgument):
            self.client.search("s", self.rows[0], plan={"index": "flat", "nprobes": 3})
        with self.assertRaises(adanns.InvalidArgument):
            self.client.search("s", self.rows[0], device="tpu")
        with self.assertRaises(adanns.OutOfRange):
            self.client.search("s", self.rows[0], max_mflops=1e-9)
        capped = self.client.search("s", self.rows[0], k=10, max_mflops=0.02)
        self.assertLessEqual(capped.cost["mflops"], 0.02 + 1e-9)

    def test_search_batch_matches_single_searches_and_pads(self) -> None:
        queries = self.rows[[1, 2, 3]] + 0.01
        batch = self.client.search_batch("s", queries, k=4, plan={"index": "flat"})
        self.assertEqual(batch.ids.shape, (3, 4))
        self.assertEqual(batch.scores.dtype, np.float32)
        for row, query in enumerate(queries):
            one = self.client.search("s", query, k=4, plan={"index": "flat"})
            np.testing.assert_array_equal(batch.ids[row], one.ids)
            np.testing.assert_allclose(batch.scores[row], one.scores, rtol=1e-6)
        self.assertEqual(len(batch.plans), 3)
        self.client.create_collection("tiny", 4, "ip")
        self.client.upsert("tiny", range(3), np.eye(3, 4, dtype=np.float32))
        padded = self.client.search_batch("tiny", np.ones((2, 4)), k=5)
        self.assertEqual(padded.ids.shape, (2, 5))
        self.assertTrue(np.all(padded.ids[:, 3:] == adanns.MISSING_ID))
        self.assertTrue(np.all(np.isnan(padded.scores[:, 3:])))
        self.assertTrue(np.all(padded.ids[:, :3] != adanns.MISSING_ID))


class IndexesTest(ServerTest):
    def test_build_search_calibrate_frontier_and_snapshot(self) -> None:
        rows = random_rows(3000, 12, dim=32)
        self.client.create_collection("i", 32, "l2")
        self.client.upsert("i", range(3000), rows)
        seen = []
        built = self.client.build_index("i", "ivf", nlist=32, coarse_dims=8, search_dims=16,
                                        progress=lambda done, total: seen.append(done))
        self.assertEqual([(b.name, b.state) for b in built], [("ivf", "ready")])
        self.assertEqual(built[0].params["nlist"], 32)
        self.assertEqual(seen[-1], 1000)
        hit = self.client.search("i", rows[42], k=1, plan={"index": "ivf", "nprobe": 4})
        self.assertEqual(int(hit.ids[0]), 42)
        self.assertEqual(hit.plan["index"], "ivf")

        calibration = self.client.calibrate("i", ks=[10], sample=40, source="sampled",
                                            timeout=120)
        self.assertEqual(calibration["state"], "ready")
        self.assertEqual(calibration["ks"], [10])
        frontier = self.client.frontier("i", k=10)
        self.assertGreater(len(frontier), 1)
        self.assertEqual(sorted(r["mflops"] for r in frontier), [r["mflops"] for r in frontier])
        self.assertEqual(self.client.frontier("i", k=7), [])
        planned = self.client.search("i", rows[7], k=10, target_recall=0.9)
        self.assertIsNotNone(planned.estimate)
        self.assertGreaterEqual(planned.estimate["recall"], 0.9)
        self.assertIn(planned.plan["index"], ("ivf", "flat"))

        snapshot = self.client.snapshot("py-snap")
        self.assertEqual(snapshot.name, "py-snap")
        self.assertGreater(snapshot.bytes, 3000 * 32 * 4)
        self.assertIn("py-snap", [s.name for s in self.client.list_snapshots()])
        with self.assertRaises(adanns.AlreadyExists):
            self.client.snapshot("py-snap")

        self.client.drop_index("i", "ivf")
        self.assertIsNone(self.client.describe("i").index("ivf"))
        with self.assertRaises(adanns.NotFound):
            self.client.drop_index("i", "ivf")

    def test_bad_builds(self) -> None:
        self.client.create_collection("b", 8, "l2")
        with self.assertRaises(adanns.InvalidArgument):
            self.client.build_index("b", "annoy")
        with self.assertRaises(adanns.InvalidArgument):
            self.client.build_index("b", "hnsw", m=16, efc=10)
        with self.assertRaises(adanns.InvalidArgument):
            self.client.build_index("b", "opq")
        with self.assertRaises(adanns.FailedPrecondition):
            self.client.calibrate("b", ks=[10])  # empty collection
        with self.assertRaises(adanns.FailedPrecondition):
            self.client.search("b", np.ones(8), target_recall=0.9)  # never calibrated
        with self.assertRaises(adanns.FailedPrecondition) as moved:
            self.client.move_shard("b", 0, "a", "c")  # shards move between a cluster's nodes
        self.assertIn("router", str(moved.exception))


class TransportErrorsTest(unittest.TestCase):
    def test_unavailable_deadline_and_resource_exhausted(self) -> None:
        with adanns.Client("127.0.0.1:1", timeout=2) as client:
            with self.assertRaises(adanns.Unavailable):
                client.list_collections()
        with ServerProcess(["--max_message_mb=1"]) as server, \
                adanns.Client(server.address, timeout=60) as client:
            client.create_collection("r", 256, "l2")
            with self.assertRaises(adanns.ResourceExhausted):
                client.upsert("r", range(4000), random_rows(4000, 13, dim=256))
            self.assertEqual(client.describe("r").vector_count, 0)
            rows = random_rows(3000, 14, dim=256)
            client.upsert("r", range(3000), rows, message_bytes=500_000)
            # A graph build this wide takes many seconds (cancelled when the server stops), so
            # even a loaded machine polls it before it ends.
            with self.assertRaises(adanns.DeadlineExceeded):
                client.build_index("r", "hnsw", m=48, ef_construction=4000, timeout=0.001)
        # gRPC rounds deadlines to whole milliseconds, so a 1-us timeout on loopback can still
        # succeed; a listener that never answers keeps the call waiting until its deadline.
        with socket.socket() as silent:
            silent.bind(("127.0.0.1", 0))
            silent.listen(8)
            host, port = silent.getsockname()
            with adanns.Client(f"{host}:{port}", timeout=0.5) as client:
                with self.assertRaises(adanns.DeadlineExceeded):
                    client.list_collections()


class RetryTest(unittest.TestCase):
    """Idempotent calls retried on UNAVAILABLE with a bounded backoff; others never."""

    def test_waits_grow_within_their_jitter_bounds_up_to_the_cap(self) -> None:
        policy = adanns.RetryPolicy()  # 50 ms, x2, at most 1 s
        for seed in range(20):
            waits = policy.waits(random.Random(seed))
            base = 0.05
            for _ in range(12):
                wait = next(waits)
                self.assertGreaterEqual(wait, base / 2)
                self.assertLessEqual(wait, base)
                base = min(base * 2, 1.0)

    def test_idempotent_calls_ride_through_a_restart(self) -> None:
        # 60 s of retries: far more than a restart takes even on a loaded machine.
        with ServerProcess() as server, adanns.Client(
                server.address, timeout=120,
                retry=adanns.RetryPolicy(max_retry_time=60)) as client:
            rows = random_rows(20, 30)
            client.create_collection("r", DIM, "l2")
            client.upsert("r", range(20), rows)
            calls = [(lambda: int(client.search("r", rows[5], k=1).ids[0]), 5),
                     (lambda: client.upsert("r", [100], rows[[5]]), 1),  # a stream, re-sent
                     (lambda: int(client.get("r", [100]).ids[0]), 100)]
            for call, expected in calls:
                restart = server.restart_later(0.7)
                with self.assertLogs("adanns", logging.DEBUG) as logged:
                    result = call()
                restart.join()
                self.assertIsNone(server.failure)
                self.assertEqual(result, expected)
                self.assertIn("retrying in", logged.output[0])

    def test_a_server_that_stays_down_ends_the_retries_and_others_never_retry(self) -> None:
        with ServerProcess() as server, adanns.Client(
                server.address, timeout=60,
                retry=adanns.RetryPolicy(max_retry_time=1.0)) as client:
            client.create_collection("d", DIM, "l2")
            server.kill()
            with self.assertRaises(adanns.Unavailable) as raised:
                client.search("d", np.ones(DIM), k=1)
            self.assertIn("gave up after", raised.exception.message)
            with self.assertRaises(adanns.Unavailable) as raised:
                client.create_collection("e", DIM, "l2")
            self.assertNotIn("gave up after", raised.exception.message)


if __name__ == "__main__":
    unittest.main()
