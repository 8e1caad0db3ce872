"""API keys, TLS, and the asyncio client (100 searches in flight) against real servers."""

from __future__ import annotations

import asyncio
import os
import subprocess
import tempfile
import unittest
from unittest import mock

import numpy as np

import adanns
import adanns.aio
from adanns_server import ServerProcess


class ApiKeyTest(unittest.TestCase):
    def test_keys_travel_and_are_enforced(self) -> None:
        with tempfile.TemporaryDirectory() as dir_:
            keys = os.path.join(dir_, "keys")
            with open(keys, "w") as f:
                f.write("py-admin-0123456789 admin\npy-reader-0123456789 read\n")
            with ServerProcess([f"--api_keys_file={keys}"]) as server:
                with mock.patch.dict(os.environ, {"ADANNS_API_KEY": ""}), \
                        adanns.Client(server.address) as anonymous:
                    with self.assertRaises(adanns.Unauthenticated):
                        anonymous.list_collections()
                with adanns.Client(server.address, api_key="py-reader-0123456789") as reader:
                    with self.assertRaises(adanns.PermissionDenied):
                        reader.create_collection("k", 4, "l2")
                # None takes the key from $ADANNS_API_KEY.
                with mock.patch.dict(os.environ, {"ADANNS_API_KEY": "py-admin-0123456789",
                                                  "ADANNS_SERVER": server.address}), \
                        adanns.Client() as admin:
                    self.assertEqual(admin.address, server.address)
                    admin.create_collection("k", 4, "l2")
                    admin.upsert("k", [1], np.ones((1, 4)))
                with adanns.Client(server.address, api_key="py-reader-0123456789") as reader:
                    self.assertEqual(int(reader.search("k", np.ones(4), k=1).ids[0]), 1)


class TlsTest(unittest.TestCase):
    def test_tls_with_the_ca_and_refused_without(self) -> None:
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "server.ext"), "w") as f:
                f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
            script = (
                "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 "
                "-subj /CN=adanns-py-ca && "
                "openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr "
                "-subj /CN=localhost && "
                "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
                "-out server.pem -days 2 -extfile server.ext")
            subprocess.run(script, shell=True, cwd=d, check=True, capture_output=True)
            flags = [f"--tls_cert={d}/server.pem", f"--tls_key={d}/server.key"]
            with ServerProcess(flags) as server:
                with adanns.Client(server.address, tls_ca=f"{d}/ca.pem") as client:
                    client.create_collection("t", 4, "l2")
                    self.assertEqual([c.name for c in client.list_collections()], ["t"])
                with open(f"{d}/ca.pem", "rb") as ca, \
                        adanns.Client(server.address, tls_ca=ca.read()) as client:
                    self.assertEqual(client.describe("t").dim, 4)
                with adanns.Client(server.address, timeout=5) as plaintext:
                    with self.assertRaises(adanns.Unavailable):
                        plaintext.list_collections()


class AsyncClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.server = ServerProcess()

    @classmethod
    def tearDownClass(cls) -> None:
        cls.server.stop()

    def test_round_trip_and_100_searches_in_flight(self) -> None:
        rows = np.random.default_rng(20).standard_normal((500, 24)).astype(np.float32)

        async def scenario() -> None:
            async with adanns.aio.Client(self.server.address, timeout=60) as client:
                await client.create_collection("a", 24, "l2")
                with self.assertRaises(adanns.AlreadyExists):
                    await client.create_collection("a", 24, "l2")
                self.assertEqual(await client.upsert("a", range(500), rows,
                                                     message_bytes=10_000), 500)
                got = await client.get("a", [3, 9999])
                np.testing.assert_array_equal(got.vectors, rows[[3]])
                self.assertEqual(got.missing_ids, [9999])
                searches = [client.search("a", rows[i], k=3, plan={"index": "flat"})
                            for i in range(100)]
                found = await asyncio.gather(*searches)
                self.assertEqual([int(r.ids[0]) for r in found], list(range(100)))
                batch = await client.search_batch("a", rows[:10], k=2, plan={"index": "flat"})
                np.testing.assert_array_equal(batch.ids[:, 0], np.arange(10))
                built = await client.build_index("a", "ivf", nlist=8)
                self.assertEqual(built[0].state, "ready")
                calibration = await client.calibrate("a", ks=[10], sample=30, timeout=120)
                self.assertEqual(calibration["state"], "ready")
                self.assertTrue(await client.frontier("a", 10))
                info = await client.set_default_budget("a", target_recall=0.9)
                self.assertAlmostEqual(info.default_budget["target_recall"], 0.9, places=5)
                self.assertEqual((await client.snapshot("aio")).name, "aio")
                self.assertEqual([s.name for s in await client.list_snapshots()], ["aio"])
                await client.drop_index("a", "ivf")
                self.assertEqual(await client.delete("a", [0, 1]), 2)
                self.assertEqual(len(await client.list_collections()), 1)
                self.assertEqual(await client.drop_collection("a"), 498)
                with self.assertRaises(adanns.NotFound):
                    await client.describe("a")

        asyncio.run(scenario())

    def test_searches_ride_through_a_restart(self) -> None:
        rows = np.random.default_rng(21).standard_normal((20, 8)).astype(np.float32)

        async def scenario(server: ServerProcess) -> None:
            async with adanns.aio.Client(server.address, timeout=120,
                                         retry=adanns.RetryPolicy(max_retry_time=60)) as client:
                await client.create_collection("r", 8, "l2")
                await client.upsert("r", range(20), rows)
                restart = server.restart_later(0.7)
                found = await client.search("r", rows[4], k=1)
                restart.join()
                self.assertIsNone(server.failure)
                self.assertEqual(int(found.ids[0]), 4)

        with ServerProcess() as server:
            asyncio.run(scenario(server))


if __name__ == "__main__":
    unittest.main()
