#!/usr/bin/env bash
# Router overhead (cluster mode): adanns-serve-load against a standalone server and against a
# router over two data nodes (deploy/cluster-local.sh 2, the router's default 4 shards), same
# data (Fashion-MNIST-PCA, 60,000 x 784), same plan (MRL funnel: 32-dim scan, 100 re-ranked at
# 784 dims), REPS interleaved repetitions (standalone, router, standalone, ...); the first
# repetition of each ingests, later ones search the same collection. Everything on loopback on
# this machine: the router, both data nodes, etcd and the client share its cores.
#   bench/scripts/router_overhead.sh OUT_DIR [REPS=3] [SECONDS=8]
# Writes OUT_DIR/{standalone,router}-repN.json (serve-load reports) and OUT_DIR/summary.txt.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=$1
reps=${2:-3}
seconds=${3:-8}
build=${BUILD_DIR:-build}
mkdir -p "$out"
work=$(mktemp -d)
source bench/scripts/server_process.sh
cluster_pid=""
cleanup() {
  stop_server
  if [[ -n "$cluster_pid" ]]; then
    kill -TERM "$cluster_pid" 2>/dev/null || true
    wait "$cluster_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

data=${FMNIST_DIR:-$work/fmnist}
[[ -f "$data/base.npy" ]] || "$build/bench/adanns-bench" prepare fashion-mnist --out "$data" >/dev/null

read -r standalone_port router_port etcd_port etcd_peer data_base < <(bench/scripts/free_ports.py 5)

"$build/server/adanns-server" --listen="127.0.0.1:$standalone_port" --data_dir="$work/standalone" \
  --metrics_listen= --log_level=warn &
server_pid=$!
ROUTER_PORT=$router_port CLUSTER_ETCD_PORT=$etcd_port CLUSTER_ETCD_PEER_PORT=$etcd_peer \
  DATA_BASE_PORT=$data_base CLUSTER_DATA=$work/cluster ADANNS_SERVER=$build/server/adanns-server \
  deploy/cluster-local.sh 2 > "$work/cluster.out" 2>&1 &
cluster_pid=$!
for _ in $(seq 1 600); do
  grep -q "cluster 'local' up" "$work/cluster.out" && break
  sleep 0.1
done
grep -q "cluster 'local' up" "$work/cluster.out" || { cat "$work/cluster.out"; exit 1; }

for ((rep = 1; rep <= reps; rep++)); do
  for target in standalone router; do
    port=$standalone_port
    [[ $target == router ]] && port=$router_port
    skip=()
    ((rep > 1)) && skip=(--skip-ingest)
    echo "== rep $rep: $target (127.0.0.1:$port)"
    "$build/bench/adanns-serve-load" --server "127.0.0.1:$port" --data "$data" \
      --collection fmnist --queries 300 --concurrency 1,4 --seconds "$seconds" --batch 100 \
      --index flat --search-dims 32 --rerank-candidates 100 "${skip[@]}" \
      --json "$out/$target-rep$rep.json" > "$out/$target-rep$rep.txt"
  done
done

python3 - "$out" "$reps" <<'PY' | tee "$out/summary.txt"
import json, statistics, sys
out, reps = sys.argv[1], int(sys.argv[2])
def load(target):
    return [json.load(open(f"{out}/{target}-rep{r}.json")) for r in range(1, reps + 1)]
runs = {t: load(t) for t in ("standalone", "router")}
def stat(values):
    return statistics.median(values), min(values), max(values)
def fmt(values, unit=""):
    m, lo, hi = stat(values)
    return f"{m:.1f}{unit} ({lo:.1f}-{hi:.1f})"
print(f"{reps} interleaved repetitions, Fashion-MNIST-PCA 60,000 x 784, plan: "
      f"{runs['standalone'][0]['meta']['plan']}; median (min-max)")
print(f"recall@10: standalone {runs['standalone'][0]['recall']:.3f}, "
      f"router {runs['router'][0]['recall']:.3f}")
rows = []
for concurrency in (1, 4):
    for field, label in (("p50_us", "p50 us"), ("p99_us", "p99 us"), ("qps", "QPS")):
        values = {t: [next(p for p in r["search"] if p["concurrency"] == concurrency)[field]
                      for r in runs[t]] for t in runs}
        rows.append((f"Search, {concurrency} client(s), {label}", values))
for concurrency in (1, 4):
    for field, label in (("qps", "QPS"), ("p50_batch_us", "p50 us per request")):
        values = {t: [next(p for p in r["search_batch"] if p["concurrency"] == concurrency)[field]
                      for r in runs[t]] for t in runs}
        rows.append((f"SearchBatch of 100, {concurrency} client(s), {label}", values))
print(f"| measure | standalone | router (2 data nodes, 4 shards) | router - standalone (median) |")
print("|---|---|---|---|")
for label, values in rows:
    diff = statistics.median(values["router"]) - statistics.median(values["standalone"])
    print(f"| {label} | {fmt(values['standalone'])} | {fmt(values['router'])} | {diff:+.1f} |")
PY
