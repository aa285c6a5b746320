#!/usr/bin/env bash
# scripts/deps.sh — install what a Debian 12 machine lacks to build and test vkgpt (apt-get; uses sudo
# when not run as root). Installs nothing when everything is already there.
set -euo pipefail
pkgs=(build-essential cmake pkg-config libvulkan-dev libvulkan-volk-dev glslang-tools libcmocka-dev
      mesa-vulkan-drivers vulkan-validationlayers libjansson-dev libpcre2-dev libutf8proc-dev)
pkgs+=("$@")
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "vkgpt: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
