#!/usr/bin/env bash
# The main job, as `scripts/dev pipeline` runs it after building (release preset): a
# development Kafka, a simulated year of customers plus the real data sets produced to
# it, the engine ingesting everything into its event logs and projections, an integrity
# check and a replay that must reproduce the projections.
# Ends by itself; everything lives in a temporary directory.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build/release/app/guanxi
data=../shared/data
work=$(mktemp -d)
broker=""
cleanup() {
  [[ -n "$broker" ]] && kill -INT "$broker" 2>/dev/null && wait "$broker" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

echo "== 1. a development Kafka on loopback (guanxi broker) =="
"$bin" broker --partitions 4 --bootstrap-file "$work/bootstrap" >/dev/null &
broker=$!
for _ in $(seq 1 100); do [[ -s "$work/bootstrap" ]] && break; sleep 0.1; done
[[ -s "$work/bootstrap" ]] || { echo "demo: the broker did not start" >&2; exit 1; }
brokers=$(cat "$work/bootstrap")

echo
echo "== 2. events in: a simulated year of 1,000 customers, and the real data sets =="
"$bin" simulate --customers 1000 --days 365 --seed 7 --brokers "$brokers" --truth "$work/truth.jsonl"
if [[ -d "$data" ]]; then
  "$bin" connect cdnow --input "$data/cdnow/CDNOW_sample.txt" --brokers "$brokers"
  "$bin" connect online-retail --input "$data/online-retail.csv.gz" --brokers "$brokers" \
    --rejects "$work/retail.rejects" 2>&1 | grep -v '^line \|^(further'
fi

echo
echo "== 3. the engine appends everything to its event logs, once (guanxi run) =="
"$bin" run --brokers "$brokers" --data "$work/data" --until-caught-up
echo
echo "== 4. the same again: every event re-sent, nothing appended twice =="
"$bin" simulate --customers 1000 --days 365 --seed 7 --brokers "$brokers"
"$bin" run --brokers "$brokers" --data "$work/data" --until-caught-up

echo
echo "== 5. integrity: every partition's hash chain and checksums (guanxi audit verify) =="
"$bin" audit verify --data "$work/data"

echo
echo "== 6. replay: every projection rebuilt from the log equals the live one (guanxi replay) =="
"$bin" replay --data "$work/data"
