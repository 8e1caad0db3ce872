#!/usr/bin/env bash
# Builds adanns-gpu, batch_scorer_test and device_test (the server's GPU mirror over loopback)
# and packs them, stripped, with the Debian shared
# libraries they need into .bundle/adanns-gpu-bundle.tar.xz for the device tool to carry:
#   bench/gpu/make-bundle.sh && run(carry=[".bundle"], command="bench/gpu/run-on-device.sh")
# CUDA's own libraries never travel (cuBLAS alone is 541 MB): run-on-device.sh finds the device's.
# Fails when the archive is over 48 MB (the carried tree may be 64 MiB in all).
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${BUILD_DIR:-build}
limit_bytes=$((48 * 1000 * 1000))
cmake --build "$build" --target adanns-gpu batch_scorer_test device_test
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/lib"
cp "$build/bench/gpu/adanns-gpu" "$build/tests/index/batch_scorer_test" \
  "$build/tests/integration/device_test" "$stage/"
for binary in "$stage/adanns-gpu" "$stage/batch_scorer_test" "$stage/device_test"; do
  ldd "$binary" | awk '/=> \// {print $3}' | while read -r lib; do
    case "$(basename "$lib")" in
      libcublas* | libcudart* | libc.so* | libm.so* | libdl.so* | librt.so* | libpthread.so* | \
        libgcc_s.so* | libstdc++.so* | ld-linux*) ;;
      *) cp -L -n "$lib" "$stage/lib/" ;;
    esac
  done
done
strip --strip-unneeded "$stage"/adanns-gpu "$stage"/batch_scorer_test "$stage"/device_test \
  "$stage"/lib/*
rm -rf .bundle && mkdir -p .bundle
tar -C "$stage" -cJf .bundle/adanns-gpu-bundle.tar.xz .
size=$(stat -c %s .bundle/adanns-gpu-bundle.tar.xz)
echo "bundle: .bundle/adanns-gpu-bundle.tar.xz, $size bytes ($(ls "$stage/lib" | wc -l) libraries)"
tar -tvJf .bundle/adanns-gpu-bundle.tar.xz | awk '{print $3, $6}'
if [ "$size" -gt "$limit_bytes" ]; then
  echo "make-bundle: $size bytes is over the 48 MB limit" >&2
  exit 1
fi
