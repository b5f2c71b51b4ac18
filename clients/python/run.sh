#!/usr/bin/env bash
# Runs the Python consumer of guanxi's outputs: sets it up first where needed (setup.sh:
# the virtual environment and the generated classes, outside the repository), then runs
# guanxi_consumer.py there with the arguments given. `run.sh --help` lists its flags.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${GUANXI_CACHE:-$HOME/.cache/guanxi}/clients/python
"$here/setup.sh"
PYTHONPATH="$cache/gen${PYTHONPATH:+:$PYTHONPATH}" \
  exec "$cache/venv/bin/python" "$here/guanxi_consumer.py" "$@"
