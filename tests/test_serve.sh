#!/bin/sh
# tests/test_serve.sh — `vkgpt serve` end to end (issue 14): curl against the built server
# (tests/serve_e2e.py), then the official OpenAI client for Node (tests/serve_openai_client.mjs).
# Usage: test_serve.sh path/to/vkgpt SOURCE_DIR BUILD_DIR [--load]
# Exit 77 (ctest: skipped) when there is no Vulkan device, no GPT-2 tokenizer files, no curl or no
# python3 — unless CI=true, where each of those is a failure. The Node part alone is skipped (and
# says SKIPPED) without node/npm or when npm cannot install the client, again except under CI=true.
set -u
VKGPT=${1:?usage: test_serve.sh path/to/vkgpt SOURCE_DIR BUILD_DIR [--load]}
SRC=${2:?source dir}
BUILD=${3:?build dir}
MODE=${4:-}
# The GPT-2 tokenizer the build unpacks (tests/data/gpt2-tokenizer.tar.xz), else ../shared's.
TOK="${VKG_TEST_GPT2_DIR:-$3/tests/data/gpt2-tokenizer}"
[ -f "$TOK/vocab.json" ] || TOK="$SRC/../shared/gpt2-tokenizer"

skip() {
    [ "${CI:-}" = "true" ] && { echo "FAIL: $1 (CI=true)"; exit 1; }
    echo "SKIP: $1"; exit 77
}
command -v curl >/dev/null 2>&1 || skip "no curl"
command -v python3 >/dev/null 2>&1 || skip "no python3"
[ -f "$TOK/vocab.json" ] || skip "no GPT-2 tokenizer files in $TOK"
"$VKGPT" devices >/dev/null 2>&1 || skip "no Vulkan device"

if [ "$MODE" = "--load" ]; then
    exec python3 "$SRC/tests/serve_e2e.py" "$VKGPT" "$TOK" --load
fi
# serve_e2e.py leaves its `vkgpt run` reference texts for the Node part
export SERVE_REFS="$BUILD/serve-refs.json"
rm -f "$SERVE_REFS"
python3 "$SRC/tests/serve_e2e.py" "$VKGPT" "$TOK" || exit 1

# The official OpenAI client for Node, installed into the build tree once.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    [ "${CI:-}" = "true" ] && { echo "FAIL: no node/npm (CI=true)"; exit 1; }
    echo "SKIPPED: the OpenAI Node client part (no node/npm)"; exit 77
fi
NPMDIR="$BUILD/serve-npm"
if [ ! -d "$NPMDIR/node_modules/openai" ]; then
    if ! npm install --prefix "$NPMDIR" --no-audit --no-fund --silent openai@4 >"$BUILD/serve-npm.log" 2>&1; then
        [ "${CI:-}" = "true" ] && { echo "FAIL: npm install openai@4 (CI=true)"; cat "$BUILD/serve-npm.log"; exit 1; }
        echo "SKIPPED: the OpenAI Node client part (npm install openai@4 failed; see $BUILD/serve-npm.log)"; exit 77
    fi
fi
NODE_PATH="$NPMDIR/node_modules" exec node "$SRC/tests/serve_openai_client.mjs" "$VKGPT" "$TOK" "$NPMDIR/node_modules"
