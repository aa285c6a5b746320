#!/usr/bin/env bash
# scripts/setup.sh — install missing packages, then configure and build vkgpt (Release) into build/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DVKG_TESTS=OFF >/dev/null
cmake --build build -j"$(nproc)"
