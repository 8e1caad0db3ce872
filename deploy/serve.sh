#!/usr/bin/env bash
# The serve command: installs dependencies, builds the server and CLI, and runs adanns-server on
# 127.0.0.1:50051 with RocksDB under ./data and Prometheus metrics on 127.0.0.1:9464.
# Extra arguments are passed to adanns-server (e.g. --log_level=debug).
set -euo pipefail
cd "$(dirname "$0")/.."

./deploy/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build build -j "$(nproc)" --target adanns-server adanns adanns-bench

cat <<MSG

adanns-server is starting on 127.0.0.1:50051 (data in ./data, metrics on http://127.0.0.1:9464/metrics).
In another terminal:
  ./build/bench/adanns-bench prepare fashion-mnist --out ./fmnist
  ./build/client/adanns collection create fmnist --dim 784 --metric l2
  ./build/client/adanns ingest --collection fmnist ./fmnist/base.npy
  ./build/client/adanns search --collection fmnist --queries-file ./fmnist/queries.npy --limit 3 --k 5
Stop with Ctrl-C (SIGINT) or SIGTERM.

MSG
exec ./build/server/adanns-server --listen=127.0.0.1:50051 --data_dir=./data \
  --metrics_listen=127.0.0.1:9464 "$@"
