#!/usr/bin/env python3
"""The `peer` phase of scripts/bench (bench/peer/README.md, "The peer phase").

On one real Kafka cluster (scripts/kafka, started here in a directory and on ports of its
own unless --brokers is given), with the same pre-produced events (`guanxi simulate
--brokers`), one after the other:

  1. the Kafka Streams peer (bench/peer/run.sh --until-caught-up, a fresh application id
     and state directory);
  2. `guanxi run --until-caught-up` with the default configuration (every projection on),
     a fresh data directory;
  3. rebuilds from nothing: the peer again with the same application id and an empty state
     directory (Kafka Streams restores its stores from the changelogs, then finds nothing
     left to process), and `guanxi replay` of guanxi's data directory.

Each run is a child process under /usr/bin/time -v (peak RSS, user and system CPU of the
whole process). Processing time runs from the first event consumed to the last state
committed: for the peer as it reports it (its first processed record to its committed
offsets reaching the end, polled every 20 ms); for guanxi from the first poll of its
/metrics (every 20 ms) showing a consumed message to its exit, which follows its last
commit. The rebuilds are timed as the peer's restore (its restore listener) and as
`guanxi replay`'s whole run (which also compares the rebuilt stores with the live ones).

Prints the table on stdout and writes it as JSON (--out, default
bench/results/peer-latest.json).
"""

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def say(msg):
    print(f"bench peer: {msg}", file=sys.stderr, flush=True)


def time_v(stderr_text):
    """Peak RSS (bytes) and CPU seconds (user + system) from /usr/bin/time -v."""
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", stderr_text).group(1)) * 1024
    user = float(re.search(r"User time \(seconds\): ([\d.]+)", stderr_text).group(1))
    system = float(re.search(r"System time \(seconds\): ([\d.]+)", stderr_text).group(1))
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", stderr_text).group(1)
    seconds = 0.0
    for part in wall.split(":"):
        seconds = seconds * 60 + float(part)
    return {"peak_rss_bytes": rss, "cpu_seconds": user + system, "user_seconds": user,
            "system_seconds": system, "wall_seconds": seconds}


def load():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_peer(args, brokers, app_id, state_dir, log, stages_out):
    say(f"peer: application id {app_id}, state dir {state_dir}")
    cmd = ["/usr/bin/time", "-v", os.path.join(ROOT, "bench/peer/run.sh"), "--brokers", brokers,
           "--until-caught-up", "--application-id", app_id, "--state-dir", state_dir,
           "--threads", str(args.peer_threads), "--stages-out", stages_out]
    started = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True)
    with open(log, "w") as f:
        f.write(p.stderr)
    if p.returncode != 0:
        raise SystemExit(f"bench peer: the peer failed (exit {p.returncode}); its log: {log}")
    line = p.stdout.strip().splitlines()[-1]
    figures = {k: float(v) for k, v in (kv.split("=") for kv in line.split())}
    figures.update(time_v(p.stderr))
    figures["process_seconds"] = time.monotonic() - started
    return figures


def metric(port, name):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=1) as r:
            for line in r.read().decode().splitlines():
                if line.startswith(name + " ") or line.startswith(name + "{"):
                    return float(line.split()[-1])
    except OSError:
        return None
    return None


def run_guanxi(args, brokers, data, log):
    port = free_port()
    say(f"guanxi run: data {data}")
    cmd = ["/usr/bin/time", "-v", args.guanxi, "run", "--data", data, "--brokers", brokers,
           "--until-caught-up", "--http", f"127.0.0.1:{port}"]
    started = time.monotonic()
    with open(log, "w") as err:
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
        first = None
        while p.poll() is None:
            if first is None:
                consumed = metric(port, "guanxi_messages_consumed_total")
                if consumed is not None and consumed > 0:
                    first = time.monotonic()
            time.sleep(0.02)
        ended = time.monotonic()
    text = open(log).read()
    if p.returncode != 0:
        raise SystemExit(f"bench peer: guanxi run failed (exit {p.returncode}); its log: {log}")
    figures = time_v(text)
    if first is None:
        raise SystemExit("bench peer: guanxi run ended before its /metrics showed a consumed message")
    figures["seconds"] = ended - first
    figures["start_to_first_event_seconds"] = first - started
    figures["process_seconds"] = ended - started
    return figures


def run_replay(args, data, log):
    say(f"guanxi replay: data {data}")
    cmd = ["/usr/bin/time", "-v", args.guanxi, "replay", "--data", data, "--json"]
    p = subprocess.run(cmd, capture_output=True, text=True)
    with open(log, "w") as f:
        f.write(p.stdout + p.stderr)
    if p.returncode != 0:
        raise SystemExit(f"bench peer: guanxi replay failed (exit {p.returncode}); its log: {log}")
    figures = time_v(p.stderr)
    result = json.loads(p.stdout)
    figures["identical"] = result.get("identical")
    figures["records"] = result.get("records")
    return figures


def kafka(args, *command):
    env = dict(os.environ, GUANXI_KAFKA_DIR=args.kafka_dir, GUANXI_KAFKA_PORT=str(args.kafka_port))
    return subprocess.run([os.path.join(ROOT, "scripts/kafka"), *command], env=env, check=True,
                          capture_output=True, text=True).stdout.strip()


def read_stages(path):
    stages = {}
    with open(path) as f:
        for line in f:
            customer, stage = line.rstrip("\n").split("\t")
            stages[customer] = stage
    return stages


def mib(b):
    return f"{b / 2**20:,.0f} MiB"


def main():
    ap = argparse.ArgumentParser(prog="scripts/bench peer", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--guanxi", default=os.path.join(ROOT, "build/release/app/guanxi"),
                    help="the guanxi binary (default: build/release/app/guanxi)")
    ap.add_argument("--customers", type=int, default=16000,
                    help="simulated customers (default 16000: about 1M events over 365 days)")
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--partitions", type=int, default=8, help="of the events topic (default 8)")
    ap.add_argument("--peer-threads", type=int, default=1,
                    help="the peer's num.stream.threads (default 1: guanxi's run is one process too)")
    ap.add_argument("--brokers", help="an existing cluster with an empty guanxi.events "
                    "(default: start one with scripts/kafka in --kafka-dir)")
    ap.add_argument("--kafka-dir", default="/tmp/guanxi-peer-bench-kafka")
    ap.add_argument("--kafka-port", type=int, default=49192)
    ap.add_argument("--work", help="directory for the runs' data and logs (default: a new temporary one)")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench/results/peer-latest.json"))
    args = ap.parse_args()
    if not os.access(args.guanxi, os.X_OK):
        raise SystemExit(f"bench peer: no guanxi binary at {args.guanxi} (--guanxi)")
    work = args.work or tempfile.mkdtemp(prefix="guanxi-peer-bench-")
    os.makedirs(work, exist_ok=True)
    say(f"work directory {work}")
    subprocess.run([os.path.join(ROOT, "bench/peer/build.sh")], check=True)

    started_kafka = False
    try:
        brokers = args.brokers
        if brokers is None:
            kafka(args, "stop")
            shutil.rmtree(args.kafka_dir, ignore_errors=True)
            say(f"starting Kafka in {args.kafka_dir} (port {args.kafka_port})")
            started_kafka = True
            brokers = kafka(args, "start", "--partitions", str(args.partitions)).splitlines()[-1]
        say(f"pre-producing {args.customers} customers over {args.days} days to {brokers}")
        sim = subprocess.run([args.guanxi, "simulate", "--customers", str(args.customers),
                              "--days", str(args.days), "--seed", str(args.seed),
                              "--brokers", brokers], capture_output=True, text=True, check=True)
        events = int(re.search(r"([\d,]+) events sent", sim.stderr).group(1).replace(",", ""))
        say(f"{events:,} events on guanxi.events")

        stamp = time.strftime("%Y%m%d%H%M%S")
        app_id = f"guanxi-peer-bench-{stamp}"
        rows = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "brokers": brokers,
                "events": events, "customers": args.customers, "days": args.days,
                "seed": args.seed, "partitions": args.partitions,
                "peer_threads": args.peer_threads, "guanxi": args.guanxi}
        rows["load_before_peer"] = load()
        peer = run_peer(args, brokers, app_id, os.path.join(work, "peer-state"),
                        os.path.join(work, "peer.log"), os.path.join(work, "peer-stages.tsv"))
        rows["load_before_guanxi"] = load()
        guanxi = run_guanxi(args, brokers, os.path.join(work, "guanxi-data"),
                            os.path.join(work, "guanxi-run.log"))
        rows["load_before_rebuilds"] = load()
        peer_restore = run_peer(args, brokers, app_id, os.path.join(work, "peer-state-restore"),
                                os.path.join(work, "peer-restore.log"),
                                os.path.join(work, "peer-restore-stages.tsv"))
        replay = run_replay(args, os.path.join(work, "guanxi-data"), os.path.join(work, "replay.log"))
        rows["load_end"] = load()
        export = os.path.join(work, "guanxi-export.jsonl")
        subprocess.run([args.guanxi, "export", "--data", os.path.join(work, "guanxi-data"),
                        "--format", "jsonl", "--output", export], check=True, capture_output=True)
        guanxi_stages = {}
        with open(export) as f:
            for line in f:
                row = json.loads(line)
                guanxi_stages[row["customerId"]] = row["stage"]
        peer_stages = read_stages(os.path.join(work, "peer-stages.tsv"))
        restored_stages = read_stages(os.path.join(work, "peer-restore-stages.tsv"))
        agree = sum(1 for c, st in guanxi_stages.items() if peer_stages.get(c) == st)
        rows["stages"] = {"customers_guanxi": len(guanxi_stages), "customers_peer": len(peer_stages),
                          "agreeing": agree, "restored_equal_live": restored_stages == peer_stages}
        rows.update(peer=peer, guanxi=guanxi, peer_restore=peer_restore, guanxi_replay=replay)
    finally:
        if started_kafka:
            say("stopping Kafka")
            kafka(args, "stop")

    g_rate = events / guanxi["seconds"]
    p_rate = peer["events_per_second"]
    restore_s = peer_restore["restore_seconds"]
    r_rate = events / replay["wall_seconds"]
    pr_rate = events / restore_s if restore_s > 0 else 0
    table = [
        ("events/s, first consumed -> last committed", f"{g_rate:,.0f}", f"{p_rate:,.0f}",
         f"guanxi {g_rate / p_rate:.2f}x the peer"),
        ("peak RSS", mib(guanxi["peak_rss_bytes"]), mib(peer["peak_rss_bytes"]),
         f"guanxi {guanxi['peak_rss_bytes'] / peer['peak_rss_bytes']:.2f}x"),
        ("CPU s per 1M events (whole process)", f"{guanxi['cpu_seconds'] / events * 1e6:,.1f}",
         f"{peer['cpu_seconds'] / events * 1e6:,.1f}",
         f"guanxi {guanxi['cpu_seconds'] / peer['cpu_seconds']:.2f}x"),
        ("rebuild from nothing, events/s", f"{r_rate:,.0f} (replay)",
         f"{pr_rate:,.0f} (restore)", f"guanxi {r_rate / pr_rate:.2f}x" if pr_rate else ""),
        ("rebuild peak RSS", mib(replay["peak_rss_bytes"]), mib(peer_restore["peak_rss_bytes"]), ""),
        ("rebuild CPU s per 1M events", f"{replay['cpu_seconds'] / events * 1e6:,.1f}",
         f"{peer_restore['cpu_seconds'] / events * 1e6:,.1f}", ""),
    ]
    rows["table"] = [dict(zip(("measure", "guanxi", "peer", "ratio"), r)) for r in table]
    widths = [max(len(r[i]) for r in table + [("measure", "guanxi", "Kafka Streams peer", "ratio")])
              for i in range(4)]
    out = [f"peer phase: {events:,} events ({args.customers:,} customers, {args.days} days, seed "
           f"{args.seed}), {args.partitions} partitions, one Kafka node; load {rows['load_before_peer']}"]
    for r in [("measure", "guanxi", "Kafka Streams peer", "ratio")] + table:
        out.append("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    out.append(f"guanxi: {guanxi['seconds']:.2f} s processing, {guanxi['process_seconds']:.2f} s process "
               f"(first event after {guanxi['start_to_first_event_seconds']:.2f} s); peer: "
               f"{peer['seconds']:.2f} s processing, {peer['process_seconds']:.2f} s process (first "
               f"event after {peer['start_to_first_event_seconds']:.2f} s of Kafka Streams start)")
    out.append(f"rebuilds: guanxi replay {replay['wall_seconds']:.2f} s (its whole run, with the "
               f"comparison; identical: {replay['identical']}); peer restore {restore_s:.2f} s, "
               f"{int(peer_restore['restored_records']):,} changelog records")
    st = rows["stages"]
    out.append(f"final stages: the peer's equal guanxi's for {st['agreeing']:,} of {st['customers_guanxi']:,} "
               f"customers (the peer holds {st['customers_peer']:,}; see bench/peer/README.md for what "
               f"differs by design); the peer's restored store has the live one's stages: "
               f"{st['restored_equal_live']}")
    print("\n".join(out))
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(rows, f, indent=2)
    say(f"wrote {args.out}; logs in {work}")


if __name__ == "__main__":
    main()
