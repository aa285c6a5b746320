#!/usr/bin/env bash
# scripts/test.sh — build with warnings as errors and run the whole test suite under the Khronos
# validation layer with synchronization validation (the tests turn it on themselves).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh --test
cmake -S . -B build-test -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVKG_WERROR=ON >/dev/null
cmake --build build-test -j"$(nproc)"
ctest --test-dir build-test --output-on-failure -j2 --timeout 900 -LE long
