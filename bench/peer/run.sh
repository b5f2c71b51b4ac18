#!/usr/bin/env bash
# Runs the Kafka Streams peer: builds it first where needed (build.sh, outside the
# repository), then runs it with the arguments given, reading the scoring and lifecycle
# configuration from the repository's deploy/guanxi.conf.textproto unless --config is
# given. `run.sh --help` lists its flags; JAVA_OPTS goes to the JVM (e.g. -Xmx1g).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
"$here/build.sh"
target=${GUANXI_CACHE:-$HOME/.cache/guanxi}/bench/peer/target
config=(--config "$repo/deploy/guanxi.conf.textproto")
for arg in "$@"; do [[ "$arg" == --config ]] && config=(); done
# shellcheck disable=SC2086  # JAVA_OPTS is a list of options
exec java ${JAVA_OPTS:-} -Dorg.slf4j.simpleLogger.defaultLogLevel=warn \
  -jar "$target/guanxi-peer.jar" "${config[@]}" "$@"
