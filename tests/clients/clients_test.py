#!/usr/bin/env python3
"""The consumers in other languages (clients/) against the engine, on Apache Kafka.

On the cluster that ctest's fixture KafkaCluster runs (scripts/kafka: three brokers,
its bootstrap address in $GUANXI_KAFKA_DIR/bootstrap), with topics of this test's own
(prefixed, as tests/app/test_cluster.h does, so that no other test's messages are seen):

  1. the engine's topics are created (`guanxi topics`), a simulated year of a few
     hundred customers with a fixed seed is produced to the events topic
     (`guanxi simulate`), and `guanxi run --until-caught-up` ingests and projects it and
     publishes every churn warning and relationship change it derived;
  2. the Python consumer (clients/python, over PLAINTEXT) and the Java consumer
     (clients/java, over SASL_SSL with PLAIN and the cluster's CA: the property
     pass-through) read both output topics from the beginning to the end offsets they
     find, each in a group of its own, with --json;
  3. `guanxi watch --json --from-beginning`, the reference consumer, reads each topic
     (--max: as many messages as the consumers report the topic holds);
  4. the three agree exactly: the same distinct warning notices (by warning_id, notice,
     level) and changes (by change_id), each the same JSON object; there are some of
     each; every message was read by each;
  5. the Python consumer run again in the same group reads nothing (its offsets were
     committed);
  6. both consumers' lines for people (--changes all) name every notice and change,
     and are the same lines.

The consumers are set up first where needed (a virtual environment, a Maven build:
outside the repository, in ~/.cache/guanxi/clients), beside step 1, saying so.

Usage: clients_test.py GUANXI_BINARY   (ctest passes the binary and the environment)
Exit 0 when everything agrees; 1 with what did not.
"""
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[2]
PARTITIONS = 4
CUSTOMERS, DAYS, SEED = 300, 365, 7
# A process that takes longer than this has hung: reported with its output, not waited
# for until ctest's timeout.
STEP_TIMEOUT = 300

started = time.monotonic()


def say(message):
    print(f"[ clients {time.monotonic() - started:5.1f}s ] {message}", flush=True)


class Failed(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Failed(message)


def tail(text, lines=30):
    return "\n".join(text.strip().splitlines()[-lines:])


def run(args, what, **kwargs):
    """Runs a process to its end; its output, or Failed with its stderr."""
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=STEP_TIMEOUT,
                              **kwargs)
    except subprocess.TimeoutExpired as e:
        err = e.stderr or ""
        if isinstance(err, bytes):
            err = err.decode(errors="replace")
        raise Failed(f"{what} did not end within {STEP_TIMEOUT} s:\n{tail(err)}")
    if done.returncode != 0:
        raise Failed(f"{what} exited {done.returncode}:\n{tail(done.stderr)}")
    return done


def summaries(stderr):
    """A consumer's summary lines, `PROG: TOPIC: N messages, D distinct ...`, as
    {topic: (messages, distinct)}."""
    found = {}
    for line in stderr.splitlines():
        parts = line.split(": ")
        if len(parts) == 3 and " messages, " in parts[2]:
            words = parts[2].split()
            found[parts[1]] = (int(words[0]), int(words[2]))
    return found


def by_identity(lines, what):
    """JSON lines as {identity: object}, the first object of each identity: warnings by
    (warningId, notice, level), changes by changeId."""
    found = {}
    for line in lines:
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise Failed(f"{what} printed a line that is not JSON ({e}): {line}")
        if "warningId" in obj:
            key = ("warning", obj["warningId"], obj["notice"], obj["level"])
        elif "changeId" in obj:
            key = ("change", obj["changeId"])
        else:
            raise Failed(f"{what} printed a line that is neither a warning nor a change: {line}")
        found.setdefault(key, obj)
    return found


def compare(name, got, want):
    """`got` has the same identities as `want`, each the same object."""
    missing = sorted(set(want) - set(got))
    extra = sorted(set(got) - set(want))
    check(not missing and not extra,
          f"{name} and guanxi watch disagree: {len(missing)} missing (e.g. {missing[:3]}), "
          f"{len(extra)} extra (e.g. {extra[:3]})")
    differing = [key for key in want if got[key] != want[key]]
    check(not differing,
          f"{name} printed {len(differing)} objects unlike guanxi watch's; the first:\n"
          f"  {name}: {json.dumps(got[differing[0]], sort_keys=True) if differing else ''}\n"
          f"  watch: {json.dumps(want[differing[0]], sort_keys=True) if differing else ''}")


def main(argv):
    if len(argv) != 1:
        sys.exit(__doc__)
    guanxi = argv[0]
    kafka_dir = os.environ.get("GUANXI_KAFKA_DIR", "")
    bootstrap_file = pathlib.Path(kafka_dir, "bootstrap")
    check(kafka_dir and bootstrap_file.exists(),
          "no Apache Kafka runs for the tests: run this through ctest (-L kafka), whose "
          "fixture KafkaCluster starts one with scripts/kafka in GUANXI_KAFKA_DIR")
    brokers = bootstrap_file.read_text().strip()
    sasl_brokers = run([str(REPO / "scripts/kafka"), "sasl-bootstrap"],
                       "scripts/kafka sasl-bootstrap").stdout.strip()
    ca = pathlib.Path(kafka_dir, "tls/ca.pem")

    # The consumers' setup, beside the engine's work: silent when already done.
    say("setting up the consumers where needed (clients/python/setup.sh, "
        "clients/java/build.sh; the first time: a virtual environment from PyPI, "
        "a Maven build)")
    # Their reports go to stdout with ours, in order.
    setups = {name: subprocess.Popen([str(REPO / script)], stderr=subprocess.STDOUT)
              for name, script in (("Python", "clients/python/setup.sh"),
                                   ("Java", "clients/java/build.sh"))}
    try:
        test(guanxi, brokers, sasl_brokers, ca, setups)
    finally:
        for setup in setups.values():  # on a failure before they were waited for
            if setup.poll() is None:
                setup.kill()
                setup.wait()


def test(guanxi, brokers, sasl_brokers, ca, setups):

    prefix = f"KafkaClientsTest.{os.getpid()}."
    topics = {"warnings": prefix + "churn-warnings", "changes": prefix + "relationship-changes"}
    with tempfile.TemporaryDirectory(prefix="clients_test.") as tmp:
        config = pathlib.Path(tmp, "guanxi.conf")
        config.write_text(
            "kafka {\n"
            f'  group_id: "{prefix}engine"\n'
            f'  events_topic: "{prefix}events"\n'
            f'  warnings_topic: "{topics["warnings"]}"\n'
            f'  changes_topic: "{topics["changes"]}"\n'
            f'  dead_letters_topic: "{prefix}dead-letters"\n'
            f'  instances_topic: "{prefix}instances"\n'
            "}\n")
        common = ["--brokers", brokers, "--config", str(config)]

        say(f"creating the topics {prefix}* ({PARTITIONS} partitions, 3 replicas)")
        run([guanxi, "topics", *common, "--partitions", str(PARTITIONS),
             "--replication-factor", "3", "--timeout-seconds", "60"], "guanxi topics")
        say(f"simulating {CUSTOMERS} customers over {DAYS} days (seed {SEED}) into "
            f"{prefix}events")
        run([guanxi, "simulate", "--customers", str(CUSTOMERS), "--days", str(DAYS),
             "--seed", str(SEED), "--topic", prefix + "events", *common], "guanxi simulate")
        say("running the engine until it has caught up (guanxi run --until-caught-up)")
        run([guanxi, "run", "--data", str(pathlib.Path(tmp, "data")), *common,
             "--until-caught-up"], "guanxi run")

        if any(setup.poll() is None for setup in setups.values()):
            say("the engine has caught up; waiting for the consumers' setup")
        for name, setup in setups.items():
            try:
                code = setup.wait(timeout=STEP_TIMEOUT)
            except subprocess.TimeoutExpired:
                setup.kill()
                raise Failed(f"setting up the {name} consumer took over {STEP_TIMEOUT} s")
            check(code == 0, f"setting up the {name} consumer failed (exit {code}; above)")
        say("the consumers are ready")

        topic_flags = ["--warnings-topic", topics["warnings"], "--changes-topic",
                       topics["changes"], "--from-beginning", "--until-end"]
        python_cmd = [str(REPO / "clients/python/run.sh"), "--bootstrap-servers", brokers,
                      *topic_flags]
        java_cmd = [str(REPO / "clients/java/run.sh"), "--bootstrap-servers", sasl_brokers,
                    "-X", "security.protocol=SASL_SSL", "-X", "sasl.mechanism=PLAIN",
                    "-X", "sasl.jaas.config=org.apache.kafka.common.security.plain."
                          'PlainLoginModule required username="guanxi" '
                          'password="guanxi-secret";',
                    "-X", "ssl.truststore.type=PEM", "-X", f"ssl.truststore.location={ca}",
                    *topic_flags]

        say("reading both topics with the Python consumer (PLAINTEXT) and the Java "
            "consumer (SASL_SSL), --json")
        consumers = {
            "the Python consumer": subprocess.Popen(
                [*python_cmd, "--group-id", prefix + "python", "--json"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True),
            "the Java consumer": subprocess.Popen(
                [*java_cmd, "--group-id", prefix + "java", "--json"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True),
        }
        outputs = {}
        for name, process in consumers.items():
            try:
                out, err = process.communicate(timeout=STEP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                out, err = process.communicate()
                raise Failed(f"{name} did not end within {STEP_TIMEOUT} s:\n{tail(err)}")
            check(process.returncode == 0, f"{name} exited {process.returncode}:\n{tail(err)}")
            counts = summaries(err)
            check(set(counts) == set(topics.values()),
                  f"{name} did not report both topics:\n{tail(err)}")
            outputs[name] = (out.splitlines(), counts)

        # As many messages as the topics hold: what each consumer read (they agree).
        held = outputs["the Python consumer"][1]
        check(outputs["the Java consumer"][1] == held,
              f"the consumers read different numbers of messages: Python {held}, "
              f"Java {outputs['the Java consumer'][1]}")
        for which, topic in topics.items():
            check(held[topic][0] > 0, f"the engine published no {which} ({topic} is empty)")

        say(f"reading each topic with guanxi watch --json --from-beginning "
            f"(--max {held[topics['warnings']][0]}, {held[topics['changes']][0]})")
        watches = {which: subprocess.Popen(
            [guanxi, "watch", *common, "--topic", which, "--json", "--from-beginning",
             "--max", str(held[topic][0])],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for which, topic in topics.items()}
        watched = []
        for which, process in watches.items():
            try:
                out, err = process.communicate(timeout=STEP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                out, err = process.communicate()
                raise Failed(f"guanxi watch --topic {which} did not end within "
                             f"{STEP_TIMEOUT} s:\n{tail(err)}")
            check(process.returncode == 0,
                  f"guanxi watch --topic {which} exited {process.returncode}:\n{tail(err)}")
            lines = out.splitlines()
            check(len(lines) == held[topics[which]][0],
                  f"guanxi watch --topic {which} printed {len(lines)} messages, not "
                  f"{held[topics[which]][0]}")
            watched += lines

        want = by_identity(watched, "guanxi watch")
        notices = sum(1 for key in want if key[0] == "warning")
        changes = len(want) - notices
        check(notices > 0 and changes > 0,
              f"nothing to compare: {notices} warning notices, {changes} changes")
        for name, (lines, counts) in outputs.items():
            got = by_identity(lines, name)
            check(len(got) == len(lines), f"{name} printed a notice or a change twice")
            compare(name, got, want)
            check(counts[topics["warnings"]][1] == notices and
                  counts[topics["changes"]][1] == changes,
                  f"{name}'s summary ({counts}) does not count {notices} notices and "
                  f"{changes} changes")
        say(f"agreed: {notices} distinct warning notices and {changes} distinct changes "
            f"({held[topics['warnings']][0]} and {held[topics['changes']][0]} messages) "
            "in guanxi watch, the Python consumer and the Java consumer")

        # The Python consumer's offsets were committed: the same group resumes at the end.
        again = run([*python_cmd, "--group-id", prefix + "python"],
                    "the Python consumer, again in its group")
        counts = summaries(again.stderr)
        check(all(counts.get(topic) == (0, 0) for topic in topics.values()),
              f"the Python consumer read again what its group had committed: {counts}")
        check(again.stdout == "", "the Python consumer printed something on its second run")
        say("the Python consumer, run again in its group, resumed at the end: 0 messages")

        # The lines for people: a headline per notice (RAISED, ESCALATED, RESOLVED, its
        # reasons below, indented) and a line per change, each naming its customer; the
        # same from both consumers, in whatever order their partitions came.
        say("reading both topics again with each consumer, for people (--changes all)")
        people = {
            "the Python consumer": subprocess.Popen(
                [*python_cmd, "--group-id", prefix + "python-people", "--changes", "all"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True),
            "the Java consumer": subprocess.Popen(
                [*java_cmd, "--group-id", prefix + "java-people", "--changes", "all"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True),
        }
        expected = {
            "notice": notices,
            "stage": sum(1 for k in want if k[0] == "change" and "stage" in want[k]),
            "class": sum(1 for k in want if k[0] == "change" and "classChange" in want[k]),
            "score": sum(1 for k in want if k[0] == "change" and "score" in want[k]),
        }
        blocks_of = {}
        for name, process in people.items():
            try:
                out, err = process.communicate(timeout=STEP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                out, err = process.communicate()
                raise Failed(f"{name}, for people, did not end within {STEP_TIMEOUT} s:\n"
                             f"{tail(err)}")
            check(process.returncode == 0,
                  f"{name}, for people, exited {process.returncode}:\n{tail(err)}")
            blocks = []  # a headline with the indented lines below it
            for line in out.splitlines():
                if line.startswith(" ") and blocks:
                    blocks[-1] += "\n" + line
                else:
                    blocks.append(line)
            counted = {kind: 0 for kind in expected}
            for block in blocks:
                words = block.split()
                kind = words[2] if len(words) > 2 else "?"
                if kind in ("RAISED", "ESCALATED", "RESOLVED"):
                    kind = "notice"
                check(kind in counted and " customer " in block.splitlines()[0],
                      f"{name} printed a line of no known kind, or naming no customer:\n{block}")
                counted[kind] += 1
            check(counted == expected,
                  f"{name}'s lines for people count {counted}, not {expected}")
            blocks_of[name] = sorted(blocks)
        python_blocks, java_blocks = blocks_of.values()
        differing = [(p, j) for p, j in zip(python_blocks, java_blocks) if p != j]
        check(not differing,
              f"the consumers' lines for people differ in {len(differing)} places; the first:\n"
              f"  Python: {differing[0][0] if differing else ''}\n"
              f"  Java:   {differing[0][1] if differing else ''}")
        say(f"the consumers' lines for people are the same: {sum(expected.values())} headlines "
            f"({', '.join(f'{n} {k}' for k, n in expected.items())}); e.g.")
        for block in python_blocks:
            if " RAISED " in block.splitlines()[0]:
                print("    " + block.replace("\n", "\n    "), flush=True)
                break

if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except Failed as e:
        say(f"FAILED: {e}")
        sys.exit(1)
    say("passed")
