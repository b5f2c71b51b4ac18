#!/usr/bin/env bash
# Builds the librdkafka guanxi links, once, into a cache outside the repository.
#
#   scripts/setup-librdkafka.sh                 build it unless the cache has it already
#   scripts/setup-librdkafka.sh --print-prefix  print where it is (CMake asks this)
#
# Why not Debian's: bookworm ships librdkafka 2.0.2, whose SCRAM client-final message
# repeats the client nonce, so it cannot log in with SCRAM to Apache Kafka 4.x
# (librdkafka#4895, fixed in 2.6.1), and users' clusters are 4.x. guanxi links a pinned
# release statically instead: the `guanxi` binary carries it, and needs only Debian's
# libssl3, zlib1g, libzstd1 and liblz4-1 at run time.
#
# Where from: the machines reach crates.io, not GitHub; the crate rdkafka-sys carries the
# release's unmodified source tree (its librdkafka/ folder), so the pinned crate, checked
# against its SHA-256, is the source. Built with librdkafka's own configure (mklove, told
# not to download anything) against Debian's OpenSSL, zlib, zstd and lz4; without
# libcurl (only OAUTHBEARER/OIDC token fetching and AWS IAM use it) and without Cyrus SASL
# (GSSAPI/Kerberos): SASL PLAIN, SCRAM-SHA-256/512 and OAUTHBEARER are built in.
#
# The prefix: $GUANXI_CACHE (default ~/.cache/guanxi)/librdkafka-VERSION, with include/,
# lib/librdkafka.a and lib/pkgconfig/rdkafka.pc (no shared library, so the linker takes
# the static one). A finished build leaves the file `complete` there; anything else is
# built again from the start.
set -euo pipefail

VERSION=2.12.1
CRATE=rdkafka-sys-4.10.0+$VERSION
CRATE_SHA256=e234cf318915c1059d4921ef7f75616b5219b10b46e9f3a511a15eb4b56a3f77
prefix=${GUANXI_CACHE:-$HOME/.cache/guanxi}/librdkafka-$VERSION

say() { echo "setup-librdkafka: $*" >&2; }

if [[ "${1:-}" == --print-prefix ]]; then
  echo "$prefix"
  exit 0
fi
[[ $# -eq 0 ]] || { sed -n '4,5p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
[[ -f "$prefix/complete" ]] && exit 0

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
say "librdkafka $VERSION is not built yet: fetching its source ($CRATE from crates.io)"
curl -sSfL --retry 3 -o "$work/crate.tar.gz" \
  "https://static.crates.io/crates/rdkafka-sys/${CRATE/+/%2B}.crate"
echo "$CRATE_SHA256  $work/crate.tar.gz" | sha256sum --check --quiet - ||
  { say "the download's SHA-256 is not the pinned one: refusing to build it"; exit 1; }
tar -xzf "$work/crate.tar.gz" -C "$work" "$CRATE/librdkafka"
src=$work/$CRATE/librdkafka

say "configuring (log: $work/build.log while it runs)"
rm -rf "$prefix"
log=$work/build.log
if ! (cd "$src" && ./configure --prefix="$prefix" --no-download --disable-gssapi \
        --disable-curl --enable-ssl --enable-zlib --enable-zstd --enable-lz4-ext) >"$log" 2>&1; then
  tail -30 "$log" >&2
  say "configure failed; the packages it needs are libssl-dev, zlib1g-dev, libzstd-dev and" \
    "liblz4-dev (scripts/setup-deps.sh)"
  exit 1
fi
say "building the C library: about 2 minutes on 2 cores"
if ! make -C "$src/src" -j"$(nproc)" lib >>"$log" 2>&1 ||
   ! make -C "$src/src" install >>"$log" 2>&1; then
  tail -30 "$log" >&2
  say "the build failed"
  exit 1
fi
rm -f "$prefix"/lib/librdkafka.so* "$prefix"/lib/librdkafka-static.a \
  "$prefix"/lib/pkgconfig/rdkafka-static.pc
touch "$prefix/complete"
say "librdkafka $VERSION is in $prefix"
