package guanxi.consumer;

import com.google.protobuf.Descriptors.EnumDescriptor;
import com.google.protobuf.Descriptors.EnumValueDescriptor;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.Timestamp;
import com.google.protobuf.util.JsonFormat;
import guanxi.v1.State.LifecycleStage;
import guanxi.v1.State.RelationshipChange;
import guanxi.v1.Warning.ChurnWarning;
import guanxi.v1.Warning.WarningLevel;
import guanxi.v1.Warning.WarningNotice;
import guanxi.v1.Warning.WarningReason;
import java.io.BufferedOutputStream;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.PrintStream;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.function.Function;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.consumer.OffsetCommitCallback;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;

/**
 * A consumer of guanxi's outputs in Java: churn warnings and relationship changes.
 *
 * <p>Reads the topics {@code guanxi.churn-warnings} and {@code guanxi.relationship-changes}
 * in a consumer group, decodes each value with the classes generated from proto/guanxi/v1,
 * drops what it has seen already (delivery is at least once, docs/consumers.md: a warning
 * notice is identified by (warning_id, notice, level), a change by change_id), and prints
 * each distinct notice or change once: for people, the lines a team acts on (churn warnings
 * raised, escalated and resolved with their reasons; lifecycle stage changes, and class
 * changes or score moves when --changes asks for them); with --json every distinct message
 * in protobuf's JSON mapping, one object per line, as {@code guanxi watch --json} prints it.
 * A summary per topic goes to stderr at the end. The Python consumer (clients/python) takes
 * the same flags and prints the same lines.
 *
 * <p>Offsets are committed to the group once the messages polled have been printed, so a
 * consumer stopped and started again resumes where it was; one that crashed in between
 * prints the last messages again. The ids seen are kept in memory, for one run: a team that
 * must never act twice on a notice keeps them where it records what it did.
 *
 * <p>Exit status: 0; 1 when the cluster or a topic cannot be reached, or a message did not
 * parse (reported with its topic, partition and offset, and skipped); 2 for a bad flag.
 * Single-threaded: everything runs on the polling thread but the shutdown hook, which only
 * wakes it.
 */
public final class GuanxiConsumer {
  private static final String PROG = "guanxi-consumer";
  private static final DateTimeFormatter MINUTE =
      DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm", Locale.ROOT).withZone(ZoneOffset.UTC);
  // protobuf's JSON mapping as `guanxi watch --json` prints it (engine/query/json.h):
  // lowerCamelCase names, every field present (a message field only when set), enums by
  // name, 64-bit integers as strings, timestamps in RFC 3339. (Its strings escape <, >, &,
  // = and ' as \\u003c and so on: the same values once parsed.)
  private static final JsonFormat.Printer JSON =
      JsonFormat.printer().includingDefaultValueFields().omittingInsignificantWhitespace();

  private static final class UsageError extends Exception {
    private static final long serialVersionUID = 1L;

    UsageError(String message) {
      super(message);
    }
  }

  /** A failure to report in one line and exit 1 for. */
  private static final class Failure extends Exception {
    private static final long serialVersionUID = 1L;

    Failure(String message) {
      super(message);
    }
  }

  private static final String USAGE =
      """
      usage: clients/java/run.sh --bootstrap-servers LIST [FLAGS]

      Print guanxi's churn warnings and relationship changes, each distinct notice or
      change once (docs/consumers.md).

      Flags:
        --bootstrap-servers LIST  Kafka bootstrap servers, host:port,... (required)
        --warnings-topic TOPIC    the churn-warnings topic (default: guanxi.churn-warnings)
        --changes-topic TOPIC     the relationship-changes topic
                                  (default: guanxi.relationship-changes)
        --group-id ID             the consumer group, whose committed offsets say where to
                                  resume (default: guanxi-consumer-java)
        --from-beginning          where the group has no committed offset, start at the
                                  oldest message kept (default: at the end, from now on)
        -X, --property NAME=VALUE a Kafka client property, e.g. security.protocol=SASL_SSL,
                                  sasl.mechanism=PLAIN, sasl.jaas.config=...,
                                  ssl.truststore.type=PEM, ssl.truststore.location=...;
                                  repeatable. The consumer's own settings win (servers,
                                  group, offset handling, deserializers)
        --until-end               stop once every assigned partition has been read up to
                                  the end offset it had when it was assigned (default: run
                                  until Ctrl-C)
        --json                    print every distinct message in protobuf's JSON mapping,
                                  one object per line, as `guanxi watch --json` does
        --changes KINDS           the relationship changes to print: a comma-separated
                                  list of stage, class, score, or all (default: stage,
                                  what a team acts on; with --json: all, as guanxi watch
                                  prints them)
        --timeout-seconds S       give up when the cluster does not answer, or assigns
                                  nothing, within this long (default: 30)
        -h, --help                show this help
      """;

  /** The command line. */
  private record Options(
      String bootstrapServers,
      String warningsTopic,
      String changesTopic,
      String groupId,
      boolean fromBeginning,
      Map<String, String> properties,
      boolean untilEnd,
      boolean json,
      Set<String> changeKinds, // null: every kind, those newer than these classes too
      Duration timeout) {}

  /** The kinds of change as --changes names them. */
  private static final Set<String> CHANGE_KINDS = Set.of("stage", "class", "score");

  static Options parse(String[] args) throws UsageError {
    String servers = null;
    String warnings = "guanxi.churn-warnings";
    String changesTopic = "guanxi.relationship-changes";
    String group = "guanxi-consumer-java";
    boolean fromBeginning = false;
    boolean untilEnd = false;
    boolean json = false;
    String changes = null;
    double timeoutSeconds = 30;
    Map<String, String> properties = new LinkedHashMap<>();
    for (int i = 0; i < args.length; i++) {
      String flag = args[i];
      String value = null;
      int eq = flag.indexOf('=');
      if (flag.startsWith("--") && eq > 0) {
        value = flag.substring(eq + 1);
        flag = flag.substring(0, eq);
      }
      switch (flag) {
        case "--from-beginning", "--until-end", "--json" -> {
          if (value != null) throw new UsageError(flag + " takes no value");
          switch (flag) {
            case "--from-beginning" -> fromBeginning = true;
            case "--until-end" -> untilEnd = true;
            default -> json = true;
          }
          continue;
        }
        case "--bootstrap-servers", "--warnings-topic", "--changes-topic", "--group-id",
            "--property", "-X", "--timeout-seconds", "--changes" -> {}
        default -> throw new UsageError("unknown flag " + args[i]);
      }
      if (value == null) {
        if (i + 1 == args.length) throw new UsageError(flag + " needs a value");
        value = args[++i];
      }
      switch (flag) {
        case "--bootstrap-servers" -> servers = value;
        case "--warnings-topic" -> warnings = value;
        case "--changes-topic" -> changesTopic = value;
        case "--group-id" -> group = value;
        case "--changes" -> changes = value;
        case "--timeout-seconds" -> {
          try {
            timeoutSeconds = Double.parseDouble(value);
          } catch (NumberFormatException e) {
            throw new UsageError("--timeout-seconds: '" + value + "' is not a number");
          }
          if (!(timeoutSeconds > 0)) throw new UsageError("--timeout-seconds must be > 0");
        }
        default -> {
          int sep = value.indexOf('=');
          if (sep <= 0) throw new UsageError(flag + ": '" + value + "' is not NAME=VALUE");
          properties.put(value.substring(0, sep), value.substring(sep + 1));
        }
      }
    }
    if (servers == null) throw new UsageError("--bootstrap-servers is required");
    if (changes == null) changes = json ? "all" : "stage";
    Set<String> kinds = Set.of(changes.split(",", -1));
    if (kinds.equals(Set.of("all"))) {
      kinds = null;
    } else if (!CHANGE_KINDS.containsAll(kinds)) {
      throw new UsageError(
          "--changes: '" + changes + "' is not a list of stage, class, score, or all");
    }
    if (warnings.equals(changesTopic)) {
      throw new UsageError("--warnings-topic and --changes-topic name the same topic");
    }
    return new Options(servers, warnings, changesTopic, group, fromBeginning, properties,
        untilEnd, json, kinds, Duration.ofMillis((long) (timeoutSeconds * 1000)));
  }

  // --- What is printed ---------------------------------------------------------------

  /**
   * WARNING_LEVEL_CRITICAL -> "critical"; an unspecified value -> "none"; a value newer than
   * these classes (the schema grows) -> its number.
   */
  static String enumWord(EnumDescriptor type, int number, String prefix) {
    EnumValueDescriptor value = type.findValueByNumber(number);
    if (value == null) return Integer.toString(number);
    String name = value.getName();
    if (name.endsWith("_UNSPECIFIED")) return "none";
    if (name.startsWith(prefix)) name = name.substring(prefix.length());
    return name.toLowerCase(Locale.ROOT);
  }

  /**
   * {@code value} with {@code digits} decimals, rounded as Python's format does (the exact
   * binary value, ties to even), so that both consumers print the same figures; String.format
   * rounds ties up.
   */
  static String fixed(double value, int digits) {
    if (Double.isNaN(value)) return "nan";
    if (Double.isInfinite(value)) return value > 0 ? "inf" : "-inf";
    BigDecimal rounded = new BigDecimal(value).setScale(digits, RoundingMode.HALF_EVEN);
    // A negative value that rounds to zero keeps its sign ("-0.0"), as in Python.
    boolean negative = value < 0 || (value == 0 && 1 / value < 0);
    String text = rounded.abs().toPlainString();
    return negative ? "-" + text : text;
  }

  /** The event time (of the event, or the inactivity deadline, that caused it). */
  static String when(boolean has, Timestamp t) {
    if (!has) return "(no time)       ";
    return MINUTE.format(Instant.ofEpochSecond(t.getSeconds()));
  }

  static String describe(ChurnWarning w) {
    String notice =
        enumWord(WarningNotice.getDescriptor(), w.getNoticeValue(), "WARNING_NOTICE_")
            .toUpperCase(Locale.ROOT);
    String level = enumWord(WarningLevel.getDescriptor(), w.getLevelValue(), "WARNING_LEVEL_");
    String stage =
        enumWord(LifecycleStage.getDescriptor(), w.getStageValue(), "LIFECYCLE_STAGE_");
    // The churn risk only once the engine knows it (an optional field: absent until then).
    String risk = w.hasChurnRisk() ? ", risk " + fixed(w.getChurnRisk(), 2) : "";
    StringBuilder s = new StringBuilder(String.format(Locale.ROOT,
        "%s  %-9s  %-8s  customer %s: score %s, stage %s, P(alive) %s%s  [warning %s]",
        when(w.hasEventTime(), w.getEventTime()), notice, level, w.getCustomerId(),
        fixed(w.getScore(), 1), stage, fixed(w.getPAlive(), 2), risk, w.getWarningId()));
    for (WarningReason r : w.getReasonsList()) {
      s.append("\n      - ").append(r.getCode()).append(": ").append(r.getDescription());
    }
    return s.toString();
  }

  /** "stage", "class", "score", or null for a kind newer than these classes. */
  static String kindOf(RelationshipChange c) {
    return switch (c.getChangeCase()) {
      case STAGE -> "stage";
      case CLASS_CHANGE -> "class";
      case SCORE -> "score";
      default -> null;
    };
  }

  /** One line. */
  static String describe(RelationshipChange c) {
    String kind;
    String what;
    switch (c.getChangeCase()) {
      case STAGE -> {
        kind = "stage";
        what = enumWord(LifecycleStage.getDescriptor(), c.getStage().getFromValue(),
                "LIFECYCLE_STAGE_")
            + " -> "
            + enumWord(LifecycleStage.getDescriptor(), c.getStage().getToValue(),
                "LIFECYCLE_STAGE_")
            + " (" + c.getStage().getCause() + ")";
      }
      case CLASS_CHANGE -> {
        var k = c.getClassChange();
        kind = "class";
        what = k.getClassification() + " " + (k.getFrom().isEmpty() ? "-" : k.getFrom()) + " -> "
            + k.getTo() + " (" + k.getReason() + ")";
      }
      case SCORE -> {
        kind = "score";
        what = fixed(c.getScore().getFrom(), 1) + " -> " + fixed(c.getScore().getTo(), 1);
      }
      default -> { // a kind newer than these classes
        kind = "change";
        what = c.getChangeId();
      }
    }
    return String.format(Locale.ROOT, "%s  %-9s  %-8s  customer %s: %s",
        when(c.hasEventTime(), c.getEventTime()), kind, "", c.getCustomerId(), what);
  }

  // --- What has been seen ------------------------------------------------------------

  /** One output topic: how its values decode, what identifies one, what was seen. */
  private static final class TopicReader {
    interface Decoder {
      Message decode(byte[] value) throws InvalidProtocolBufferException;
    }

    final String topic;
    final String typeName;
    final Decoder decoder;
    final Function<Message, Object> identity;
    final String noun;
    final Set<Object> seen = new HashSet<>();
    long messages;
    long duplicates;
    long unreadable;

    TopicReader(String topic, String typeName, Decoder decoder,
        Function<Message, Object> identity, String noun) {
      this.topic = topic;
      this.typeName = typeName;
      this.decoder = decoder;
      this.identity = identity;
      this.noun = noun;
    }

    /** The message, or null when the value is not one. */
    Message decode(byte[] value) {
      if (value == null) return null;
      try {
        return decoder.decode(value);
      } catch (InvalidProtocolBufferException e) {
        return null;
      }
    }

    /** Whether this is the first delivery of the message's identity. */
    boolean firstTime(Message m) {
      if (seen.add(identity.apply(m))) return true;
      duplicates++;
      return false;
    }

    String summary() {
      String s = String.format(Locale.ROOT,
          "%s: %d messages, %d distinct %s, %d duplicates dropped", topic, messages, seen.size(),
          noun, duplicates);
      return unreadable > 0 ? s + ", " + unreadable + " unreadable" : s;
    }
  }

  /**
   * For --until-end: the partitions assigned to this consumer that still hold messages before
   * the end offset (high watermark) they had when they were assigned. Reading is over once an
   * assignment came and none is left: deterministic, whatever arrives later.
   */
  private static final class EndOffsets {
    final Map<TopicPartition, Long> remaining = new HashMap<>();
    boolean assigned; // the group's latest word was an assignment

    void assign(TopicPartition tp, long start, long end) {
      if (start < end) remaining.put(tp, end);
    }

    void consumed(TopicPartition tp, long offset) {
      Long end = remaining.get(tp);
      if (end != null && offset + 1 >= end) remaining.remove(tp);
    }

    boolean done() {
      return assigned && remaining.isEmpty();
    }
  }

  // --- The consumer ------------------------------------------------------------------

  private final Options options;
  private final Map<String, TopicReader> readers = new LinkedHashMap<>();
  private final EndOffsets ends = new EndOffsets();
  private final KafkaConsumer<String, byte[]> consumer;
  private final PrintStream out;
  private boolean everAssigned;
  private boolean subscribed; // the cluster answered and the topics exist
  private volatile boolean stop;
  private volatile int exitCode = -1; // set by main when it is done

  private GuanxiConsumer(Options options, PrintStream out) {
    this.options = options;
    this.out = out;
    readers.put(options.warningsTopic(), new TopicReader(options.warningsTopic(),
        ChurnWarning.getDescriptor().getFullName(), ChurnWarning::parseFrom,
        m -> {
          ChurnWarning w = (ChurnWarning) m;
          return List.of(w.getWarningId(), w.getNoticeValue(), w.getLevelValue());
        },
        "notices"));
    readers.put(options.changesTopic(), new TopicReader(options.changesTopic(),
        RelationshipChange.getDescriptor().getFullName(), RelationshipChange::parseFrom,
        m -> ((RelationshipChange) m).getChangeId(), "changes"));
    // Passed-through properties first: the settings the delivery guarantee rests on
    // (offsets committed after printing) are the consumer's own.
    Properties config = new Properties();
    config.putAll(options.properties());
    config.putIfAbsent(ConsumerConfig.CLIENT_ID_CONFIG, "guanxi-consumer-java");
    config.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, options.bootstrapServers());
    config.put(ConsumerConfig.GROUP_ID_CONFIG, options.groupId());
    config.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    // Only where a start offset set on assignment is out of range (deleted by retention
    // since): the oldest kept, or the end.
    config.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG,
        options.fromBeginning() ? "earliest" : "latest");
    config.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    config.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG,
        ByteArrayDeserializer.class.getName());
    this.consumer = new KafkaConsumer<>(config);
  }

  /** Starts each partition at the group's committed offset, or where --from-beginning says. */
  private final ConsumerRebalanceListener listener = new ConsumerRebalanceListener() {
    @Override
    public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
      Duration timeout = options.timeout();
      Map<TopicPartition, OffsetAndMetadata> committed =
          consumer.committed(new HashSet<>(partitions), timeout);
      Map<TopicPartition, Long> low = consumer.beginningOffsets(partitions, timeout);
      Map<TopicPartition, Long> high = consumer.endOffsets(partitions, timeout);
      for (TopicPartition tp : partitions) {
        OffsetAndMetadata c = committed.get(tp);
        long start;
        if (c != null) {
          start = Math.max(c.offset(), low.get(tp));
        } else {
          start = options.fromBeginning() ? low.get(tp) : high.get(tp);
        }
        consumer.seek(tp, start);
        ends.assign(tp, start, high.get(tp));
      }
      ends.assigned = true;
      everAssigned = true;
    }

    @Override
    public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
      for (TopicPartition tp : partitions) ends.remaining.remove(tp);
      ends.assigned = false;
      try { // what was printed so far, before another member takes the partitions
        consumer.commitSync();
      } catch (KafkaException e) {
        say("committing on revocation failed (the next owner prints a few again): " + e);
      }
    }
  };

  /** "2 s", "0.5 s". */
  private static String seconds(Duration d) {
    return new BigDecimal(d.toMillis()).movePointLeft(3).stripTrailingZeros()
        .toPlainString() + " s";
  }

  private static void say(String message) {
    System.err.println(PROG + ": " + message);
  }

  /** The cluster answers and both topics exist, or a Failure. */
  private void checkTopics() throws Failure {
    Map<String, List<PartitionInfo>> topics;
    try {
      topics = consumer.listTopics(options.timeout());
    } catch (KafkaException e) {
      throw new Failure("no answer from Kafka at " + options.bootstrapServers() + " within "
          + seconds(options.timeout()) + ": " + e.getMessage());
    }
    for (String topic : readers.keySet()) {
      if (!topics.containsKey(topic)) {
        throw new Failure("topic " + topic + " does not exist on " + options.bootstrapServers()
            + ": `guanxi topics` creates it");
      }
    }
  }

  private void handle(ConsumerRecord<String, byte[]> record) throws Failure {
    TopicReader reader = readers.get(record.topic());
    reader.messages++;
    Message message = reader.decode(record.value());
    if (message == null) {
      reader.unreadable++;
      say(record.topic() + "[" + record.partition() + "]@" + record.offset() + " is not a "
          + reader.typeName + "; skipped");
      return;
    }
    if (!reader.firstTime(message)) return;
    if (message instanceof RelationshipChange c && options.changeKinds() != null) {
      String kind = kindOf(c); // (Set.of's sets throw on contains(null))
      if (kind == null || !options.changeKinds().contains(kind)) return; // not asked for
    }
    String line;
    if (options.json()) {
      try {
        line = JSON.print(message);
      } catch (InvalidProtocolBufferException e) { // a value JSON cannot hold
        throw new Failure("printing " + record.topic() + "[" + record.partition() + "]@"
            + record.offset() + " as JSON: " + e.getMessage());
      }
    } else if (message instanceof ChurnWarning w) {
      line = describe(w);
    } else {
      line = describe((RelationshipChange) message);
    }
    out.println(line);
  }

  private void run() throws Failure {
    checkTopics();
    consumer.subscribe(new ArrayList<>(readers.keySet()), listener);
    subscribed = true;
    long started = System.nanoTime();
    OffsetCommitCallback onCommit = (offsets, e) -> {
      if (e != null) say("committing offsets failed (retried with the next batch): " + e);
    };
    while (!stop) {
      if (options.untilEnd() && ends.done()) break;
      if (!everAssigned && System.nanoTime() - started > options.timeout().toNanos()) {
        throw new Failure("the group " + options.groupId() + " assigned no partition within "
            + seconds(options.timeout()));
      }
      ConsumerRecords<String, byte[]> records;
      try {
        records = consumer.poll(Duration.ofMillis(500));
      } catch (WakeupException e) {
        break; // the shutdown hook: Ctrl-C or SIGTERM
      }
      for (ConsumerRecord<String, byte[]> record : records) {
        handle(record);
        ends.consumed(new TopicPartition(record.topic(), record.partition()), record.offset());
      }
      if (!records.isEmpty()) {
        out.flush();
        if (out.checkError()) break; // the reader of stdout went away (| head)
        consumer.commitAsync(onCommit); // printed, then committed: at least once
      }
    }
  }

  private void close() {
    for (int attempt = 0; attempt < 2; attempt++) {
      try {
        consumer.commitSync();
        break;
      } catch (WakeupException e) {
        continue; // the shutdown hook's wake-up, which no poll took: once more
      } catch (KafkaException e) {
        say("committing offsets at the end failed (the next run prints a few again): " + e);
        break;
      }
    }
    consumer.close();
  }

  public static void main(String[] args) {
    // kafka-clients logs through SLF4J's simple provider: errors only, unless
    // -Dorg.slf4j.simpleLogger.defaultLogLevel says otherwise (JAVA_OPTS of run.sh). Its
    // warnings repeat every failed connection; the consumer says what matters itself.
    if (System.getProperty("org.slf4j.simpleLogger.defaultLogLevel") == null) {
      System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "error");
    }
    Options options;
    try {
      if (List.of(args).contains("--help") || List.of(args).contains("-h")) {
        System.out.print(USAGE);
        return;
      }
      options = parse(args);
    } catch (UsageError e) {
      say(e.getMessage() + " (--help lists the flags)");
      System.exit(2);
      return;
    }
    PrintStream out = new PrintStream(
        new BufferedOutputStream(new FileOutputStream(FileDescriptor.out), 1 << 16), false,
        StandardCharsets.UTF_8);
    GuanxiConsumer run = new GuanxiConsumer(options, out);

    // Ctrl-C and SIGTERM: the poll returns (WakeupException), the consumer commits what it
    // printed and leaves the group, and the JVM exits once main is done, with main's exit
    // status (0 after a clean stop, as `guanxi watch` and the Python consumer) rather than
    // the JVM's 130 or 143.
    Thread mainThread = Thread.currentThread();
    Thread hook = new Thread(() -> {
      run.stop = true;
      run.consumer.wakeup();
      try {
        mainThread.join(30_000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      if (run.exitCode >= 0) Runtime.getRuntime().halt(run.exitCode);
    });
    Runtime.getRuntime().addShutdownHook(hook);

    boolean failed = false;
    try {
      run.run();
    } catch (Failure e) {
      say(e.getMessage());
      failed = true;
    } catch (KafkaException e) {
      say("kafka: " + e);
      failed = true;
    } finally {
      out.flush();
      run.close();
    }
    if (run.subscribed) {
      for (TopicReader reader : run.readers.values()) {
        say(reader.summary());
        failed |= reader.unreadable > 0;
      }
    }
    System.err.flush();
    run.exitCode = failed ? 1 : 0;
    if (run.stop) return; // the JVM is shutting down (the hook exits): System.exit would block
    Runtime.getRuntime().removeShutdownHook(hook);
    System.exit(run.exitCode);
  }
}
