package guanxi.peer;

import com.google.protobuf.TextFormat;
import guanxi.v1.Config.EngineConfig;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ListOffsetsResult;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.processor.StateRestoreListener;

/**
 * The Kafka Streams peer of guanxi, for measurement only (bench/peer/README.md): consumes
 * the events topic and keeps each customer's relationship score and lifecycle stage in a
 * RocksDB store with its changelog, exactly_once_v2, emitting stage changes.
 *
 * <pre>
 *   java -jar guanxi-peer.jar --brokers HOST:PORT [--until-caught-up] [...]
 * </pre>
 *
 * With --until-caught-up it stops once the application's committed offsets have reached
 * the events topic's end offsets as seen at start (with exactly_once_v2 an offset is
 * committed in the same transaction as the state changelog writes and the output it
 * covers), and prints one line of figures on stdout: key=value pairs (events, seconds
 * from the first event processed to the last offset committed, events/s, the restore
 * from the changelogs when there was one).
 */
public final class PeerApp {
  private static final String USAGE = String.join("\n",
      "usage: guanxi-peer --brokers LIST [FLAGS]",
      "",
      "The Kafka Streams peer of guanxi (bench/peer/README.md): the score and stage of every",
      "customer of the events topic, in a RocksDB store with its changelog, exactly_once_v2.",
      "",
      "Flags:",
      "  --brokers LIST          Kafka bootstrap servers (required)",
      "  --config FILE           guanxi's configuration (scoring, lifecycle) (default:",
      "                          deploy/guanxi.conf.textproto of the repository)",
      "  --events-topic T        (default: guanxi.events)",
      "  --output-topic T        the stage changes (default: guanxi-peer.stage-changes)",
      "  --application-id ID     Kafka Streams' application.id (default: guanxi-peer)",
      "  --state-dir DIR         Kafka Streams' state.dir (default: /tmp/guanxi-peer)",
      "  --threads N             num.stream.threads (default: 1)",
      "  --until-caught-up       stop once every event at start is processed and committed,",
      "                          and print the figures",
      "  --stages-out FILE       with --until-caught-up: write customer_id TAB stage, one line",
      "                          per customer of the store, before stopping",
      "  --help                  this text");

  public static void main(String[] args) throws Exception {
    Map<String, String> flags = new HashMap<>();
    for (int i = 0; i < args.length; ++i) {
      String a = args[i];
      if (a.equals("--help")) {
        System.out.println(USAGE);
        return;
      }
      if (a.equals("--until-caught-up")) {
        flags.put(a, "true");
      } else if (a.startsWith("--") && i + 1 < args.length) {
        flags.put(a, args[++i]);
      } else {
        System.err.println("guanxi-peer: unknown argument " + a + "\n\n" + USAGE);
        System.exit(2);
      }
    }
    String brokers = flags.get("--brokers");
    if (brokers == null) {
      System.err.println("guanxi-peer: --brokers is required\n\n" + USAGE);
      System.exit(2);
    }
    String configPath = flags.getOrDefault("--config", defaultConfigPath());
    String eventsTopic = flags.getOrDefault("--events-topic", "guanxi.events");
    String outputTopic = flags.getOrDefault("--output-topic", "guanxi-peer.stage-changes");
    String appId = flags.getOrDefault("--application-id", "guanxi-peer");
    boolean untilCaughtUp = flags.containsKey("--until-caught-up");

    EngineConfig config = readConfig(Path.of(configPath));
    Relationship relationship = new Relationship(config.getScoring(), config.getLifecycle());

    Properties props = new Properties();
    props.put(StreamsConfig.APPLICATION_ID_CONFIG, appId);
    props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, brokers);
    props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
    props.put(StreamsConfig.STATE_DIR_CONFIG, flags.getOrDefault("--state-dir", "/tmp/guanxi-peer"));
    props.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, Integer.parseInt(flags.getOrDefault("--threads", "1")));
    props.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");

    createOutputTopic(brokers, eventsTopic, outputTopic);
    Map<TopicPartition, Long> ends = null;
    if (untilCaughtUp) ends = endOffsets(brokers, eventsTopic);

    AtomicLong firstProcessedNanos = new AtomicLong(0);
    AtomicLong restored = new AtomicLong(0);
    AtomicLong restoreStart = new AtomicLong(0);
    AtomicLong restoreEnd = new AtomicLong(0);
    AtomicLong restoring = new AtomicLong(0); // store partitions being restored now
    KafkaStreams streams = new KafkaStreams(
        PeerTopology.build(relationship, eventsTopic, outputTopic, firstProcessedNanos), props);
    streams.setGlobalStateRestoreListener(new StateRestoreListener() {
      @Override
      public void onRestoreStart(TopicPartition tp, String store, long start, long end) {
        restoreStart.compareAndSet(0, System.nanoTime());
        restoring.incrementAndGet();
      }

      @Override
      public void onBatchRestored(TopicPartition tp, String store, long batchEnd, long n) {
        restored.addAndGet(n);
      }

      @Override
      public void onRestoreEnd(TopicPartition tp, String store, long total) {
        restoreEnd.set(System.nanoTime());
        restoring.decrementAndGet();
      }

      @Override
      public void onRestoreSuspended(TopicPartition tp, String store, long total) {
        restoring.decrementAndGet();
      }
    });
    CountDownLatch stopped = new CountDownLatch(1);
    CountDownLatch running = new CountDownLatch(1);
    streams.setStateListener((now, before) -> {
      if (now == KafkaStreams.State.RUNNING) running.countDown();
    });
    streams.setUncaughtExceptionHandler(e -> {
      System.err.println("guanxi-peer: stream thread failed: " + e);
      stopped.countDown();
      return org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse
          .SHUTDOWN_CLIENT;
    });
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      stopped.countDown();
      streams.close(Duration.ofSeconds(30));
    }));
    long startNanos = System.nanoTime();
    streams.start();
    if (!untilCaughtUp) {
      stopped.await();
      return;
    }

    // The events at start, on a topic that starts at offset 0 (as the peer phase's does).
    long total = ends.values().stream().mapToLong(Long::longValue).sum();
    long caughtUpNanos;
    try (Admin admin = Admin.create(adminProps(brokers))) {
      // Started on an empty state directory after an earlier run, the offsets are at the
      // end already: the state is committed once the stores are restored and running.
      // (Kafka Streams may say RUNNING while its state updater still restores: the
      // stores' lags say when it is done.)
      while (running.getCount() > 0 || restoring.get() > 0 || !restored(streams)) {
        if (stopped.await(20, TimeUnit.MILLISECONDS)) System.exit(1);
      }
      while (true) {
        if (stopped.await(20, TimeUnit.MILLISECONDS)) System.exit(1);
        Map<TopicPartition, OffsetAndMetadata> committed =
            admin.listConsumerGroupOffsets(appId).partitionsToOffsetAndMetadata().get();
        boolean done = true;
        for (Map.Entry<TopicPartition, Long> end : ends.entrySet()) {
          OffsetAndMetadata c = committed.get(end.getKey());
          // The committed offset is the next to read: at the end once all is processed.
          if (end.getValue() > 0 && (c == null || c.offset() < end.getValue())) done = false;
        }
        if (done) {
          caughtUpNanos = System.nanoTime();
          break;
        }
      }
    }
    if (flags.containsKey("--stages-out")) writeStages(streams, Path.of(flags.get("--stages-out")));
    streams.close(Duration.ofSeconds(60));
    long first = firstProcessedNanos.get();
    double seconds = first == 0 ? 0 : (caughtUpNanos - first) / 1e9;
    StringBuilder out = new StringBuilder();
    out.append("events=").append(total)
        .append(" seconds=").append(String.format(java.util.Locale.ROOT, "%.3f", seconds))
        .append(" events_per_second=").append(String.format(java.util.Locale.ROOT, "%.1f", seconds > 0 ? total / seconds : 0))
        .append(" start_to_first_event_seconds=")
        .append(String.format(java.util.Locale.ROOT, "%.3f", first == 0 ? 0 : (first - startNanos) / 1e9))
        .append(" restored_records=").append(restored.get())
        .append(" restore_seconds=").append(String.format(java.util.Locale.ROOT, "%.3f",
            restoreStart.get() == 0 ? 0 : (restoreEnd.get() - restoreStart.get()) / 1e9));
    System.out.println(out);
  }

  /** customer_id TAB stage for every customer of the (local) store, in key order per task. */
  private static void writeStages(KafkaStreams streams, Path path) throws IOException {
    org.apache.kafka.streams.state.ReadOnlyKeyValueStore<String, guanxi.v1.State.CustomerState> store =
        streams.store(org.apache.kafka.streams.StoreQueryParameters.fromNameAndType(
            PeerTopology.CUSTOMERS_STORE,
            org.apache.kafka.streams.state.QueryableStoreTypes.<String, guanxi.v1.State.CustomerState>keyValueStore()));
    StringBuilder out = new StringBuilder();
    try (var it = store.all()) {
      it.forEachRemaining(kv -> out.append(kv.key).append('\t').append(kv.value.getStage().name()).append('\n'));
    }
    Files.writeString(path, out.toString(), StandardCharsets.UTF_8);
  }

  /** Every local store partition is known and restored to its changelog's end. */
  private static boolean restored(KafkaStreams streams) {
    Map<String, Map<Integer, org.apache.kafka.streams.LagInfo>> lags = streams.allLocalStorePartitionLags();
    if (lags.isEmpty()) return false;
    return lags.values().stream().flatMap(m -> m.values().stream()).allMatch(l -> l.offsetLag() == 0);
  }

  private static String defaultConfigPath() {
    // The jar lives in $GUANXI_CACHE/peer/target; the repository is found by run.sh,
    // which passes --config. Without it: relative to the working directory.
    return "deploy/guanxi.conf.textproto";
  }

  static EngineConfig readConfig(Path path) throws IOException {
    EngineConfig.Builder config = EngineConfig.newBuilder();
    TextFormat.merge(Files.readString(path, StandardCharsets.UTF_8), config);
    return config.build();
  }

  private static Properties adminProps(String brokers) {
    Properties p = new Properties();
    p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, brokers);
    return p;
  }

  /** The output topic, with as many partitions as the events topic, unless it exists. */
  private static void createOutputTopic(String brokers, String eventsTopic, String outputTopic) throws Exception {
    try (Admin admin = Admin.create(adminProps(brokers))) {
      if (admin.listTopics().names().get().contains(outputTopic)) return;
      int partitions = admin.describeTopics(List.of(eventsTopic)).allTopicNames().get()
          .get(eventsTopic).partitions().size();
      try {
        admin.createTopics(List.of(new NewTopic(outputTopic, Optional.of(partitions), Optional.empty())))
            .all().get();
      } catch (java.util.concurrent.ExecutionException e) {
        if (!(e.getCause() instanceof TopicExistsException)) throw e;
      }
    }
  }

  private static Map<TopicPartition, Long> endOffsets(String brokers, String topic) throws Exception {
    try (Admin admin = Admin.create(adminProps(brokers))) {
      List<TopicPartition> partitions = admin.describeTopics(List.of(topic)).allTopicNames().get()
          .get(topic).partitions().stream()
          .map(p -> new TopicPartition(topic, p.partition()))
          .collect(Collectors.toList());
      Map<TopicPartition, OffsetSpec> latest = partitions.stream()
          .collect(Collectors.toMap(tp -> tp, tp -> OffsetSpec.latest()));
      Map<TopicPartition, ListOffsetsResult.ListOffsetsResultInfo> result =
          admin.listOffsets(latest).all().get();
      Map<TopicPartition, Long> ends = new HashMap<>();
      result.forEach((tp, info) -> ends.put(tp, info.offset()));
      return ends;
    }
  }
}
