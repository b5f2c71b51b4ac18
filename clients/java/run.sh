#!/usr/bin/env bash
# Runs the Java consumer of guanxi's outputs: builds it first where needed (build.sh,
# outside the repository), then runs it with the arguments given. `run.sh --help` lists
# its flags; JAVA_OPTS goes to the JVM (e.g. -Dorg.slf4j.simpleLogger.defaultLogLevel=warn
# for the Kafka client's warnings).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
"$here/build.sh"
target=${GUANXI_CACHE:-$HOME/.cache/guanxi}/clients/java/target
# shellcheck disable=SC2086  # JAVA_OPTS is a list of options
exec java ${JAVA_OPTS:-} -jar "$target/guanxi-consumer.jar" "$@"
