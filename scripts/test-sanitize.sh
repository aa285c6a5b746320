#!/usr/bin/env bash
# scripts/test-sanitize.sh — build library, CLI and tests with AddressSanitizer + UndefinedBehavior-
# Sanitizer (build-asan/, VKG_SANITIZE=ON) and run the suite with LeakSanitizer on (the environment
# comes from tests/CMakeLists.txt; suppressions: tests/lsan.supp, driver leaks only). Any sanitizer
# report fails its test. Pass ctest arguments to narrow it (e.g. -R test_loader).
#
# By default the whole suite except the `long` label runs, as in scripts/test.sh. CI_SANITIZE_EXCLUDE
# (a ctest regex, unset by default; nothing sets it, .ci/run included) leaves out the tests it
# matches, e.g. to bisect a slow or failing one by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh --test
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVKG_WERROR=ON -DVKG_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$(nproc)"
args=("$@")
if [ ${#args[@]} -eq 0 ]; then
  args=(-LE long)
  [ -n "${CI_SANITIZE_EXCLUDE:-}" ] && args+=(-E "$CI_SANITIZE_EXCLUDE")
fi
ctest --test-dir build-asan --output-on-failure -j2 --timeout 1800 "${args[@]}"
