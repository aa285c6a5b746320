#!/bin/sh
# scripts/gpu-check.sh tests|bench — what a session lent the GPU machine runs there, in as few device
# minutes as possible (../shared/DEVICE.md: build here, carry the build and .gl, then
#   run: source .gl/prelude.sh; scripts/gpu-check.sh tests     carry: [".gl", "build-gpu"]
# and again with `bench`). Results go to $OUT (what comes back; at most 8 files).
#
#   tests  the test suite without the long label, under the validation layer when .gl carries one
#          (fetch it with `../shared/device/fetch-debs.sh vulkan-validationlayers`), then the matmul
#          and block-format cooperative-matrix tests (test_quant_coopmat) again on the NV shaders
#          (VKG_DISABLE_COOPMAT_KHR=1).
#   bench  devices, `bench ops` (gpt2 shapes, fp16 weights and cache; its matmuls again on q4_k, q8_0
#          and q6_k blocks: ops_quant.txt), `bench gen` (gpt-mini, gpt2, gpt2-xl; fp16 and fp32; then
#          gpt2 with q4_k and q8_0 linear layers, prefill on the block-format cooperative-matrix path
#          and again tiled with VKG_DISABLE_COOPMAT=1), `bench kv` (gpt2, fp16).
#
# BUILD (default build-gpu) names the build folder: a Release build made here with tests on
# (cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release && cmake --build build-gpu -j2). QUICK=1 shrinks
# every benchmark to seconds, to try the script on lavapipe before spending device time.
set -u
what=${1:-}
build=${BUILD:-build-gpu}
out=${OUT:-/tmp/vkgpt-gpu-check}
mkdir -p "$out"
[ -x "$build/vkgpt" ] || { echo "gpu-check: no $build/vkgpt: build first (see the header)" >&2; exit 2; }
layers=/opt/vkdeps/usr/share/vulkan/explicit_layer.d
[ -d "$layers" ] && export VK_LAYER_PATH="$layers"

case "$what" in
tests)
    "$build/vkgpt" devices -v >"$out/devices.txt" 2>&1
    VKG_REQUIRE_DEVICE=1 ctest --test-dir "$build" -LE long -j4 --timeout 500 --output-on-failure \
        >"$out/ctest.txt" 2>&1
    echo "ctest exit $?" >>"$out/ctest.txt"
    VKG_REQUIRE_DEVICE=1 VKG_DISABLE_COOPMAT_KHR=1 "$build/tests/test_matmul" >"$out/test_matmul_nv.txt" 2>&1
    echo "test_matmul (NV) exit $?" >>"$out/test_matmul_nv.txt"
    VKG_REQUIRE_DEVICE=1 VKG_DISABLE_COOPMAT_KHR=1 "$build/tests/test_quant_coopmat" >>"$out/test_matmul_nv.txt" 2>&1
    echo "test_quant_coopmat (NV) exit $?" >>"$out/test_matmul_nv.txt"
    tail -n 3 "$out/ctest.txt" "$out/test_matmul_nv.txt"
    ;;
bench)
    if [ "${QUICK:-0}" = 1 ]; then
        configs="gpt-nano"; qconfig=gpt-nano; gen="-p 16 -n 8 --reps 1 --probe-mib 16"
        kv="--configs gpt-nano --contexts 16,32 --reps 1"; ops="--config gpt-nano --rows 16 --min-time 1 --samples 2 --probe-mib 16"
    else
        configs="gpt-mini gpt2 gpt2-xl"; qconfig=gpt2; gen="-p 512 -n 128 --reps 5"
        kv="--configs gpt2 --contexts 64,256,1024 --reps-no-kv 3"; ops="--config gpt2"
    fi
    "$build/vkgpt" devices -v >"$out/devices.txt" 2>&1
    "$build/vkgpt" bench ops $ops --dtype f16 --kv-dtype f16 --json "$out/ops.json" >"$out/ops.txt" 2>&1
    : >"$out/ops_quant.txt" # the block formats' matmuls: tiled, vector and cooperative-matrix paths
    for q in q4_k q8_0 q6_k; do
        "$build/vkgpt" bench ops $ops --dtype f16 --kv-dtype f16 --quant "$q" --filter matmul >>"$out/ops_quant.txt" 2>&1
    done
    : >"$out/gen.txt"
    for c in $configs; do
        for d in f16 f32; do
            "$build/vkgpt" bench gen --config "$c" --dtype "$d" --kv-dtype "$d" $gen >>"$out/gen.txt" 2>&1
            echo >>"$out/gen.txt"
        done
    done
    for q in q4_k q8_0; do
        for off in 0 1; do
            VKG_DISABLE_COOPMAT=$off "$build/vkgpt" bench gen --config "$qconfig" --dtype f16 --kv-dtype f16 \
                --quant "$q" $gen >>"$out/gen.txt" 2>&1
            echo >>"$out/gen.txt"
        done
    done
    "$build/vkgpt" bench kv $kv --dtype f16 --json "$out/kv.json" >"$out/kv.txt" 2>&1
    grep -E '^(tg|pp)|prefill matmul|model:' "$out/gen.txt"
    ;;
*)
    echo "usage: scripts/gpu-check.sh tests|bench   (see the header)" >&2
    exit 2
    ;;
esac
