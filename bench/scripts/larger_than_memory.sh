#!/usr/bin/env bash
# Larger-than-memory run of issue 20: N x DIM synthetic vectors (default 10M x 768, about 31 GB of
# float32, more than a 24 GiB machine's RAM) generated from a seed and streamed to a loopback
# server whose collection keeps only a RESIDENT-dim prefix in RAM; an IVF on that prefix; exact
# ground truth by a streamed pass over the regenerated vectors; then recall@10, QPS and p99 per
# plan (REPEAT interleaved passes, medians and spread). Nothing the size of the collection is ever
# written to a file or held in RAM, except by the server's RocksDB.
#
# Every phase is resumable: rerun the same command after an interruption. A finished phase leaves
# WORK/phases/<phase>.json and is skipped; ingest resumes after its last committed chunk, truth
# from its checkpoint, and a build the server was running resumes with the server.
#
# Usage: bench/scripts/larger_than_memory.sh WORK   (a folder on the disk under test)
# Env (defaults): BUILD=./build N=10000000 DIM=768 SEED=1 QUERIES=1000 RESIDENT=128
#   PRECISION=fp16 NLIST=4096 COARSE=64 TRAIN=524288 PLANS=64:400,128:400,256:400 THREADS=2
#   REPEAT=3 BLOCK_CACHE_MB=256 PORT=0 (0: any free port) MIN_RECALL=0.95 (exit status 1 when no plan reaches it)
set -euo pipefail
work=${1:?work folder}
build=${BUILD:-./build}
n=${N:-10000000}
dim=${DIM:-768}
seed=${SEED:-1}
queries=${QUERIES:-1000}
resident=${RESIDENT:-128}
precision=${PRECISION:-fp16}
nlist=${NLIST:-4096}
coarse=${COARSE:-64}
train=${TRAIN:-524288}
plans=${PLANS:-64:400,128:400,256:400}
threads=${THREADS:-2}
repeat=${REPEAT:-3}
block_cache_mb=${BLOCK_CACHE_MB:-256}
port=${PORT:-0}
min_recall=${MIN_RECALL:-0.95}
scale="$build/bench/adanns-scale"
data_flags=(--n "$n" --dim "$dim" --seed "$seed" --queries "$queries")
target=()
mkdir -p "$work/phases"
# shellcheck source=bench/scripts/server_process.sh
source "$(dirname "$0")/server_process.sh"

# Starts the server on WORK/data (kept across runs) and records how long start-up took. O_DIRECT
# reads keep the page cache out, so the block cache is the only cache of full vectors.
start_server() {
  stop_server
  local start=$SECONDS
  rm -f "$work/port"
  "$build/server/adanns-server" --data_dir "$work/data" --listen "127.0.0.1:$port" \
    --port_file "$work/port" --metrics_listen "" --auto_calibrate=false --direct_reads \
    --block_cache_mb "$block_cache_mb" >> "$work/server.log" 2>&1 &
  server_pid=$!
  # Start-up reads every resident prefix back from RocksDB: minutes at 10M rows.
  for _ in $(seq 36000); do
    if ! kill -0 "$server_pid" 2>/dev/null; then
      echo "server exited; see $work/server.log" >&2
      exit 1
    fi
    if [[ -s "$work/port" ]]; then
      target=(--server "127.0.0.1:$(cat "$work/port")" --collection scale)
      startup_seconds=$((SECONDS - start))
      return 0
    fi
    sleep 0.1
  done
  echo "server did not start; see $work/server.log" >&2
  exit 1
}

# {"rss_mb": ..., "peak_rss_mb": ..., "disk_gb": ...} of the server now.
memory_json() {
  local disk
  disk=$(du -sb "$work/data" | awk '{print $1}')
  awk -v disk="$disk" '/^VmRSS/ {rss = $2} /^VmHWM/ {hwm = $2} END {
    printf "{\"rss_mb\": %.0f, \"peak_rss_mb\": %.0f, \"disk_gb\": %.2f}", rss / 1024, hwm / 1024,
      disk / 1e9 }' "/proc/$server_pid/status"
}

# run_phase NAME COMMAND...: runs the phase unless it is done; its JSON (stdout) plus the
# server's memory afterwards goes to WORK/phases/NAME.json.
run_phase() {
  local name=$1
  shift
  if [[ -f "$work/phases/$name.json" ]]; then
    echo "phase $name: done before, skipped" >&2
    return 0
  fi
  echo "phase $name: $*" >&2
  local out
  out=$("$@")
  printf '{"result": %s, "server": %s}\n' "$out" "$(memory_json)" > "$work/phases/$name.json.tmp"
  mv "$work/phases/$name.json.tmp" "$work/phases/$name.json"
}

start_server
run_phase ingest "$scale" ingest "${data_flags[@]}" "${target[@]}" \
  --resident-dims "$resident" --resident-precision "$precision"
run_phase truth "$scale" truth "${data_flags[@]}" --out "$work/truth"
if [[ ! -f "$work/phases/startup.json" ]]; then
  start_server  # a restart: start-up reads only the resident prefixes
  printf '{"result": {"phase": "startup", "seconds": %d}, "server": %s}\n' "$startup_seconds" \
    "$(memory_json)" > "$work/phases/startup.json"
fi
run_phase build "$scale" build "${target[@]}" --nlist "$nlist" --coarse-dims "$coarse" \
  --search-dims "$resident" --training-sample "$train"
run_phase search "$scale" search "${target[@]}" --truth "$work/truth" --plans "$plans" \
  --threads "$threads" --repeat "$repeat"
"$build/client/adanns" "${target[0]}" "${target[1]}" collection describe scale \
  > "$work/phases/describe.txt"

python3 - "$work" "$n" "$dim" "$min_recall" <<'PY'
import json, os, sys
work, n, dim, min_recall = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
phase = {p: json.load(open(os.path.join(work, "phases", p + ".json")))
         for p in ("ingest", "truth", "startup", "build", "search")}
mem_total = int(next(l.split()[1] for l in open("/proc/meminfo") if l.startswith("MemTotal"))) * 1024
raw = n * dim * 4
print(f"{n} x {dim} float32 = {raw / 1e9:.1f} GB of vectors; machine RAM {mem_total / 2**30:.1f} GiB")
i = phase["ingest"]
print(f"ingest: {i['result']['seconds']:.0f} s this run ({i['result']['vectors_per_s']:.0f} vectors/s, "
      f"{i['result']['mb_per_s']:.0f} MB/s; resumed from row {i['result']['resumed_from']}), "
      f"RSS {i['server']['rss_mb']:.0f} MB (peak {i['server']['peak_rss_mb']:.0f}), "
      f"disk {i['server']['disk_gb']:.1f} GB")
print(f"ground truth: {phase['truth']['result']['seconds']:.0f} s, "
      f"{phase['truth']['result']['full_rescans']} full rescans")
s = phase["startup"]
print(f"restart: {s['result']['seconds']} s to serve, RSS {s['server']['rss_mb']:.0f} MB")
b = phase["build"]
print(f"IVF build: {b['result']['ready_seconds']:.0f} s, RSS after {b['server']['rss_mb']:.0f} MB "
      f"(peak since restart {b['server']['peak_rss_mb']:.0f}), disk {b['server']['disk_gb']:.1f} GB")
best = 0.0
print("nprobe rerank  recall@10  QPS [min-max]        p50 ms  p99 ms [min-max]    fetched/q")
for p in phase["search"]["result"]["points"]:
    best = max(best, p["recall"])
    print(f"{p['nprobe']:6d} {p['rerank_candidates']:6d}  {p['recall']:.4f}     "
          f"{p['qps']:6.1f} [{p['qps_min']:.1f}-{p['qps_max']:.1f}]  {p['p50_us'] / 1e3:6.1f}  "
          f"{p['p99_us'] / 1e3:6.1f} [{p['p99_us_min'] / 1e3:.1f}-{p['p99_us_max'] / 1e3:.1f}]  "
          f"{p['vectors_fetched']:.0f}")
if best < min_recall:
    print(f"FAIL: best recall@10 {best:.4f} < {min_recall}")
    sys.exit(1)
PY
