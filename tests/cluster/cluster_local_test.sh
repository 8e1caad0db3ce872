#!/usr/bin/env bash
# deploy/cluster-local.sh end to end: 2 data nodes and a router (DEFAULT_REPLICAS=2) come up on
# free loopback ports, the CLI creates a 4-shard collection through the router with --replicas 1
# and ingests 500 vectors, `describe` shows the shards on both nodes (no replica columns); a
# collection created without --replicas gets the router's 2 copies, and `describe` shows each
# shard's epoch, copies and in-sync set; SIGTERM stops every process; a second start on the same
# data serves the same vectors. Every wait is bounded.
#   cluster_local_test.sh SOURCE_DIR SERVER_BIN CLI_BIN
set -euo pipefail
source_dir=$1
server=$2
cli=$3
work=$(mktemp -d)
script_pid=""
cleanup() {
  [ -n "$script_pid" ] && kill -TERM "$script_pid" 2>/dev/null && wait "$script_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  tail -n 20 "$work"/cluster.out "$work"/data/logs/*.log >&2 2>/dev/null || true
  exit 1
}

# Ports that were free a moment ago; data nodes use DATA_BASE_PORT + 1 and + 2.
read -r router_port etcd_client etcd_peer data_base < <("$source_dir/bench/scripts/free_ports.py" 4)

start_cluster() {
  ROUTER_PORT=$router_port CLUSTER_ETCD_PORT=$etcd_client CLUSTER_ETCD_PEER_PORT=$etcd_peer \
    DATA_BASE_PORT=$data_base CLUSTER_DATA=$work/data ADANNS_SERVER=$server DEFAULT_REPLICAS=2 \
    "$source_dir/deploy/cluster-local.sh" 2 > "$work/cluster.out" 2>&1 &
  script_pid=$!
  for _ in $(seq 1 600); do
    grep -q "cluster 'local' up" "$work/cluster.out" && return 0
    kill -0 "$script_pid" 2>/dev/null || fail "cluster-local.sh exited during start-up"
    sleep 0.1
  done
  fail "cluster-local.sh did not report the cluster up within 60 s"
}

stop_cluster() {
  kill -TERM "$script_pid"
  for _ in $(seq 1 300); do
    kill -0 "$script_pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$script_pid" 2>/dev/null && fail "cluster-local.sh still running 30 s after SIGTERM"
  wait "$script_pid" 2>/dev/null || true
  script_pid=""
  grep -q "cluster stopped" "$work/cluster.out" || fail "no 'cluster stopped'"
  for port in "$router_port" "$etcd_client" $((data_base + 1)) $((data_base + 2)); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      fail "something still listens on $port after the stop"
    fi
  done
}

run_cli() { "$cli" --server "127.0.0.1:$router_port" "$@"; }

start_cluster
python3 - "$work/v.fvecs" <<'PY'
import random, struct, sys
random.seed(7)
with open(sys.argv[1], "wb") as out:
    for _ in range(500):
        out.write(struct.pack("<i", 8) + struct.pack("<8f", *(random.gauss(0, 1) for _ in range(8))))
PY
run_cli collection create docs --dim 8 --metric l2 --shards 4 --replicas 1 > "$work/create.out" ||
  fail "create: $(cat "$work/create.out")"
run_cli ingest --collection docs "$work/v.fvecs" > "$work/ingest.out" 2>&1 ||
  fail "ingest: $(cat "$work/ingest.out")"
run_cli collection describe docs > "$work/describe.out" || fail "describe failed"
grep -q "^vectors: *500$" "$work/describe.out" || fail "not 500 vectors: $(cat "$work/describe.out")"
[ "$(grep -c "serving" "$work/describe.out")" -eq 4 ] || fail "not 4 serving shards"
grep -q " data1 " "$work/describe.out" && grep -q " data2 " "$work/describe.out" ||
  fail "shards not on both nodes: $(cat "$work/describe.out")"
grep -q "REPLICAS" "$work/describe.out" && fail "--replicas 1 made copies: $(cat "$work/describe.out")"

# describe_copies OUT: waits (bounded) until both shards of `copies` are serving with both nodes
# in sync: "SHARD PRIMARY serving VECTORS EPOCH dataA,dataB dataA,dataB" (either order, primary
# first).
describe_copies() {
  local pattern="^ +[01] +data[12] +serving +[0-9]+ +[1-9][0-9]* +(data1,data2|data2,data1) +(data1,data2|data2,data1)$"
  for _ in $(seq 1 300); do
    run_cli collection describe copies > "$1" || fail "describe copies failed"
    [ "$(grep -cE "$pattern" "$1")" -eq 2 ] && return 0
    sleep 0.1
  done
  fail "copies: not 2 shards with 2 copies in sync: $(cat "$1")"
}
# No --replicas: the router's --default_replicas (DEFAULT_REPLICAS=2), a copy on each node.
run_cli collection create copies --dim 8 --metric l2 --shards 2 > "$work/create.out" ||
  fail "create copies: $(cat "$work/create.out")"
run_cli ingest --collection copies "$work/v.fvecs" > "$work/ingest.out" 2>&1 ||
  fail "ingest copies: $(cat "$work/ingest.out")"
describe_copies "$work/describe.out"
grep -qE "^shards: +SHARD +PRIMARY +STATE +VECTORS +EPOCH +REPLICAS +IN-SYNC$" "$work/describe.out" ||
  fail "no replica columns: $(cat "$work/describe.out")"
grep -q "^vectors: *500$" "$work/describe.out" || fail "copies: not 500 vectors: $(cat "$work/describe.out")"
stop_cluster

start_cluster  # the same data again
run_cli collection describe docs > "$work/describe.out" || fail "describe after restart failed"
grep -q "^vectors: *500$" "$work/describe.out" || fail "after restart: $(cat "$work/describe.out")"
describe_copies "$work/describe.out"
grep -q "^vectors: *500$" "$work/describe.out" || fail "copies after restart: $(cat "$work/describe.out")"
stop_cluster
echo "PASS: cluster-local.sh started, served 500 vectors over 4 shards and 500 over 2 shards x 2 copies, stopped, restarted"
