#!/usr/bin/env bash
# Installs what guanxi builds and runs with, from Debian bookworm's packages.
# A no-op (no apt-get at all) when everything is already installed.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  libprotobuf-dev protobuf-compiler
  libabsl-dev
  librocksdb-dev rocksdb-tools
  librdkafka-dev
  libssl-dev openssl zlib1g-dev
  libcpp-httplib-dev
  libgtest-dev libgmock-dev libbenchmark-dev
)

# The tests labelled `kafka` run Apache Kafka (scripts/kafka): Java 17+ and Maven, which
# the project's machines have; Debian's packages where a machine lacks them.
command -v java >/dev/null || packages+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || packages+=(maven)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi

echo "setup-deps: installing ${missing[*]}" >&2
sudo=""
[[ $(id -u) -eq 0 ]] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup-deps: done" >&2
