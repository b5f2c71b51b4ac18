#!/usr/bin/env bash
# Sets up the Python consumer (clients/python/guanxi_consumer.py) outside the repository,
# in $GUANXI_CACHE/clients/python (GUANXI_CACHE defaults to ~/.cache/guanxi, as for
# scripts/kafka):
#   venv/  a virtual environment of Debian's python3 with requirements.txt's pins
#   gen/   the classes generated from proto/guanxi/v1/*.proto by Debian's protoc
# Each is made again only when what it comes from changed (the interpreter and the pins;
# protoc and the .proto files), so a second run does nothing and says nothing.
# clients/python/run.sh runs it before the consumer.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=${GUANXI_CACHE:-$HOME/.cache/guanxi}/clients/python
# Debian's interpreter, the one scripts/setup-deps.sh gives python3-venv to.
python=${GUANXI_PYTHON:-/usr/bin/python3}
[[ -x "$python" ]] || python=python3

say() { echo "clients/python: $*" >&2; }
die() { say "$*"; exit 1; }

command -v protoc >/dev/null ||
  die "protoc is needed to generate the classes: Debian's protobuf-compiler (scripts/setup-deps.sh)"

# What each part is made from; a part is made again when its key changes.
venv_key=$({ "$python" --version; cat "$here/requirements.txt"; } | sha256sum | cut -d' ' -f1)
gen_key=$({ protoc --version; cd "$repo" && sha256sum proto/guanxi/v1/*.proto; } |
  sha256sum | cut -d' ' -f1)

if [[ "$(cat "$cache/venv.key" 2>/dev/null)" != "$venv_key" ]]; then
  say "creating a virtual environment in $cache/venv (once: again when requirements.txt changes)"
  # The key goes first and last: a setup cut short is redone from scratch next time.
  rm -rf "$cache/venv" "$cache/venv.key"
  mkdir -p "$cache"
  "$python" -m venv "$cache/venv" ||
    die "'$python -m venv' failed: Debian's python3-venv is needed (scripts/setup-deps.sh)"
  pins=$(grep -Ev '^\s*(#|$)' "$here/requirements.txt" | paste -sd' ')
  say "installing $pins from PyPI"
  # Wheels only: a source build of confluent-kafka would need librdkafka's headers of
  # its own version, which Debian does not have.
  "$cache/venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    --only-binary=:all: -r "$here/requirements.txt" ||
    die "pip could not install $pins (is PyPI reachable?)"
  echo "$venv_key" >"$cache/venv.key"
fi

if [[ "$(cat "$cache/gen.key" 2>/dev/null)" != "$gen_key" ]]; then
  say "generating the Python classes of proto/guanxi/v1 into $cache/gen ($(protoc --version))"
  rm -rf "$cache/gen" "$cache/gen.key"
  mkdir -p "$cache/gen"
  (cd "$repo" && protoc --proto_path=proto --python_out="$cache/gen" proto/guanxi/v1/*.proto) ||
    die "protoc failed on proto/guanxi/v1"
  echo "$gen_key" >"$cache/gen.key"
fi
