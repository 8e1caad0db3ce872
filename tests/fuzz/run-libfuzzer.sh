#!/usr/bin/env bash
# Builds the fuzz targets with clang-14 and libFuzzer (ASan + UBSan) in build-fuzz/ and runs each
# for a bounded time. Crashers are written to build-fuzz/crashes/<target>/; add each to
# tests/fuzz/corpus/<target>/ once fixed, so the quick replay tests keep it fixed.
#   tests/fuzz/run-libfuzzer.sh [SECONDS_PER_TARGET (default 60, or $FUZZ_SECONDS; 0 = build
#                               only)] [TARGET...]
# Env: FUZZ_JOBS (build parallelism, default 2), FUZZ_NICE (nice level, default 19).
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
seconds="${1:-${FUZZ_SECONDS:-60}}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(ivf_blob_fuzzer hnsw_blob_fuzzer opq_blob_fuzzer calibration_blob_fuzzer request_fuzzer)
fi
build="$root/build-fuzz"
nice_level="${FUZZ_NICE:-19}"

sanitize="-fsanitize=fuzzer-no-link,address,undefined"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 \
  -DCMAKE_C_FLAGS="$sanitize" -DCMAKE_CXX_FLAGS="$sanitize -fno-omit-frame-pointer" \
  -DADANNS_BUILD_FUZZERS=ON -DADANNS_BUILD_BENCH=OFF -DADANNS_WITH_CUDA=OFF >/dev/null
nice -n "$nice_level" ninja -C "$build" -j "${FUZZ_JOBS:-2}" "${targets[@]}"
[ "$seconds" = 0 ] && exit 0  # libFuzzer reads 0 as "no limit"

status=0
for target in "${targets[@]}"; do
  crashes="$build/crashes/$target"
  work="$build/corpus/$target"  # new inputs libFuzzer finds; the checked-in seeds stay read-only
  mkdir -p "$crashes" "$work"
  echo "== $target: ${seconds}s"
  # Leak checks off: the fuzz world is built once and kept on purpose. UBSan halts on any report
  # but the suppressed ones (ubsan.supp).
  if ! ASAN_OPTIONS=detect_leaks=0 \
      UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:suppressions=$root/tests/fuzz/ubsan.supp" \
      nice -n "$nice_level" "$build/tests/fuzz/$target" -max_total_time="$seconds" \
      -artifact_prefix="$crashes/" -print_final_stats=1 "$work" \
      "$root/tests/fuzz/corpus/$target" 2>"$build/$target.log"; then
    status=1
    echo "!! $target failed; crashers in $crashes:" && ls "$crashes"
  fi
  grep -E "^(stat::number_of_executed_units|stat::average_exec_per_sec|stat::peak_rss_mb)" \
    "$build/$target.log" || tail -5 "$build/$target.log"
done
exit $status
