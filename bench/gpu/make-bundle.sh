#!/usr/bin/env bash
# Builds adanns-gpu and batch_scorer_test and copies them, with the Debian shared libraries they
# need (never the CUDA ones: the device has its own), into .bundle/ for the device tool to carry:
#   bench/gpu/make-bundle.sh && run(carry=[".bundle"], command="bench/gpu/run-on-device.sh")
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${BUILD_DIR:-build}
cmake --build "$build" --target adanns-gpu batch_scorer_test
rm -rf .bundle && mkdir -p .bundle/lib
cp "$build/bench/gpu/adanns-gpu" "$build/tests/index/batch_scorer_test" .bundle/
for binary in .bundle/adanns-gpu .bundle/batch_scorer_test; do
  ldd "$binary" | awk '/=> \// {print $3}' | while read -r lib; do
    case "$(basename "$lib")" in
      libcublas* | libcudart* | libc.so* | libm.so* | libdl.so* | librt.so* | libpthread.so* | \
        libgcc_s.so* | libstdc++.so* | ld-linux*) ;;
      *) cp -L -n "$lib" .bundle/lib/ ;;
    esac
  done
done
du -sh .bundle
