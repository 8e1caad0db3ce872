#!/usr/bin/env bash
# Write-path benchmarks of issue 19, each repeated REPS times on a fresh server (loopback):
#   ingest  - dd's synced write bandwidth (1 GiB, conv=fdatasync, in the data folder), then
#             `adanns ingest` of DATA/base.npy; prints both and the ratio, interleaved.
#   mixed   - adanns-serve-load's mixed mode with the default index (searches alone, then under a
#             stream of 1000-vector upserts).
#   python  - `adanns ingest` of DATA/base.npy, then the Python client's upsert of the same array
#             (client/python, Debian's python3), each on a fresh server.
# Usage: bench/scripts/write_path.sh ingest|mixed|python DATA [REPS=3]   (DATA from
#        `adanns-bench prepare`)
# Env: BUILD (default ./build), WORK (scratch folder on the disk under test, default /tmp/adanns-wp),
#      PORT (default 50071), METRICS_PORT (default 9465), SERVER_FLAGS (extra adanns-server flags,
#      e.g. "--recall_check_fraction 0"), CREATE_FLAGS (extra `adanns collection create` flags of
#      the ingest mode, e.g. "--resident-dims 64").
set -euo pipefail
mode=${1:?ingest or mixed}
data=${2:?prepared data folder}
reps=${3:-3}
build=${BUILD:-./build}
work=${WORK:-/tmp/adanns-wp}
port=${PORT:-50071}
metrics_port=${METRICS_PORT:-9465}
cli="$build/client/adanns --server 127.0.0.1:$port"
mkdir -p "$work"
# shellcheck source=bench/scripts/server_process.sh
source "$(dirname "$0")/server_process.sh"

start_server() {
  stop_server
  rm -rf "$work/data"
  "$build/server/adanns-server" --data_dir "$work/data" --listen "127.0.0.1:$port" \
    --metrics_listen "127.0.0.1:$metrics_port" ${SERVER_FLAGS:-} > "$work/server.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 100); do
    grep -q listening "$work/server.log" && return 0
    sleep 0.1
  done
  echo "server did not start; see $work/server.log" >&2
  exit 1
}

dim=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['dim'])" "$data/info.json")
for rep in $(seq "$reps"); do
  case "$mode" in
    ingest)
      dd_line=$(dd if=/dev/zero of="$work/dd.bin" bs=1M count=1024 conv=fdatasync 2>&1 | tail -1)
      rm -f "$work/dd.bin"
      # dd prints "... 493 MB/s" or "... 1.1 GB/s".
      dd_mbs=$(awk '{v = $(NF-1); if ($NF == "GB/s") v *= 1000; print v}' <<< "$dd_line")
      start_server
      $cli collection create wp --dim "$dim" --metric l2 ${CREATE_FLAGS:-} > /dev/null
      line=$($cli ingest --collection wp "$data/base.npy" 2>&1 | tail -1)
      vps=$(sed -E 's/.*\(([0-9]+) vectors\/s\).*/\1/' <<< "$line")
      awk -v r="$rep" -v dd="$dd_mbs" -v v="$vps" -v d="$dim" 'BEGIN {
        mbs = v * d * 4 / 1e6
        printf "rep %d: dd %s MB/s; ingest %s vectors/s = %.1f MB/s = %.0f%% of dd\n", r, dd, v, mbs, 100 * mbs / dd }'
      ;;
    mixed)
      start_server
      "$build/bench/adanns-serve-load" --server "127.0.0.1:$port" --data "$data" --build default \
        --index "" --concurrency 1 --seconds 3 --mixed-seconds 30 \
        --json "$work/mixed_rep$rep.json" > "$work/mixed_rep$rep.txt" 2>&1
      echo "rep $rep"
      grep -A4 "^mixed load" "$work/mixed_rep$rep.txt" | tail -4
      grep "search p99 under" "$work/mixed_rep$rep.txt"
      ;;
    python)
      start_server
      $cli collection create wp --dim "$dim" --metric l2 > /dev/null
      line=$($cli ingest --collection wp "$data/base.npy" 2>&1 | tail -1)
      cli_vps=$(sed -E 's/.*\(([0-9]+) vectors\/s\).*/\1/' <<< "$line")
      start_server
      py_vps=$(PYTHONPATH=client/python /usr/bin/python3 - "$port" "$data/base.npy" <<'PY'
import sys, time
import numpy as np
import adanns
rows = np.load(sys.argv[2])
with adanns.Client(f"127.0.0.1:{sys.argv[1]}") as client:
    client.create_collection("wp", rows.shape[1], "l2")
    start = time.monotonic()  # as the CLI's rate: from the first message to the last commit
    count = client.upsert("wp", range(len(rows)), rows)
    print(f"{count / (time.monotonic() - start):.0f}")
PY
)
      awk -v r="$rep" -v c="$cli_vps" -v p="$py_vps" 'BEGIN {
        printf "rep %d: cli %s vectors/s, python %s vectors/s = %.0f%% of the cli\n", r, c, p, 100 * p / c }'
      ;;
    *)
      echo "mode must be ingest, mixed or python" >&2
      exit 2
      ;;
  esac
done
