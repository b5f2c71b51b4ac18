#!/usr/bin/env python3
"""A consumer of guanxi's outputs in Python: churn warnings and relationship changes.

Reads the topics `guanxi.churn-warnings` and `guanxi.relationship-changes` in a consumer
group, decodes each value with the classes generated from proto/guanxi/v1, drops what it
has seen already (delivery is at least once, docs/consumers.md: a warning notice is
identified by (warning_id, notice, level), a change by change_id), and prints each
distinct notice or change once: for people, the lines a team acts on (churn warnings
raised, escalated and resolved with their reasons; lifecycle stage changes, and class
changes or score moves when --changes asks for them); with --json every distinct message
in protobuf's JSON mapping, one object per line, as `guanxi watch --json` prints it. A
summary per topic goes to stderr at the end.

Run it with clients/python/run.sh, which sets up its environment first (setup.sh).

Offsets are committed to the group once a message has been printed, so a consumer
stopped and started again resumes where it was; one that crashed in between prints the
last messages again. The ids it has seen are kept in memory, for one run: a team that
must never act twice on a notice keeps the ids where it records what it did (a unique
key in its own database, written in the same transaction).

Exit status: 0; 1 when the cluster or a topic cannot be reached, or a message did not
parse (reported with its topic, partition and offset, and skipped); 2 for a bad flag.
"""
import argparse
import datetime
import json
import os
import signal
import sys
import time

try:
    from confluent_kafka import Consumer, KafkaException, TopicPartition
    from google.protobuf import json_format
    from google.protobuf.message import DecodeError
    from guanxi.v1 import state_pb2, warning_pb2
except ImportError as e:  # run without its environment
    sys.exit(f"guanxi_consumer: {e}: run it with clients/python/run.sh, which sets up "
             "the packages and the classes generated from proto/")

PROG = "guanxi_consumer"


def say(message):
    print(f"{PROG}: {message}", file=sys.stderr, flush=True)


# --- What is printed ---------------------------------------------------------------


def enum_word(enum_type, number, prefix):
    """WARNING_LEVEL_CRITICAL -> "critical"; an unspecified value -> "none"; a value
    newer than these classes (the schema grows) -> its number."""
    try:
        name = enum_type.Name(number)
    except ValueError:
        return str(number)
    if name.endswith("_UNSPECIFIED"):
        return "none"
    return name.removeprefix(prefix).lower()


def when(message):
    """The event time (of the event, or the inactivity deadline, that caused it)."""
    if not message.HasField("event_time"):
        return "(no time)       "
    moment = datetime.datetime.fromtimestamp(message.event_time.seconds, datetime.timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M")


def describe_warning(w):
    """A notice as a headline and one line per reason."""
    notice = enum_word(warning_pb2.WarningNotice, w.notice, "WARNING_NOTICE_").upper()
    level = enum_word(warning_pb2.WarningLevel, w.level, "WARNING_LEVEL_")
    stage = enum_word(state_pb2.LifecycleStage, w.stage, "LIFECYCLE_STAGE_")
    # The churn risk only once the engine knows it (an optional field: absent until then).
    risk = f", risk {w.churn_risk:.2f}" if w.HasField("churn_risk") else ""
    lines = [f"{when(w)}  {notice:<9}  {level:<8}  customer {w.customer_id}: score {w.score:.1f}, "
             f"stage {stage}, P(alive) {w.p_alive:.2f}{risk}  [warning {w.warning_id}]"]
    lines += [f"      - {r.code}: {r.description}" for r in w.reasons]
    return "\n".join(lines)


# The kinds of change, as --changes names them, by the field of the `change` oneof.
CHANGE_KINDS = {"stage": "stage", "class_change": "class", "score": "score"}


def change_kind(c):
    """"stage", "class", "score", or None for a kind newer than these classes."""
    return CHANGE_KINDS.get(c.WhichOneof("change"))


def describe_change(c):
    """A change as one line. (`from` is a Python keyword: that field is read with
    getattr.)"""
    kind = change_kind(c)
    if kind == "stage":
        before = enum_word(state_pb2.LifecycleStage, getattr(c.stage, "from"), "LIFECYCLE_STAGE_")
        after = enum_word(state_pb2.LifecycleStage, c.stage.to, "LIFECYCLE_STAGE_")
        what = f"{before} -> {after} ({c.stage.cause})"
    elif kind == "class":
        k = c.class_change
        what = f"{k.classification} {getattr(k, 'from') or '-'} -> {k.to} ({k.reason})"
    elif kind == "score":
        what = f"{getattr(c.score, 'from'):.1f} -> {c.score.to:.1f}"
    else:  # a kind newer than these classes
        kind, what = "change", c.change_id
    return f"{when(c)}  {kind:<9}  {'':<8}  customer {c.customer_id}: {what}"


def as_json(message):
    """protobuf's JSON mapping as `guanxi watch --json` prints it (engine/query/json.h):
    lowerCamelCase names, every field present (a message field only when set), enums by
    name, 64-bit integers as strings, timestamps in RFC 3339."""
    return json.dumps(json_format.MessageToDict(message, including_default_value_fields=True),
                      ensure_ascii=False, separators=(",", ":"))


# --- What has been seen ------------------------------------------------------------


class TopicReader:
    """One output topic: how its values decode, what identifies one of them, what was
    seen. Not thread-safe (the poll loop's)."""

    def __init__(self, topic, message_type, identity, noun):
        self.topic = topic
        self.message_type = message_type
        self.identity = identity
        self.noun = noun
        self.seen = set()
        self.messages = 0
        self.duplicates = 0
        self.unreadable = 0

    def decode(self, value):
        """The message, or None when the value is not one."""
        if value is None:
            return None
        try:
            return self.message_type.FromString(value)
        except DecodeError:
            return None

    def first_time(self, message):
        """Whether this is the first delivery of the message's identity."""
        key = self.identity(message)
        if key in self.seen:
            self.duplicates += 1
            return False
        self.seen.add(key)
        return True

    def summary(self):
        text = (f"{self.topic}: {self.messages} messages, {len(self.seen)} distinct {self.noun}, "
                f"{self.duplicates} duplicates dropped")
        if self.unreadable:
            text += f", {self.unreadable} unreadable"
        return text


class EndOffsets:
    """For --until-end: the partitions assigned to this consumer that still hold messages
    before the end offset (high watermark) they had when they were assigned. Reading is
    over once an assignment came and none is left: deterministic, whatever arrives later.
    """

    def __init__(self):
        self.remaining = {}  # (topic, partition) -> end offset at assignment
        self.assigned = False  # the group's latest word was an assignment

    def assign(self, topic, partition, start, end):
        if start < end:
            self.remaining[(topic, partition)] = end
        self.assigned = True

    def revoke(self, partitions):
        for tp in partitions:
            self.remaining.pop((tp.topic, tp.partition), None)
        self.assigned = False

    def consumed(self, topic, partition, offset):
        end = self.remaining.get((topic, partition))
        if end is not None and offset + 1 >= end:
            del self.remaining[(topic, partition)]

    def done(self):
        return self.assigned and not self.remaining


# --- The consumer ------------------------------------------------------------------


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="clients/python/run.sh",
        description="Print guanxi's churn warnings and relationship changes, each distinct "
                    "notice or change once (docs/consumers.md).")
    parser.add_argument("--bootstrap-servers", required=True, metavar="LIST",
                        help="Kafka bootstrap servers, host:port,...")
    parser.add_argument("--warnings-topic", default="guanxi.churn-warnings", metavar="TOPIC",
                        help="the churn-warnings topic (default: %(default)s)")
    parser.add_argument("--changes-topic", default="guanxi.relationship-changes",
                        metavar="TOPIC",
                        help="the relationship-changes topic (default: %(default)s)")
    parser.add_argument("--group-id", default="guanxi-consumer-python", metavar="ID",
                        help="the consumer group, whose committed offsets say where to "
                             "resume (default: %(default)s)")
    parser.add_argument("--from-beginning", action="store_true",
                        help="where the group has no committed offset, start at the oldest "
                             "message kept (default: at the end, from now on)")
    parser.add_argument("-X", "--property", action="append", default=[], metavar="NAME=VALUE",
                        help="a librdkafka property, e.g. security.protocol=SASL_SSL, "
                             "sasl.mechanism=PLAIN, sasl.username=..., ssl.ca.location=...; "
                             "repeatable. The consumer's own settings win (servers, group, "
                             "offset handling)")
    parser.add_argument("--until-end", action="store_true",
                        help="stop once every assigned partition has been read up to the end "
                             "offset it had when it was assigned (default: run until Ctrl-C)")
    parser.add_argument("--json", action="store_true",
                        help="print every distinct message in protobuf's JSON mapping, one "
                             "object per line, as `guanxi watch --json` does")
    parser.add_argument("--changes", metavar="KINDS",
                        help="the relationship changes to print: a comma-separated list of "
                             "stage, class, score, or all (default: stage, what a team acts "
                             "on; with --json: all, as guanxi watch prints them)")
    parser.add_argument("--timeout-seconds", type=float, default=30, metavar="S",
                        help="give up when the cluster does not answer, or assigns nothing, "
                             "within this long (default: %(default)s)")
    args = parser.parse_args(argv)
    args.properties = {}
    for prop in args.property:
        name, sep, value = prop.partition("=")
        if not sep or not name:
            parser.error(f"--property: '{prop}' is not NAME=VALUE")
        args.properties[name] = value
    if args.changes is None:
        args.changes = "all" if args.json else "stage"
    kinds = set(args.changes.split(","))
    if kinds == {"all"}:
        args.change_kinds = None  # every kind, those newer than these classes too
    elif kinds <= set(CHANGE_KINDS.values()):
        args.change_kinds = kinds
    else:
        parser.error(f"--changes: '{args.changes}' is not a list of stage, class, score, or all")
    if args.warnings_topic == args.changes_topic:
        parser.error("--warnings-topic and --changes-topic name the same topic")
    return args


class Run:
    """One run of the consumer: its Kafka consumer, readers, the end offsets to reach."""

    def __init__(self, args):
        self.args = args
        self.readers = {
            args.warnings_topic: TopicReader(
                args.warnings_topic, warning_pb2.ChurnWarning,
                lambda w: (w.warning_id, w.notice, w.level), "notices"),
            args.changes_topic: TopicReader(
                args.changes_topic, state_pb2.RelationshipChange,
                lambda c: c.change_id, "changes"),
        }
        self.ends = EndOffsets()
        self.ever_assigned = False
        self.fatal = None  # set by the callbacks, raised by the loop
        self.errors_said = set()
        self.stop = False
        # Passed-through properties first: the settings the delivery guarantee rests on
        # (offsets stored after printing, then committed) are the consumer's own.
        config = dict(args.properties)
        config.update({
            "bootstrap.servers": args.bootstrap_servers,
            "group.id": args.group_id,
            "enable.auto.commit": True,
            "enable.auto.offset.store": False,
            # Only where a start offset given in on_assign is out of range (deleted by
            # retention since): the oldest kept, or the end.
            "auto.offset.reset": "earliest" if args.from_beginning else "latest",
            "error_cb": self.on_error,
            # librdkafka's own log repeats every failed connection; its errors come
            # through on_error instead, each said once.
            "log_level": 0,
        })
        config.setdefault("client.id", "guanxi-consumer-python")
        self.consumer = Consumer(config)

    def on_error(self, error):
        if error.fatal():
            self.fatal = KafkaException(error)
        elif error.str() not in self.errors_said:
            # librdkafka retries on its own; said (once) so that people can see why
            # nothing comes.
            self.errors_said.add(error.str())
            say(f"kafka: {error.str()}")

    def on_assign(self, consumer, partitions):
        """Starts each partition at the group's committed offset, or where --from-beginning
        says; notes its end offset for --until-end."""
        try:
            timeout = self.args.timeout_seconds
            committed = consumer.committed(partitions, timeout=timeout) if partitions else []
            for tp, c in zip(partitions, committed):
                low, high = consumer.get_watermark_offsets(tp, timeout=timeout, cached=False)
                if c.offset >= 0:
                    start = max(c.offset, low)
                else:
                    start = low if self.args.from_beginning else high
                tp.offset = start
                self.ends.assign(tp.topic, tp.partition, start, high)
            consumer.assign(partitions)
            self.ever_assigned = True
        except KafkaException as e:
            self.fatal = e

    def on_revoke(self, consumer, partitions):
        self.ends.revoke(partitions)
        try:  # what was printed so far, before another member takes the partitions
            consumer.commit(asynchronous=False)
        except KafkaException:
            pass  # nothing stored to commit; or the next owner prints a few again

    def check_topics(self):
        """The cluster answers and both topics exist, or a clear error."""
        try:
            metadata = self.consumer.list_topics(timeout=self.args.timeout_seconds)
        except KafkaException as e:
            raise SystemExit(f"{PROG}: no answer from Kafka at {self.args.bootstrap_servers} "
                             f"within {self.args.timeout_seconds:g} s: {e}")
        for topic in self.readers:
            found = metadata.topics.get(topic)
            if found is None or found.error is not None:
                why = found.error if found is not None else "not listed"
                raise SystemExit(f"{PROG}: topic {topic} does not exist on "
                                 f"{self.args.bootstrap_servers} ({why}): "
                                 "`guanxi topics` creates it")

    def handle(self, m, out):
        reader = self.readers[m.topic()]
        reader.messages += 1
        message = reader.decode(m.value())
        if message is None:
            reader.unreadable += 1
            say(f"{m.topic()}[{m.partition()}]@{m.offset()} is not a "
                f"{reader.message_type.DESCRIPTOR.full_name}; skipped")
        elif reader.first_time(message):
            is_warning = reader.topic == self.args.warnings_topic
            kinds = self.args.change_kinds
            if not is_warning and kinds is not None and change_kind(message) not in kinds:
                return  # a kind not asked for
            if self.args.json:
                out.write(as_json(message) + "\n")
            elif is_warning:
                out.write(describe_warning(message) + "\n")
            else:
                out.write(describe_change(message) + "\n")

    def run(self, out):
        self.check_topics()
        self.consumer.subscribe(list(self.readers), on_assign=self.on_assign,
                                on_revoke=self.on_revoke)
        started = time.monotonic()
        while not self.stop:
            if self.fatal is not None:
                raise self.fatal
            if self.args.until_end and self.ends.done():
                break
            if not self.ever_assigned and time.monotonic() - started > self.args.timeout_seconds:
                raise SystemExit(f"{PROG}: the group {self.args.group_id} assigned no partition "
                                 f"within {self.args.timeout_seconds:g} s")
            batch = self.consumer.consume(num_messages=500, timeout=0.5)
            for m in batch:
                if m.error() is not None:
                    if m.error().fatal():
                        raise KafkaException(m.error())
                    say(f"kafka: {m.error().str()}")
                    continue
                self.handle(m, out)
                self.ends.consumed(m.topic(), m.partition(), m.offset())
            if batch:
                out.flush()  # printed, then stored for the next commit: at least once
                for m in batch:
                    if m.error() is None:
                        self.consumer.store_offsets(message=m)

    def close(self):
        self.consumer.close()  # commits what was stored, leaves the group


def main(argv):
    args = parse_args(argv)
    run = Run(args)

    def stop(signum, frame):
        run.stop = True
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)

    failed = False
    try:
        run.run(sys.stdout)
    except KafkaException as e:
        say(f"kafka: {e}")
        failed = True
    except BrokenPipeError:  # the reader of stdout went away (| head): not a failure
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    finally:
        run.close()
    for reader in run.readers.values():
        say(reader.summary())
        failed = failed or reader.unreadable > 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
