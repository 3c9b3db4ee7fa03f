#!/usr/bin/env bash
# Builds a PgBouncer >= 1.21 (prepared-statement tracking, `max_prepared_statements`) from
# Debian 13 (trixie)'s source package, for the tests and CI on Debian 12, whose own package is
# 1.18. Trixie's binary .deb needs trixie's glibc, so it is compiled here against bookworm's
# libraries; Debian's patches (its security fixes) are applied by dpkg-source.
#
# Idempotent: the result is cached in .podium/pgbouncer-<version>/ (git-ignored), and a second
# run only checks it. Progress and timings go to stderr; the binary's path is the one line on
# stdout:   PGBOUNCER_BIN=$(devtools/build-pgbouncer.sh)
# Needs root (or the packages below already installed and the trixie deb-src line present).
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE="$PWD/.podium"
SOURCES=/etc/apt/sources.list.d/podium-trixie-src.sources
BUILD_DEPS=(build-essential pkg-config libevent-dev libssl-dev libc-ares-dev dpkg-dev)
started=$SECONDS

say() { printf '[build-pgbouncer %3ss] %s\n' "$((SECONDS - started))" "$*" >&2; }

# PgBouncer's --version starts "PgBouncer 1.24.1": true when that is 1.21 or later.
recent_enough() {
  local version
  version=$("$1" --version 2>/dev/null | sed -n '1s/^PgBouncer \([0-9.]*\).*/\1/p')
  [ -n "$version" ] && printf '1.21\n%s\n' "$version" | sort -V -C
}

for binary in "$CACHE"/pgbouncer-*/bin/pgbouncer; do
  if [ -x "$binary" ] && recent_enough "$binary"; then
    say "cached: $("$binary" --version | head -n1) at $binary"
    echo "$binary"
    exit 0
  fi
done

missing=()
for package in "${BUILD_DEPS[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' \
    || missing+=("$package")
done
if [ ! -f "$SOURCES" ] || [ "${#missing[@]}" -gt 0 ]; then
  # Source only (deb-src): nothing from trixie is installed on this bookworm machine.
  cat >"$SOURCES" <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  say "apt-get update (with trixie's deb-src)"
  apt-get update -qq
fi
if [ "${#missing[@]}" -gt 0 ]; then
  say "installing build dependencies from bookworm: ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

work=$(mktemp -d /tmp/podium-pgbouncer-build.XXXXXX)
trap 'rm -rf "$work"' EXIT
say "downloading pgbouncer/trixie's source package"
(cd "$work" && apt-get source --download-only -qq pgbouncer/trixie 2>/dev/null)
dsc=$(ls "$work"/pgbouncer_*.dsc)
# apt checked the files against trixie's signed Sources index; dpkg-source cannot check the
# .dsc's own signature (no Debian developer keyring here) and only warns, into the log.
(cd "$work" && dpkg-source -x "$dsc" src >"$work/dpkg-source.log" 2>&1) \
  || { cat "$work/dpkg-source.log" >&2; exit 1; }
# 1.24.1-1+deb13u2 -> 1.24.1
version=$(basename "$dsc" .dsc | sed 's/^pgbouncer_//; s/-[^-]*$//')
prefix="$CACHE/pgbouncer-$version"
say "building PgBouncer $version ($(basename "$dsc"), Debian's patches applied) into $prefix"
cd "$work/src"
./configure --prefix="$prefix" --with-cares >"$work/configure.log" 2>&1 \
  || { tail -n 30 "$work/configure.log" >&2; exit 1; }
make -j"$(nproc)" >"$work/make.log" 2>&1 || { tail -n 30 "$work/make.log" >&2; exit 1; }
rm -rf "$prefix"
make install >"$work/install.log" 2>&1 || { tail -n 30 "$work/install.log" >&2; exit 1; }
binary="$prefix/bin/pgbouncer"
recent_enough "$binary" || { say "built $("$binary" --version | head -n1): not >= 1.21"; exit 1; }
say "built: $("$binary" --version | head -n1)"
echo "$binary"
