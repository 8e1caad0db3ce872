#!/usr/bin/env bash
# A cluster on this machine, for trying cluster mode and for tests: etcd, N data nodes and a
# router, all on loopback, data and logs under ./cluster-data (CLUSTER_DATA to move it).
#   deploy/cluster-local.sh [N]        (default N = 3; needs a build: deploy/serve.sh or cmake)
# Then point the CLI at the router, e.g.
#   ./build/client/adanns --server 127.0.0.1:50051 collection create docs --dim 784 --metric l2 --shards 6
# Ctrl-C (or SIGTERM) stops the router, then the data nodes (each leaves the cluster at once),
# then etcd. Run it again to start the same cluster on the same data.
# Ports (environment): ROUTER_PORT (50051), DATA_BASE_PORT (50060: node i listens on base + i),
# CLUSTER_ETCD_PORT (2379), CLUSTER_ETCD_PEER_PORT (2380) (not ETCD_*: etcd reads those as its
# own flags). CLUSTER_NAME (local) is the etcd key prefix.
# DEFAULT_REPLICAS (1): the router's --default_replicas, the copies of every shard (on distinct
# data nodes) of a collection created without --replicas; 1..5 and at most N. E.g.
#   DEFAULT_REPLICAS=3 deploy/cluster-local.sh 3    (a shard stays writable with one node down)
set -euo pipefail
cd "$(dirname "$0")/.."

nodes=${1:-3}
if ! [[ "$nodes" =~ ^[0-9]+$ ]] || [ "$nodes" -lt 1 ] || [ "$nodes" -gt 32 ]; then
  echo "usage: deploy/cluster-local.sh [N]   (1 <= N <= 32 data nodes)" >&2
  exit 2
fi
default_replicas=${DEFAULT_REPLICAS:-1}
if ! [[ "$default_replicas" =~ ^[0-9]+$ ]] || [ "$default_replicas" -lt 1 ] ||
  [ "$default_replicas" -gt 5 ] || [ "$default_replicas" -gt "$nodes" ]; then
  echo "DEFAULT_REPLICAS=$default_replicas: must be in 1..5 and at most the $nodes data nodes" >&2
  exit 2
fi
root=${CLUSTER_DATA:-./cluster-data}
router_port=${ROUTER_PORT:-50051}
data_base_port=${DATA_BASE_PORT:-50060}
etcd_client_port=${CLUSTER_ETCD_PORT:-2379}
etcd_peer_port=${CLUSTER_ETCD_PEER_PORT:-2380}
cluster=${CLUSTER_NAME:-local}
server=${ADANNS_SERVER:-./build/server/adanns-server}
etcd_bin=$(command -v etcd || true)
etcdctl_bin=$(command -v etcdctl || true)
[ -x "$server" ] || { echo "no $server: build first (deploy/serve.sh, or cmake)" >&2; exit 1; }
[ -n "$etcd_bin" ] && [ -n "$etcdctl_bin" ] ||
  { echo "no etcd/etcdctl: run deploy/install-deps.sh (Debian etcd-server, etcd-client)" >&2; exit 1; }

mkdir -p "$root/logs"
pids=()
stop_all() {
  trap - INT TERM EXIT
  # Reverse start order: the router first, etcd last (data nodes leave the cluster through it).
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill -TERM "${pids[i]}" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "${pids[i]}" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "${pids[i]}" 2>/dev/null || true
  done
  echo "cluster stopped"
}
# A signal stops everything and ends the script (bash would otherwise resume where it was).
trap 'stop_all; exit 130' INT
trap 'stop_all; exit 143' TERM
trap stop_all EXIT

# wait_for_port PORT NAME: bounded (30 s) wait until something accepts on 127.0.0.1:PORT.
wait_for_port() {
  for _ in $(seq 1 300); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "$2 did not listen on 127.0.0.1:$1 within 30 s (see $root/logs)" >&2
  exit 1
}

etcd_url="http://127.0.0.1:$etcd_client_port"
peer_url="http://127.0.0.1:$etcd_peer_port"
"$etcd_bin" --name=local --data-dir="$root/etcd" --listen-client-urls="$etcd_url" \
  --advertise-client-urls="$etcd_url" --listen-peer-urls="$peer_url" \
  --initial-advertise-peer-urls="$peer_url" --initial-cluster="local=$peer_url" \
  --log-level=warn > "$root/logs/etcd.log" 2>&1 &
pids+=($!)
wait_for_port "$etcd_client_port" etcd

# No data node runs yet: records left by an unclean stop (alive until their lease ends) must not
# count as this start's registrations below.
ETCDCTL_API=3 "$etcdctl_bin" --endpoints="127.0.0.1:$etcd_client_port" del --prefix \
  "/$cluster/nodes/" > /dev/null
cluster_flags=(--etcd="127.0.0.1:$etcd_client_port" --cluster="$cluster" --metrics_listen=)
for ((i = 1; i <= nodes; i++)); do
  port=$((data_base_port + i))
  "$server" --role=data "${cluster_flags[@]}" --node_id="data$i" --listen="127.0.0.1:$port" \
    --data_dir="$root/data$i" --snapshot_dir="$root/snapshots" > "$root/logs/data$i.log" 2>&1 &
  pids+=($!)
done
for ((i = 1; i <= nodes; i++)); do wait_for_port $((data_base_port + i)) "data node $i"; done
# Serving is not enough: a node is routed to once its record is in etcd (a restarted node may
# wait out its previous lease first).
registered=0
for _ in $(seq 1 300); do
  registered=$(ETCDCTL_API=3 "$etcdctl_bin" --endpoints="127.0.0.1:$etcd_client_port" \
    get --prefix "/$cluster/nodes/" --keys-only 2>/dev/null | grep -c . || true)
  [ "$registered" -ge "$nodes" ] && break
  sleep 0.1
done
[ "$registered" -ge "$nodes" ] ||
  { echo "only $registered of $nodes data nodes registered in etcd within 30 s (see $root/logs)" >&2; exit 1; }
"$server" --role=router "${cluster_flags[@]}" --listen="127.0.0.1:$router_port" \
  --default_replicas="$default_replicas" --data_dir="$root/router" > "$root/logs/router.log" 2>&1 &
pids+=($!)
wait_for_port "$router_port" router

echo "cluster '$cluster' up: router 127.0.0.1:$router_port, $nodes data nodes on 127.0.0.1:$((data_base_port + 1))-$((data_base_port + nodes)), etcd $etcd_url, default replicas $default_replicas"
echo "data and logs under $root; Ctrl-C stops everything"
# Until a signal, or until any process exits (then everything stops and the script fails).
while true; do
  for pid in "${pids[@]}"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "process $pid exited (see $root/logs); stopping the cluster" >&2
      exit 1
    fi
  done
  sleep 1
done
