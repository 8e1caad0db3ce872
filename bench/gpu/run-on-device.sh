#!/usr/bin/env bash
# Runs on the GPU machine (device tool) with .bundle/ carried: agreement checks, the GPU tests,
# the scan / k-means benchmark, and the torch baseline in the same run. Writes JSON under $OUT.
#   ADANNS_BENCH_ROWS (default 1000000) sets the scan benchmark's row count.
set -uo pipefail
cd "$(dirname "$0")/../.."
out=${OUT:-/tmp/adanns-gpu-out}
mkdir -p "$out"
export LD_LIBRARY_PATH="$PWD/.bundle/lib:${LD_LIBRARY_PATH:-}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/nvidia-smi.txt"
status=0
echo "== agreement checks"
.bundle/adanns-gpu check --json "$out/check.json" 2> "$out/check.log" || status=1
tail -n 5 "$out/check.log"; grep -c '^PASS' "$out/check.log"; grep '^FAIL' "$out/check.log"
echo "== batch_scorer_test"
.bundle/batch_scorer_test --gtest_output="json:$out/batch_scorer_test.json" 2>&1 | tail -n 5 ||
  status=1
echo "== scan and k-means benchmark"
.bundle/adanns-gpu bench --rows "${ADANNS_BENCH_ROWS:-1000000}" --cpu-kmeans \
  --json "$out/bench.json" 2>&1 | tee "$out/bench.log" || status=1
echo "== torch baseline"
python3 bench/gpu/torch_baseline.py --rows "${ADANNS_BENCH_ROWS:-1000000}" \
  --json "$out/torch.json" 2>&1 | tee "$out/torch.log" || status=1
exit $status
