#!/usr/bin/env bash
# The test command: installs dependencies, builds (Release), runs the quick suite
# (ctest -LE long). `./tests/run.sh --long` runs every test, long ones included.
set -euo pipefail
cd "$(dirname "$0")/.."

ctest_label_args=(-LE long)
if [ "${1:-}" = "--long" ]; then
  ctest_label_args=()
fi

./deploy/install-deps.sh
jobs=$(nproc)
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build build -j "$jobs"
ctest --test-dir build --output-on-failure -j "$jobs" --timeout 900 "${ctest_label_args[@]}"
