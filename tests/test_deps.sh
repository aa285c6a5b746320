#!/bin/sh
# tests/test_deps.sh — scripts/deps.sh against fake system commands: the script runs with a PATH
# holding only a fake dpkg-query (it reports the packages named in $TMP/missing as not installed),
# a fake id (the user id in $TMP/uid), and, per case, a fake sudo and apt-get that log their
# arguments. Checks: a user without sudo is told the missing packages and root's command (exit 1,
# apt never runs); with sudo, or as root, apt-get installs exactly the missing packages, its output
# kept out of sight unless it fails; nothing missing: silent exit 0.
# Usage: test_deps.sh path/to/scripts/deps.sh
set -u
DEPS=${1:?usage: test_deps.sh path/to/scripts/deps.sh}
BASH=$(command -v bash)
TMP=$(mktemp -d) || exit 1
trap 'rm -rf "$TMP"' EXIT
FAILS=0
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
show() { sed 's/^/    /' "$1"; }

mkdir "$TMP/bin"
# Real tools (those deps.sh may use: mktemp, cat, rm, env, grep); never sudo or apt-get.
for t in mktemp cat rm env grep; do ln -s "$(command -v $t)" "$TMP/bin/$t"; done
cat >"$TMP/bin/dpkg-query" <<EOF
#!$BASH
# dpkg-query -W -f=FORMAT PACKAGE: a package named in missing is unknown, any other installed.
p=\${@: -1}
while read -r m; do
  [ "\$m" = "\$p" ] && { echo "dpkg-query: no packages found matching \$p" >&2; exit 1; }
done <"$TMP/missing"
printf 'install ok installed'
EOF
cat >"$TMP/bin/id" <<EOF
#!$BASH
cat "$TMP/uid"
EOF
fake_sudo() {
    cat >"$TMP/bin/sudo" <<EOF
#!$BASH
echo "sudo \$*" >>"$TMP/calls"
exec "\$@"
EOF
    chmod +x "$TMP/bin/sudo"
}
# fake_apt STATUS: apt-get logs its arguments, prints a lot, exits STATUS.
fake_apt() {
    cat >"$TMP/bin/apt-get" <<EOF
#!$BASH
echo "apt-get \$*" >>"$TMP/calls"
for i in {1..50}; do echo "Selecting previously unselected package \$i"; done
[ "\$1" = update ] || echo "DEBIAN_FRONTEND=\${DEBIAN_FRONTEND:-}" >>"$TMP/calls"
exit $1
EOF
    chmod +x "$TMP/bin/apt-get"
}
chmod +x "$TMP/bin/dpkg-query" "$TMP/bin/id"

# run WANT_STATUS ARGS...: deps.sh with only the fake PATH; stdout/stderr in $TMP/out, $TMP/err.
run() {
    want=$1; shift
    : >"$TMP/calls"
    env -i PATH="$TMP/bin" TMPDIR="$TMP" "$BASH" "$DEPS" "$@" >"$TMP/out" 2>"$TMP/err"
    rc=$?
    [ "$rc" = "$want" ] || { fail "deps.sh $*: exit status $rc, expected $want; stderr:"; show "$TMP/err"; }
}
has() { grep -qF -- "$2" "$1" || { fail "$3: $1 lacks \"$2\":"; show "$1"; }; }
lacks() { ! grep -qF -- "$2" "$1" || { fail "$3: $1 has \"$2\":"; show "$1"; }; }

# 1. A user without sudo, two packages missing (one of them test-only).
printf 'cmake\nlibutf8proc-dev\nnpm\n' >"$TMP/missing"
echo 1000 >"$TMP/uid"
fake_apt 0
rm -f "$TMP/bin/apt-get" # apt must not even be tried; without it a try would show as "not found"
run 1 --test
has "$TMP/err" "missing Debian packages: cmake libutf8proc-dev npm" "no sudo"
has "$TMP/err" "apt-get update && apt-get install -y --no-install-recommends cmake libutf8proc-dev npm" "no sudo: root's command"
lacks "$TMP/err" "not found" "no sudo"
[ -s "$TMP/calls" ] && { fail "no sudo: something ran:"; show "$TMP/calls"; }
# Without --test only the build packages count: npm is not asked for.
run 1
has "$TMP/err" "missing Debian packages: cmake libutf8proc-dev" "no sudo, build only"
lacks "$TMP/err" "npm" "no sudo, build only"

# 2. Nothing missing: silent success (a node on the PATH stands for nodejs and npm).
: >"$TMP/missing"
run 0 --test
[ -s "$TMP/out" ] || [ -s "$TMP/err" ] && { fail "nothing missing: output:"; show "$TMP/out"; show "$TMP/err"; }
printf 'nodejs\nnpm\n' >"$TMP/missing"
printf '#!%s\nexit 0\n' "$BASH" >"$TMP/bin/node"
cp "$TMP/bin/node" "$TMP/bin/npm"
chmod +x "$TMP/bin/node" "$TMP/bin/npm"
run 0 --test
rm "$TMP/bin/node" "$TMP/bin/npm"

# 3. A user with sudo: apt-get through sudo for exactly the missing ones, apt's chatter hidden.
printf 'libmicrohttpd-dev\npython3-jinja2\n' >"$TMP/missing"
fake_sudo
fake_apt 0
run 0 --test
has "$TMP/calls" "sudo apt-get update -qq" "sudo"
has "$TMP/calls" "sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libmicrohttpd-dev python3-jinja2" "sudo"
has "$TMP/calls" "DEBIAN_FRONTEND=noninteractive" "sudo: noninteractive reaches apt-get"
has "$TMP/out" "installing libmicrohttpd-dev python3-jinja2" "sudo"
lacks "$TMP/out" "Selecting previously" "sudo: apt is quiet"
lacks "$TMP/err" "Selecting previously" "sudo: apt is quiet"

# 4. Root: no sudo needed (and none used even where there is one); extra packages from the command line.
echo 0 >"$TMP/uid"
printf 'clang\n' >"$TMP/missing"
run 0 clang
has "$TMP/calls" "apt-get install -y -qq --no-install-recommends clang" "root"
lacks "$TMP/calls" "sudo" "root"

# 5. apt-get fails: its output is shown, with root's command, exit 1.
fake_apt 100
run 1 clang
has "$TMP/err" "apt-get failed" "apt failure"
has "$TMP/err" "Selecting previously unselected package 50" "apt failure shows apt's output"
has "$TMP/err" "apt-get update && apt-get install -y --no-install-recommends clang" "apt failure"

if [ "$FAILS" -ne 0 ]; then
    echo "test_deps: $FAILS failure(s)"
    exit 1
fi
echo "test_deps: all cases passed"
