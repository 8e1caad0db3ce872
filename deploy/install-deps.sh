#!/usr/bin/env bash
# Installs the Debian 12 packages adanns needs to build, test and serve. Idempotent: packages
# already present are skipped, so repeated runs are quick and need no network.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config git ca-certificates curl
  libfaiss-dev libopenblas-dev
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev librocksdb-dev prometheus-cpp-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libhnswlib-dev libhdf5-dev gnuplot-nox
  libcli11-dev libspdlog-dev libfmt-dev
  dataset-fashion-mnist
  python3 python3-grpcio python3-protobuf python3-numpy python3-yaml  # yaml: the k8s manifest check
  python3-venv python3-pip python3-setuptools python3-wheel  # the client package (client/python)
  openssl prometheus
  etcd-server etcd-client  # cluster coordination (cluster/; tests start Debian's etcd binary)
  clang-14 libclang-rt-14-dev  # libFuzzer targets (tests/fuzz/run-libfuzzer.sh)
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
else
  echo "install-deps: installing ${missing[*]}"
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# etcd's v3 protos, from which the build generates the cluster's etcd stubs (cluster/etcd/).
# Debian ships them only inside golang-etcd-server-dev, whose Go dependency tree we do not want:
# download that .deb and extract its three .proto files without installing it.
ETCD_PROTO_DIR=/usr/local/share/adanns/etcd-proto
if [ ! -f "$ETCD_PROTO_DIR/.complete" ]; then
  echo "install-deps: extracting etcd's protos into $ETCD_PROTO_DIR"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  # As root, apt drops to the _apt user for downloads; let it write here.
  chmod 777 "$work"
  if ! (cd "$work" && apt-get download -q golang-etcd-server-dev); then
    $SUDO apt-get update -q
    (cd "$work" && apt-get download -q golang-etcd-server-dev)
  fi
  dpkg-deb -x "$work"/golang-etcd-server-dev_*.deb "$work/tree"
  $SUDO mkdir -p "$ETCD_PROTO_DIR"
  (cd "$work/tree" && find . -path '*/etcdserverpb/rpc.proto' -o -path '*/mvccpb/kv.proto' \
    -o -path '*/authpb/auth.proto') | while read -r proto; do
    $SUDO install -D -m 644 "$work/tree/$proto" "$ETCD_PROTO_DIR/${proto#./usr/share/gocode/src/}"
  done
  $SUDO touch "$ETCD_PROTO_DIR/.complete"
fi
