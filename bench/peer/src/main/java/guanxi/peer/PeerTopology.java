package guanxi.peer;

import guanxi.v1.State.CustomerState;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.AutoOffsetReset;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.processor.LogAndSkipOnInvalidTimestamp;
import org.apache.kafka.streams.state.Stores;

/**
 * The peer's topology: the events topic (key customer_id, value a guanxi.v1.Event) into
 * one processor (StageProcessor) with three persistent RocksDB key-value stores, each with
 * its changelog topic (Kafka Streams' default for persistent stores), and the stage
 * changes (guanxi.v1.RelationshipChange, key customer_id) out to the output topic.
 *
 * <pre>
 *   events topic -> [events] -> [lifecycle] -> [stage-changes] -> output topic
 *                                   |  customers: customer_id -> CustomerState (the subset)
 *                                   |  timers:    deadline (8 bytes, big-endian) + customer_id -> ()
 *                                   |  clock:     "clock" -> the task's event-time clock
 * </pre>
 *
 * Stateless to build; the Topology it returns is for one KafkaStreams instance.
 */
public final class PeerTopology {
  public static final String CUSTOMERS_STORE = "customers";
  public static final String TIMERS_STORE = "timers";
  public static final String CLOCK_STORE = "clock";

  private PeerTopology() {}

  public static Topology build(Relationship relationship, String eventsTopic, String outputTopic) {
    return build(relationship, eventsTopic, outputTopic, null);
  }

  /**
   * As above; `firstProcessedNanos` (may be null), when 0, is set to System.nanoTime() as
   * the first event is processed (the start of a measurement).
   */
  public static Topology build(Relationship relationship, String eventsTopic, String outputTopic,
      java.util.concurrent.atomic.AtomicLong firstProcessedNanos) {
    Topology topology = new Topology();
    topology.addSource(AutoOffsetReset.earliest(), "events", new LogAndSkipOnInvalidTimestamp(),
        Serdes.String().deserializer(), Serdes.ByteArray().deserializer(), eventsTopic);
    topology.addProcessor("lifecycle", () -> new StageProcessor(relationship, firstProcessedNanos), "events");
    // Caching on: a customer's state written several times within a commit interval
    // reaches RocksDB and the changelog once.
    topology.addStateStore(Stores.keyValueStoreBuilder(
            Stores.persistentKeyValueStore(CUSTOMERS_STORE), Serdes.String(),
            ProtoSerde.of(CustomerState.parser()))
        .withCachingEnabled(), "lifecycle");
    topology.addStateStore(Stores.keyValueStoreBuilder(
            Stores.persistentKeyValueStore(TIMERS_STORE), Serdes.Bytes(), Serdes.ByteArray())
        .withCachingEnabled(), "lifecycle");
    topology.addStateStore(Stores.keyValueStoreBuilder(
            Stores.persistentKeyValueStore(CLOCK_STORE), Serdes.String(), Serdes.Long())
        .withCachingEnabled(), "lifecycle");
    topology.addSink("stage-changes", outputTopic, Serdes.String().serializer(),
        Serdes.ByteArray().serializer(), "lifecycle");
    return topology;
  }

  static Bytes timerKey(long deadlineSeconds, String customerId) {
    byte[] id = customerId.getBytes(java.nio.charset.StandardCharsets.UTF_8);
    java.nio.ByteBuffer key = java.nio.ByteBuffer.allocate(8 + id.length);
    key.putLong(deadlineSeconds).put(id);
    return Bytes.wrap(key.array());
  }
}
