#!/usr/bin/env bash
# Installs what guanxi builds and runs with, from Debian bookworm's packages, then builds
# the pinned librdkafka (scripts/setup-librdkafka.sh: Debian's is too old for SCRAM on
# Kafka 4.x). A no-op (no apt-get, no build) when everything is already there.
#
# GUANXI_DEPS says how much:
#   all    (the default) everything the build, the tests (the fuzzing harnesses
#          included: clang), the benchmarks and scripts/
#          use, Java and Maven for the tests labelled `kafka` included
#   build  only what building the project without its tests needs
#          (cmake -DGUANXI_BUILD_TESTS=OFF), as deploy/Dockerfile's build stage does
set -euo pipefail

build_packages=(
  build-essential cmake ninja-build pkg-config
  libprotobuf-dev protobuf-compiler
  libabsl-dev
  librocksdb-dev
  # librdkafka is built from source (scripts/setup-librdkafka.sh): curl fetches it, and
  # it links these.
  curl ca-certificates libssl-dev zlib1g-dev libzstd-dev liblz4-dev
  libcpp-httplib-dev
  # The allocator of the guanxi executables (CMakeLists.txt, GUANXI_JEMALLOC).
  libjemalloc-dev
)

# The web view (web/) is bundled by esbuild from the npm registry (scripts/web): Node.js
# and npm, which the project's machines have; Debian's where a machine lacks them.
command -v npm >/dev/null || build_packages+=(nodejs npm)

case "${GUANXI_DEPS:-all}" in
  build)
    packages=("${build_packages[@]}")
    ;;
  all)
    packages=(
      "${build_packages[@]}" git
      rocksdb-tools openssl
      libgtest-dev libgmock-dev libbenchmark-dev
      # tests/deploy_test.py reads YAML with PyYAML, under Debian's /usr/bin/python3.
      python3-yaml
      # The consumers in other languages (clients/, tested by KafkaClientsTest): the
      # Python one runs in a virtual environment of Debian's python3.
      python3-venv
      # The web view's end-to-end test (scripts/web test, tests/web) drives Debian's
      # chromium; a CJK font so that its screenshots show the Chinese text.
      chromium fonts-noto-cjk
      # The fuzzing harnesses (fuzz/, scripts/fuzz, run by scripts/dev test): libFuzzer
      # and the sanitizers' runtimes come with Debian's clang 14; llvm-symbolizer (in
      # llvm-14) names the functions of a crash's stack.
      clang-14 libclang-rt-14-dev llvm-14
    )
    # The tests labelled `kafka` run Apache Kafka (scripts/kafka): Java 17+ and Maven,
    # which the project's machines have; Debian's packages where a machine lacks them.
    command -v java >/dev/null || packages+=(openjdk-17-jre-headless)
    command -v mvn >/dev/null || packages+=(maven)
    # The Java consumer (clients/java) is compiled: a JDK, not only a runtime.
    command -v javac >/dev/null || packages+=(openjdk-17-jdk-headless)
    ;;
  *)
    echo "setup-deps: GUANXI_DEPS=${GUANXI_DEPS}: expected all (the default) or build" >&2
    exit 2
    ;;
esac

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

if [[ ${#missing[@]} -gt 0 ]]; then
  echo "setup-deps: installing ${missing[*]}" >&2
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  echo "setup-deps: done" >&2
fi

"$(dirname "$0")/setup-librdkafka.sh"
