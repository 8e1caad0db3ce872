#!/usr/bin/env bash
# The house's layering, checked on the include graph of the tree at $1 (default: the repository):
#   base/            includes only the standard library, Abseil and base/ (zlib in blob_io.cc);
#   index/, quant/   never include gRPC, protobuf, RocksDB or prometheus headers, nor storage/,
#                    server/, client/ or the generated proto;
#   storage/, client/ never include index/ or quant/ (their shared words live in base/);
#   cluster/         never includes index/, quant/ or server/ (it routes and coordinates).
# Prints every violation and exits 1 when there is one.
set -uo pipefail
root=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$root" || exit 2
violations=0

# check DIRS PATTERN WHY: every #include line under DIRS matching the extended regex PATTERN.
check() {
  local dirs=$1 pattern=$2 why=$3 found
  # shellcheck disable=SC2086
  found=$(grep -rnE --include='*.h' --include='*.cc' --include='*.cu' --include='*.cuh' \
    "^[[:space:]]*#[[:space:]]*include[[:space:]]*[<\"]($pattern)" $dirs 2>/dev/null)
  if [ -n "$found" ]; then
    echo "layering: $why:"
    echo "$found" | sed 's/^/  /'
    violations=1
  fi
}

for dir in base index quant storage client cluster; do
  [ -d "$dir" ] || { echo "layering: $root has no $dir/"; exit 2; }
done
check "index quant" 'grpc|grpcpp/|google/protobuf|rocksdb/|prometheus/|storage/|server/|client/|adanns/v1/' \
  "index/ and quant/ are pure compute"
check "storage client" 'index/|quant/' "storage/ and client/ take shared words from base/, not index/"
check "cluster" 'index/|quant/|server/' "cluster/ routes and coordinates: no compute, no server internals"
base_bad=$(grep -rnE --include='*.h' --include='*.cc' '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' base |
  grep -vE '#[[:space:]]*include[[:space:]]*"(absl/|base/)')
if [ -n "$base_bad" ]; then
  echo "layering: base/ includes only Abseil and base/:"
  echo "$base_bad" | sed 's/^/  /'
  violations=1
fi
base_system=$(grep -rnE --include='*.h' --include='*.cc' '^[[:space:]]*#[[:space:]]*include[[:space:]]*<[^>]*[/.]' base |
  grep -vE '<zlib\.h>' | grep -E '<(grpc|google|rocksdb|prometheus|faiss|hnswlib|cuda|spdlog)')
if [ -n "$base_system" ]; then
  echo "layering: base/ depends on Abseil only:"
  echo "$base_system" | sed 's/^/  /'
  violations=1
fi
[ "$violations" -eq 0 ] && echo "layering: ok ($root)"
exit "$violations"
