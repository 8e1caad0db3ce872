#!/usr/bin/env python3
"""deploy/k8s without a Kubernetes cluster: every manifest parses, every adanns-server flag in
them is one the built server knows (from its --helpfull), the etcd endpoints and initial cluster
name the etcd StatefulSet's pods through its headless Service, data nodes advertise the names
routers can dial, the shapes the design needs are there (3 etcd members with a quorum PDB, data
pods with a PVC each, required anti-affinity and a PDB, a router Deployment behind a Service,
gRPC health probes), and the secrets they mount exist under one name. Replication: routers create
3 copies of every shard, there are at least that many data pods, the ack timeout is below the
lease, data pods may dial each other, and upgrades and drains take one data pod at a time (a
shard stays writable while min_in_sync of its copies are in sync).

  k8s_manifests_test.py K8S_DIR SERVER_BIN
"""
import re
import subprocess
import sys
import unittest

import yaml

K8S_DIR, SERVER = sys.argv[1], sys.argv[2]


def load():
    with open(f"{K8S_DIR}/kustomization.yaml") as f:
        kustomization = yaml.safe_load(f)
    docs = []
    for name in kustomization["resources"]:
        with open(f"{K8S_DIR}/{name}") as f:
            docs.extend(d for d in yaml.safe_load_all(f) if d)
    return docs


def find(docs, kind, name):
    for doc in docs:
        if doc["kind"] == kind and doc["metadata"]["name"] == name:
            return doc
    raise AssertionError(f"no {kind} {name}")


def container(workload):
    return workload["spec"]["template"]["spec"]["containers"][0]


def flags(args):
    return dict(a[2:].split("=", 1) for a in args if a.startswith("--") and "=" in a)


def min_in_sync(replicas):
    """cluster/shard_map.cc MinInSync: the in-sync copies a shard needs to take writes."""
    return 2 if replicas >= 3 else 1


class K8sManifestsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.docs = load()
        help_text = subprocess.run([SERVER, "--helpfull"], capture_output=True, text=True).stdout
        cls.server_flags = set(re.findall(r"^\s+--(\w+)", help_text, re.M))
        assert "role" in cls.server_flags, help_text[:500]

    def test_every_adanns_flag_exists(self):
        for kind, name in [("StatefulSet", "adanns-data"), ("Deployment", "adanns-router")]:
            for flag in flags(container(find(self.docs, kind, name))["args"]):
                self.assertIn(flag, self.server_flags, f"{name}: --{flag} is not a server flag")

    def test_etcd_members_match_the_statefulset(self):
        etcd = find(self.docs, "StatefulSet", "adanns-etcd")
        service = find(self.docs, "Service", "adanns-etcd")
        self.assertEqual(service["spec"]["clusterIP"], "None")
        self.assertEqual(etcd["spec"]["serviceName"], "adanns-etcd")
        replicas = etcd["spec"]["replicas"]
        self.assertEqual(replicas, 3)
        members = [f"adanns-etcd-{i}.adanns-etcd" for i in range(replicas)]
        initial = flags(container(etcd)["args"])["initial-cluster"].split(",")
        self.assertEqual(initial, [f"adanns-etcd-{i}=http://{m}:2380" for i, m in enumerate(members)])
        for kind, name in [("StatefulSet", "adanns-data"), ("Deployment", "adanns-router")]:
            endpoints = flags(container(find(self.docs, kind, name))["args"])["etcd"].split(",")
            self.assertEqual(endpoints, [f"{m}:2379" for m in members], name)
        pdb = find(self.docs, "PodDisruptionBudget", "adanns-etcd")
        self.assertEqual(pdb["spec"]["minAvailable"], replicas // 2 + 1)

    def test_data_nodes_are_sticky_spread_and_dialable(self):
        data = find(self.docs, "StatefulSet", "adanns-data")
        service = find(self.docs, "Service", "adanns-data")
        self.assertEqual(service["spec"]["clusterIP"], "None")
        self.assertEqual(data["spec"]["serviceName"], "adanns-data")
        self.assertTrue(data["spec"]["volumeClaimTemplates"])
        args = flags(container(data)["args"])
        self.assertEqual(args["role"], "data")
        self.assertEqual(args["node_id"], "$(POD_NAME)")  # the pod's stable name: sticky shards
        self.assertEqual(args["advertise"], "$(POD_NAME).adanns-data:50051")
        self.assertIn("cluster_key_file", args)  # beyond loopback: the key or mutual TLS
        anti = data["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]
        self.assertIn("requiredDuringSchedulingIgnoredDuringExecution", anti)
        find(self.docs, "PodDisruptionBudget", "adanns-data")

    def test_router_and_probes(self):
        router = find(self.docs, "Deployment", "adanns-router")
        service = find(self.docs, "Service", "adanns")
        self.assertEqual(service["spec"]["selector"], router["spec"]["selector"]["matchLabels"])
        self.assertEqual(flags(container(router)["args"])["role"], "router")
        self.assertEqual(flags(container(router)["args"])["cluster"],
                         flags(container(find(self.docs, "StatefulSet", "adanns-data"))["args"])["cluster"])
        for workload in [router, find(self.docs, "StatefulSet", "adanns-data")]:
            probes = container(workload)
            for probe in ("readinessProbe", "livenessProbe"):
                self.assertEqual(probes[probe]["grpc"]["port"], 50051, workload["metadata"]["name"])
        # A data pod is ready once its shard copies are back in sync (the PDB then lets the next
        # pod go); the server's own status stays its liveness.
        data = container(find(self.docs, "StatefulSet", "adanns-data"))
        self.assertEqual(data["readinessProbe"]["grpc"]["service"], "adanns.copies_in_sync")
        self.assertNotIn("service", data["livenessProbe"]["grpc"])

    def test_shards_are_replicated_and_stay_writable_through_an_upgrade(self):
        router = flags(container(find(self.docs, "Deployment", "adanns-router"))["args"])
        replicas = int(router["default_replicas"])
        self.assertGreaterEqual(replicas, 3)  # a write survives a lost copy; one pod may be away
        data = find(self.docs, "StatefulSet", "adanns-data")
        self.assertGreaterEqual(data["spec"]["replicas"], replicas)  # copies on distinct pods
        args = flags(container(data)["args"])
        # A dead follower is dropped from the in-sync set before its lease would expire.
        ack_ms = int(args["replication_ack_timeout_ms"])
        self.assertGreater(ack_ms, 0)
        self.assertLess(ack_ms, int(args["lease_seconds"]) * 1000)
        self.assertFalse(int(args["wal_retention_seconds"]) == 0 and int(args["wal_retention_mb"]) == 0)
        # Drains and upgrades: one pod at a time, which leaves every shard min_in_sync copies.
        pdb = find(self.docs, "PodDisruptionBudget", "adanns-data")
        self.assertNotIn("minAvailable", pdb["spec"])
        self.assertEqual(pdb["spec"]["maxUnavailable"], replicas - min_in_sync(replicas))
        self.assertEqual(pdb["spec"]["maxUnavailable"], 1)
        self.assertEqual(pdb["spec"]["selector"], data["spec"]["selector"])
        self.assertEqual(data["spec"].get("updateStrategy", {}).get("type", "RollingUpdate"),
                         "RollingUpdate")
        self.assertNotIn("maxUnavailable", data["spec"].get("updateStrategy", {}).get("rollingUpdate", {}))
        self.assertGreater(data["spec"].get("minReadySeconds", 0), 0)  # time to rejoin in sync

    def test_network_policies_close_etcd_and_the_data_port(self):
        etcd = find(self.docs, "NetworkPolicy", "adanns-etcd")
        allowed = etcd["spec"]["ingress"][0]["from"][0]["podSelector"]["matchExpressions"][0]
        self.assertEqual(set(allowed["values"]), {"adanns-etcd", "adanns-data", "adanns-router"})
        data = find(self.docs, "NetworkPolicy", "adanns-data")
        self.assertEqual(data["spec"]["podSelector"]["matchLabels"], {"app": "adanns-data"})
        grpc_rule = data["spec"]["ingress"][0]
        sources = [peer["podSelector"]["matchLabels"] for peer in grpc_rule["from"]]
        # Routers, and data nodes: a follower streams its primary's WAL over ShardService.
        self.assertEqual(sources, [
            find(self.docs, "Deployment", "adanns-router")["spec"]["selector"]["matchLabels"],
            find(self.docs, "StatefulSet", "adanns-data")["spec"]["selector"]["matchLabels"]])
        self.assertEqual([p["port"] for p in grpc_rule["ports"]], [50051])

    def test_mounted_secrets_are_named_consistently(self):
        names = set()
        for kind, name in [("StatefulSet", "adanns-data"), ("Deployment", "adanns-router")]:
            for volume in find(self.docs, kind, name)["spec"]["template"]["spec"]["volumes"]:
                if "secret" in volume:
                    names.add(volume["secret"]["secretName"])
        self.assertEqual(names, {"adanns-cluster-key", "adanns-api-keys"})
        with open(f"{K8S_DIR}/kustomization.yaml") as f:
            text = f.read()
        for name in names:
            self.assertIn(f"secret generic {name}", text, "the setup comment creates it")


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1], verbosity=2)
