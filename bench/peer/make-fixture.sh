#!/usr/bin/env bash
# Makes the equivalence test's fixture (src/test/resources) with guanxi itself:
#
#   events.jsonl.gz             `guanxi simulate --customers 50 --days 365 --seed 3`
#   expected-stages.tsv         customer_id, final stage: `guanxi export` after
#                               `guanxi run --until-caught-up` on those events, with
#                               no-warnings.textproto (the churn rules off: the stages
#                               the lifecycle's own rules give, the peer's subset)
#   expected-stage-changes.tsv  customer_id, event time, from, to, cause: every stage change
#                               guanxi published on guanxi.relationship-changes, in order
#
# on guanxi's development broker (`guanxi broker`, in memory) with ONE partition, so that
# guanxi's event-time clock is the one clock the test's TopologyTestDriver task has.
#
#   bench/peer/make-fixture.sh [GUANXI_BINARY]   (default: build/ci/app/guanxi)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
guanxi=${1:-$repo/build/ci/app/guanxi}
out=$here/src/test/resources
work=$(mktemp -d)
broker_pid=
cleanup() {
  [[ -n "$broker_pid" ]] && kill "$broker_pid" 2>/dev/null && wait "$broker_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

"$guanxi" simulate --customers 50 --days 365 --seed 3 --output "$work/events.jsonl" >&2
"$guanxi" broker --partitions 1 --bootstrap-file "$work/bootstrap" >"$work/broker.log" 2>&1 &
broker_pid=$!
for _ in $(seq 100); do [[ -s "$work/bootstrap" ]] && break; sleep 0.1; done
brokers=$(cat "$work/bootstrap")
"$guanxi" connect jsonl --input "$work/events.jsonl" --brokers "$brokers" >&2
"$guanxi" run --config "$here/no-warnings.textproto" --data "$work/data" --brokers "$brokers" \
  --until-caught-up >&2
"$guanxi" export --config "$here/no-warnings.textproto" --data "$work/data" --format jsonl \
  --output "$work/export.jsonl" >&2
# Everything published is there once `run` returned; watch reads it and is stopped.
timeout 15 "$guanxi" watch --brokers "$brokers" --topic changes --from-beginning --json \
  >"$work/changes.jsonl" 2>/dev/null || true

gzip -9n <"$work/events.jsonl" >"$out/events.jsonl.gz"
python3 - "$work/export.jsonl" "$work/changes.jsonl" "$out" <<'PY'
import json, sys
export, changes, out = sys.argv[1:]
with open(f"{out}/expected-stages.tsv", "w") as f:
    f.write("# customer_id\tstage (made by bench/peer/make-fixture.sh)\n")
    for line in open(export):
        row = json.loads(line)
        f.write(f"{row['customerId']}\t{row['stage']}\n")
with open(f"{out}/expected-stage-changes.tsv", "w") as f:
    f.write("# customer_id\tevent_time\tfrom\tto\tcause (made by bench/peer/make-fixture.sh)\n")
    for line in open(changes):
        c = json.loads(line)
        if "stage" not in c:
            continue
        s = c["stage"]
        f.write(f"{c['customerId']}\t{c['eventTime']}\t{s.get('from', 'LIFECYCLE_STAGE_UNSPECIFIED')}"
                f"\t{s['to']}\t{s['cause']}\n")
PY
echo "make-fixture: $(($(wc -l <"$out/expected-stages.tsv") - 1)) customers," \
  "$(($(wc -l <"$out/expected-stage-changes.tsv") - 1)) stage changes in $out" >&2
