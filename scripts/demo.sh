#!/usr/bin/env bash
# The main job, as `scripts/dev demo` runs it after building (release preset).
# Until the engine's Kafka ingest exists, it shows the parts that do: the simulator,
# the connectors on the real data sets, and the command's help.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build/release/app/guanxi
data=../shared/data
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$bin" --help
echo
echo "== a simulated year of 1,000 customers, with planted churners =="
"$bin" simulate --customers 1000 --days 365 --seed 7 --output "$work/sim.jsonl" --truth "$work/truth.jsonl"
head -n 3 "$work/sim.jsonl"
if [[ -d "$data" ]]; then
  echo
  echo "== the real data sets through the connectors =="
  "$bin" connect cdnow --input "$data/cdnow/CDNOW_sample.txt" --output "$work/cdnow.jsonl"
  "$bin" connect online-retail --input "$data/online-retail.csv.gz" --output "$work/retail.jsonl" \
    --rejects "$work/retail.rejects" 2>&1 | grep -v '^line '
fi
