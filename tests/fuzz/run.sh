#!/usr/bin/env bash
# tests/fuzz/run.sh TARGET|all SECONDS — build the libFuzzer targets (clang, build-fuzz/) and run
# each for SECONDS of wall time on one core, starting from the committed seed corpus
# (tests/fuzz/corpus/<target>/) plus whatever earlier runs found (build-fuzz/corpus/<target>/,
# not committed). Exits non-zero when a target finds a crash, leak or timeout; the input that
# triggered it is saved as build-fuzz/artifacts/<target>/crash-* (reproduce with
# `build-fuzz/tests/fuzz/<target> FILE`). Prints one summary line per target: executions, seconds.
set -euo pipefail
cd "$(dirname "$0")/../.."
targets=(safetensors gguf config index tokenizer tokenizer_gguf template cli_options serve_request)
which="${1:-all}"
seconds="${2:-60}"
if [ "$which" != all ]; then targets=("$which"); fi
build="${VKG_FUZZ_BUILD:-build-fuzz}"
# The build takes a while (clang, every library source with the fuzzer's instrumentation): say so,
# keep its output in a log, and print the log when it fails.
mkdir -p "$build"
blog="$build/fuzz_build.log"
start=$SECONDS
echo "fuzz: building ${#targets[@]} target(s) with clang in $build/ (output in $blog) ..."
if { [ -f "$build/CMakeCache.txt" ] || CC=clang cmake -S . -B "$build" -DVKG_FUZZ=ON -DVKG_TESTS=OFF \
       -DVKG_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo; } >"$blog" 2>&1 &&
   cmake --build "$build" -j"$(nproc)" --target $(printf 'fuzz_%s ' "${targets[@]}") >>"$blog" 2>&1; then
  echo "fuzz: built in $((SECONDS - start)) s; running each target for $seconds s"
else
  echo "fuzz: the build failed:"
  cat "$blog"
  exit 1
fi
# The fuzz targets are libFuzzer's; leaks are findings (detect_leaks), a hang over 10 s is too.
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:symbolize=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
status=0
for t in "${targets[@]}"; do
  corpus="$build/corpus/$t"
  artifacts="$build/artifacts/$t"
  log="$build/fuzz_$t.log"
  mkdir -p "$corpus" "$artifacts"
  dict=()
  [ -f "tests/fuzz/$t.dict" ] && dict=(-dict="tests/fuzz/$t.dict")
  rc=0
  "$build/tests/fuzz/fuzz_$t" "$corpus" "tests/fuzz/corpus/$t" "${dict[@]}" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
    -artifact_prefix="$artifacts/" -print_final_stats=1 >"$log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  took=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 || true)
  if [ "$rc" -ne 0 ]; then
    echo "fuzz_$t: FAILED (exit $rc) after ${execs:-?} executions; see $log and $artifacts/"
    grep -m5 -E 'ERROR|SUMMARY|runtime error' "$log" || true
    status=1
  else
    echo "fuzz_$t: ${execs:-?} executions in ${took:-$seconds} s, ${cov:-cov ?}, corpus $(ls "$corpus" | wc -l) files"
  fi
done
exit $status
