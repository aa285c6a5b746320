#!/usr/bin/env bash
# scripts/deps.sh [--test] [PACKAGE...] — install what a Debian 12 machine lacks to build vkgpt
# (--test: and to run its tests; further arguments: more packages). Installs nothing when everything
# is there. As root it runs apt-get; otherwise through sudo when there is one; a user without sudo
# (Debian's default when root has a password) is told which packages are missing and the command
# root should run, and the script exits 1. apt's output goes to a log, printed only on failure.
set -euo pipefail
build=(build-essential cmake pkg-config libvulkan-dev libvulkan-volk-dev glslang-tools mesa-vulkan-drivers
       libjansson-dev libpcre2-dev libutf8proc-dev libmicrohttpd-dev)
# The tests also need cmocka, the validation layers, the real Jinja2 (chat templates are checked
# against it) and Node with npm (the server is tested with the official JavaScript client).
test=(libcmocka-dev vulkan-validationlayers python3-jinja2 nodejs npm)
pkgs=("${build[@]}")
if [ "${1:-}" = --test ]; then
  pkgs+=("${test[@]}")
  shift
fi
pkgs+=("$@")

# Node from nodesource (or any other) ships npm inside its nodejs package and conflicts with Debian's
# npm: a command on the PATH counts as installed for these two.
declare -A command_of=([nodejs]=node [npm]=npm)
missing=()
for p in "${pkgs[@]}"; do
  c=${command_of[$p]:-}
  if [ -n "$c" ] && command -v "$c" >/dev/null 2>&1; then continue; fi
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

install="apt-get install -y --no-install-recommends ${missing[*]}"
sudo=()
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "vkgpt: missing Debian packages: ${missing[*]}" >&2
    echo "vkgpt: there is no sudo here; as root (e.g. after 'su -'), run:" >&2
    echo "    apt-get update && $install" >&2
    exit 1
  fi
  sudo=(sudo)
fi
log=$(mktemp "${TMPDIR:-/tmp}/vkgpt-apt.XXXXXX")
echo "vkgpt: installing ${missing[*]} (apt-get; its output goes to $log)"
if "${sudo[@]}" apt-get update -qq >"$log" 2>&1 &&
   "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
     >>"$log" 2>&1; then
  rm -f "$log"
else
  echo "vkgpt: apt-get failed; its output:" >&2
  cat "$log" >&2
  echo "vkgpt: (kept in $log) to install by hand, as root: apt-get update && $install" >&2
  exit 1
fi
