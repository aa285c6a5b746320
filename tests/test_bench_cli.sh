#!/bin/sh
# tests/test_bench_cli.sh — smoke test of `vkgpt bench kv|gen|ops`: each runs on tiny settings and its
# output must have the documented format (bench/README.md). Timing-insensitive: only the shape of
# the numbers is checked, never their values. Usage errors must exit with status 2.
# Usage: test_bench_cli.sh path/to/vkgpt      (ctest passes the built CLI)
# Exit 77 (ctest: skipped) when there is no Vulkan device, unless CI=true.
set -u
VKGPT=${1:?usage: test_bench_cli.sh path/to/vkgpt}
TMP=$(mktemp -d) || exit 1
trap 'rm -rf "$TMP"' EXIT
FAILS=0

fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
# expect_line FILE REGEX WHAT: some line of FILE matches the extended regex
expect_line() { grep -Eq -- "$2" "$1" || { fail "$3: no line matches /$2/ in:"; sed 's/^/    /' "$1"; }; }
# expect_rc WANT WHAT CMD...: CMD exits with WANT
expect_rc() {
    want=$1; what=$2; shift 2
    "$@" >"$TMP/out" 2>"$TMP/err"; rc=$?
    [ "$rc" = "$want" ] || { fail "$what: exit status $rc, expected $want"; sed 's/^/    /' "$TMP/err"; }
}

if ! "$VKGPT" devices >/dev/null 2>&1; then
    [ "${CI:-}" = "true" ] && { echo "FAIL: no Vulkan device (CI=true)"; exit 1; }
    echo "SKIP: no Vulkan device"; exit 77
fi

# --help and usage errors
expect_rc 0 "bench --help" "$VKGPT" bench --help
expect_line "$TMP/out" '^  kv ' "bench --help lists kv"
expect_line "$TMP/out" '^  ops ' "bench --help lists ops"
for b in kv gen ops; do
    expect_rc 0 "bench $b --help" "$VKGPT" bench "$b" --help
    expect_line "$TMP/out" "^usage: vkgpt bench $b" "bench $b --help"
    expect_rc 2 "bench $b --bogus" "$VKGPT" bench "$b" --bogus
    expect_line "$TMP/err" "unknown option '--bogus'" "bench $b --bogus names the option"
    expect_rc 2 "bench $b --dtype f64" "$VKGPT" bench "$b" --dtype f64
done
expect_rc 2 "bench nope" "$VKGPT" bench nope
expect_rc 2 "bench" "$VKGPT" bench
expect_rc 2 "bench kv --reps 0" "$VKGPT" bench kv --reps 0
expect_rc 2 "bench kv --contexts 9999" "$VKGPT" bench kv --configs gpt-nano --contexts 9999
expect_line "$TMP/err" "9999 is beyond the 2048 positions of gpt-nano" "--contexts 9999 message"
expect_rc 2 "bench kv --configs gpt3" "$VKGPT" bench kv --configs gpt3
expect_line "$TMP/err" "gpt3" "--configs gpt3 message names it"
expect_rc 2 "bench gen -p x" "$VKGPT" bench gen -p x
expect_rc 2 "bench ops --reps" "$VKGPT" bench ops --samples 0

# bench kv: the issue's table, exactly
expect_rc 0 "bench kv" "$VKGPT" bench kv --configs gpt-nano --contexts 8,16 --reps 1 \
    --json "$TMP/kv.json" --plot "$TMP/kv.svg"
cp "$TMP/out" "$TMP/kv.txt"
[ "$(wc -l < "$TMP/kv.txt")" -eq 6 ] || fail "bench kv: expected 6 lines, got $(wc -l < "$TMP/kv.txt")"
[ "$(sed -n 1p "$TMP/kv.txt" | grep -Ec '^device: .+$')" = 1 ] || fail "bench kv line 1 is not 'device: <name>'"
[ "$(sed -n 2p "$TMP/kv.txt" | grep -Ec '^gpt-nano \([0-9]+\.[0-9]M params\)$')" = 1 ] || fail "bench kv line 2"
[ "$(sed -n 3p "$TMP/kv.txt" | grep -Ec '^Context T +no KV \(ms\) +KV \(ms\) +speedup$')" = 1 ] || fail "bench kv header"
[ "$(sed -n 4p "$TMP/kv.txt")" = "--------------------------------------------------" ] || fail "bench kv dashes"
ROW=' +[0-9]+\.[0-9]{2} +[0-9]+\.[0-9]{2} +[0-9]+\.[0-9]{2}x$'
[ "$(sed -n 5p "$TMP/kv.txt" | grep -Ec "^8$ROW")" = 1 ] || fail "bench kv row T=8"
[ "$(sed -n 6p "$TMP/kv.txt" | grep -Ec "^16$ROW")" = 1 ] || fail "bench kv row T=16"
[ $FAILS -eq 0 ] || sed 's/^/    /' "$TMP/kv.txt"
for key in '"device"' '"driver_name"' '"commit"' '"kv_samples_ms"' '"no_kv_samples_ms"' '"context": 16'; do
    grep -q -- "$key" "$TMP/kv.json" || fail "bench kv --json lacks $key"
done
grep -q '^<svg ' "$TMP/kv.svg" && grep -q '</svg>' "$TMP/kv.svg" || fail "bench kv --plot is not an SVG"
[ "$(grep -c '<polyline' "$TMP/kv.svg")" -eq 2 ] || fail "bench kv --plot: expected 2 lines (no KV, KV)"
grep -q 'gpt-nano KV cache' "$TMP/kv.svg" || fail "bench kv --plot: no legend"

# bench gen: pp and tg lines, decode GB/s against the probe
expect_rc 0 "bench gen" "$VKGPT" bench gen --config gpt-nano -p 16 -n 4 --reps 1 --probe-mib 4 --json "$TMP/gen.json"
expect_line "$TMP/out" '^device: .+$' "bench gen device"
expect_line "$TMP/out" '^prefill matmul: (vector \(CPU device\)|tiled|cooperative matrix \(VK_(KHR|NV)_cooperative_matrix\))( \(cooperative matrices off: .+\))?$' "bench gen prefill matmul"
expect_line "$TMP/out" '^pp16 +[0-9]+\.[0-9]{2} ± [0-9]+\.[0-9]{2} +[0-9]+\.[0-9]{3}$' "bench gen pp16"
expect_line "$TMP/out" '^tg4 +[0-9]+\.[0-9]{2} ± [0-9]+\.[0-9]{2} +[0-9]+\.[0-9]{3}$' "bench gen tg4"
expect_line "$TMP/out" '^decode: [0-9]+\.[0-9]{2} GB/s .* = [0-9]+\.[0-9]% of the measured streaming read \([0-9]+\.[0-9]{2} GB/s\)$' "bench gen decode"
grep -q '"tokens_per_s"' "$TMP/gen.json" || fail "bench gen --json lacks tokens_per_s"
grep -q '"prefill_matmul"' "$TMP/gen.json" || fail "bench gen --json lacks prefill_matmul"

# bench ops: peaks, header, one row per op
expect_rc 0 "bench ops" "$VKGPT" bench ops --config gpt-nano --rows 16 --min-time 0 --samples 1 --probe-mib 4 \
    --csv "$TMP/ops.csv" --json "$TMP/ops.json"
cp "$TMP/out" "$TMP/ops.txt"
expect_line "$TMP/ops.txt" '^device: .+$' "bench ops device"
expect_line "$TMP/ops.txt" '^peaks \(measured\): streaming read [0-9]+\.[0-9]{2} GB/s \([0-9]+ MiB buffer\), fp32 FMA [0-9]+\.[0-9] GFLOP/s, dispatch\+barrier [0-9]+\.[0-9]{2} us, empty submit\+wait [0-9]+\.[0-9] us$' "bench ops peaks"
expect_line "$TMP/ops.txt" '^op +shape +disp +time\(us\) +MB +GB/s +%read +GFLOP +GFLOP/s +%fma$' "bench ops header"
NUM='[0-9]+\.[0-9]+'
for op in 'matmul_vec qkv' 'matmul_vec lm_head' 'matmul_tiled down' layernorm 'softmax causal' gelu add embedding \
          kv_store attention_decode attention_prefill argmax; do
    expect_line "$TMP/ops.txt" "^$op +[^ ].* +[0-9]+ +$NUM +$NUM +$NUM +$NUM +($NUM|-) +($NUM|-) +($NUM|-)$" "bench ops row $op"
done
ROWS=$(grep -Ec "^[a-z_]+( [a-z_]+)? .* [0-9]+ +$NUM +$NUM +$NUM +$NUM " "$TMP/ops.txt")
[ "$(($(wc -l < "$TMP/ops.csv") - 1))" -eq "$ROWS" ] || fail "bench ops --csv: $ROWS table rows but $(wc -l < "$TMP/ops.csv") csv lines"
grep -q '"samples_us"' "$TMP/ops.json" && grep -q '"fma_gflops"' "$TMP/ops.json" || fail "bench ops --json content"
expect_rc 1 "bench ops --filter nothing" "$VKGPT" bench ops --config gpt-nano --filter nothing --min-time 0 --samples 1 --probe-mib 4
expect_line "$TMP/err" "no op name contains 'nothing'" "bench ops --filter nothing message"

[ $FAILS -eq 0 ] && echo "test_bench_cli: all checks passed" && exit 0
echo "test_bench_cli: $FAILS check(s) failed"; exit 1
