#!/usr/bin/env bash
# Runs on the GPU machine (device tool) with .bundle/ carried (bench/gpu/make-bundle.sh): the
# agreement and edge checks, the GPU tests (the scorer's, then the server's mirror), the scan / k-means benchmark, and the torch baseline
# in the same run. Every step has a timeout; summary.json under $OUT is rewritten as each step
# ends, so a run cut short still says what finished.
#   ADANNS_BENCH_ROWS (default 1000000) sets the benchmark's row count; ADANNS_DEVICE_QUICK=1 runs
#   only the checks and tests.
set -uo pipefail
cd "$(dirname "$0")/../.."
out=${OUT:-/tmp/adanns-gpu-out}
rows=${ADANNS_BENCH_ROWS:-1000000}
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

steps=()
write_summary() {
  local IFS=,
  printf '{"rows": %s, "steps": [%s]}\n' "$rows" "${steps[*]}" > "$out/summary.json"
}
fail_fast() {
  echo "run-on-device: $1" >&2
  steps+=("{\"step\": \"preflight\", \"rc\": 3, \"error\": \"$1\"}")
  write_summary
  exit 3
}

tar -C "$work" -xJf .bundle/adanns-gpu-bundle.tar.xz || fail_fast "cannot unpack .bundle/adanns-gpu-bundle.tar.xz (run bench/gpu/make-bundle.sh and carry .bundle)"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/nvidia-smi.txt"

# Folders that may hold the device's CUDA libraries: the toolkit's, then those shipped inside
# Python packages (nvidia-cublas-cu*, torch).
cuda_lib_dirs() {
  local dir
  for dir in ${CUDA_HOME:+"$CUDA_HOME/lib64"} /usr/local/cuda/lib64 \
    /usr/local/cuda/targets/x86_64-linux/lib /usr/local/cuda-*/lib64 \
    /usr/local/cuda-*/targets/x86_64-linux/lib /usr/lib/x86_64-linux-gnu; do
    [ -d "$dir" ] && echo "$dir"
  done
  python3 - 2>/dev/null <<'PY'
import glob, os, site, sys
roots = site.getsitepackages() + [site.getusersitepackages()] + sys.path
seen = set()
for root in roots:
    for pattern in ("nvidia/*/lib", "torch/lib"):
        for path in glob.glob(os.path.join(root, pattern)):
            if path not in seen:
                seen.add(path)
                print(path)
PY
}
mapfile -t candidate_dirs < <(cuda_lib_dirs)

# The library path for one binary: the bundle's libraries, plus a folder for every library the
# loader cannot find with those alone (the CUDA ones the bundle does not carry; ldd names them,
# no binutils needed). Fails fast, naming the library, when one is nowhere.
library_path_for() {
  local binary=$1 path="$work/lib" lib dir found pass
  # A library found may need others (libcublas needs libcublasLt): look again, a few passes.
  for pass in 1 2 3; do
    for lib in $(LD_LIBRARY_PATH="$path" ldd "$binary" | awk '/not found/ {print $1}'); do
      found=""
      for dir in "${candidate_dirs[@]}"; do
        if [ -e "$dir/$lib" ]; then
          found=$dir
          break
        fi
      done
      [ -n "$found" ] || fail_fast "$(basename "$binary") needs $lib, found in none of: ${candidate_dirs[*]}"
      case ":$path:" in *":$found:"*) ;; *) path="$path:$found" ;; esac
    done
  done
  local missing
  missing=$(LD_LIBRARY_PATH="$path" ldd "$binary" | awk '/not found/ {print $1}' | tr '\n' ' ')
  [ -z "$missing" ] || fail_fast "$(basename "$binary") cannot load: $missing(LD_LIBRARY_PATH=$path)"
  echo "$path"
}
gpu_path=$(library_path_for "$work/adanns-gpu") || exit 3
test_path=$(library_path_for "$work/batch_scorer_test") || exit 3
server_test_path=$(library_path_for "$work/device_test") || exit 3
echo "adanns-gpu libraries: $gpu_path"
echo "batch_scorer_test libraries: $test_path"
echo "device_test libraries: $server_test_path"

status=0
# run_step NAME SECONDS COMMAND...: runs under a timeout, appends the step to summary.json.
run_step() {
  local name=$1 seconds=$2
  shift 2
  echo "== $name (timeout ${seconds} s)"
  local start rc
  start=$(date +%s.%N)
  timeout --kill-after=10 "$seconds" "$@"
  rc=$?
  [ "$rc" -eq 0 ] || status=1
  local seconds_taken timed_out=false
  seconds_taken=$(awk -v start="$start" -v end="$(date +%s.%N)" 'BEGIN {printf "%.1f", end - start}')
  [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ] && timed_out=true
  steps+=("{\"step\": \"$name\", \"rc\": $rc, \"timed_out\": $timed_out, \"seconds\": $seconds_taken}")
  write_summary
}

run_step check 120 env LD_LIBRARY_PATH="$gpu_path" "$work/adanns-gpu" check \
  --json "$out/check.json" 2> "$out/check.log"
grep -c '^PASS' "$out/check.log"; grep '^FAIL' "$out/check.log"; tail -n 3 "$out/check.log"
run_step test 90 env LD_LIBRARY_PATH="$test_path" "$work/batch_scorer_test" \
  --gtest_output="json:$out/batch_scorer_test.json"
run_step server_test 120 env LD_LIBRARY_PATH="$server_test_path" "$work/device_test" \
  --gtest_output="json:$out/device_test.json"
if [ "${ADANNS_DEVICE_QUICK:-0}" = 1 ]; then
  cat "$out/summary.json"
  exit $status
fi
run_step bench 300 env LD_LIBRARY_PATH="$gpu_path" "$work/adanns-gpu" bench --rows "$rows" \
  --cpu-kmeans --json "$out/bench.json"
run_step torch 240 python3 bench/gpu/torch_baseline.py --rows "$rows" --json "$out/torch.json"
# Nsight Compute on one batched scan (d=256 fp16, batch 256: where the SIMT kernel trails torch
# most), the launch after the warm-up. Where the machine's runtime hides the counters this step
# fails and says so in profile.txt; nothing else depends on it.
ncu_bin=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu /usr/local/cuda/bin/ncu 2>/dev/null | head -n 1)
if [ -n "$ncu_bin" ]; then
  run_step profile 120 env LD_LIBRARY_PATH="$gpu_path" "$ncu_bin" --kernel-name regex:ScanKernel \
    --launch-skip 1 --launch-count 1 --set basic --section MemoryWorkloadAnalysis \
    --section ComputeWorkloadAnalysis --section Occupancy "$work/adanns-gpu" bench \
    --rows "$rows" --dims 256 --batch 256 --dtype fp16 --skip-kmeans > "$out/profile.txt" 2>&1
fi
cat "$out/summary.json"
exit $status
