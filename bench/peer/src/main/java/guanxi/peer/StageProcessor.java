package guanxi.peer;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Timestamp;
import guanxi.v1.Events.Event;
import guanxi.v1.State.CustomerState;
import guanxi.v1.State.RelationshipChange;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Applies each event to its customer's score and stage (Relationship) and forwards a
 * guanxi.v1.RelationshipChange (a StageChange) when the stage changed.
 *
 * <p>Time as in guanxi's engine (engine/projection/projector.cc): each task keeps an
 * event-time clock, the latest occurred_at it has seen (the "clock" store). Every customer
 * whose stage can move by silence alone has a timer at that deadline (the "timers" store,
 * ordered by deadline, then customer_id). When an event moves the clock forward, every
 * timer due at or before the new clock fires first, in (deadline, customer) order, at its
 * own deadline, before the event is applied; a fired timer is re-armed at the customer's
 * next deadline (which may be due too). This is event-time processing with an explicit
 * timer index rather than a stream-time punctuator, because a punctuator runs after the
 * record that advanced stream time and at the punctuation's time rather than each
 * deadline's, which would change the decayed score the stage rules see.
 *
 * <p>One instance per task (Kafka Streams' contract); not thread-safe, and need not be.
 */
final class StageProcessor implements Processor<String, byte[], String, byte[]> {
  private static final Logger log = LoggerFactory.getLogger(StageProcessor.class);
  private static final String CLOCK_KEY = "clock";
  private static final byte[] NOTHING = new byte[0];

  private final Relationship relationship;
  private ProcessorContext<String, byte[]> context;
  private KeyValueStore<String, CustomerState> customers;
  private KeyValueStore<Bytes, byte[]> timers;
  private KeyValueStore<String, Long> clock;
  // The task's clock (nanoseconds since the epoch); cached from the clock store.
  private long clockNanos;
  // The earliest armed deadline when known (a lower bound of the timers store's first
  // key), so that an event with nothing due does not open a RocksDB iterator.
  private long earliestTimer;
  private boolean earliestKnown;
  private long skipped;

  private final AtomicLong firstProcessedNanos; // may be null

  StageProcessor(Relationship relationship, AtomicLong firstProcessedNanos) {
    this.relationship = relationship;
    this.firstProcessedNanos = firstProcessedNanos;
  }

  @Override
  public void init(ProcessorContext<String, byte[]> context) {
    this.context = context;
    this.customers = context.getStateStore(PeerTopology.CUSTOMERS_STORE);
    this.timers = context.getStateStore(PeerTopology.TIMERS_STORE);
    this.clock = context.getStateStore(PeerTopology.CLOCK_STORE);
    Long stored = clock.get(CLOCK_KEY);
    clockNanos = stored == null ? Long.MIN_VALUE : stored;
    earliestKnown = false;
  }

  @Override
  public void process(Record<String, byte[]> record) {
    if (firstProcessedNanos != null && firstProcessedNanos.get() == 0) {
      firstProcessedNanos.compareAndSet(0, System.nanoTime());
    }
    Event event;
    try {
      event = Event.parseFrom(record.value() == null ? NOTHING : record.value());
    } catch (InvalidProtocolBufferException e) {
      skip(record, "not a guanxi.v1.Event");
      return;
    }
    // guanxi dead-letters what fails its validation; the peer skips the obvious cases.
    if (event.getCustomerId().isEmpty() || !Relationship.isSet(event.getOccurredAt())) {
      skip(record, "no customer_id or occurred_at");
      return;
    }
    long offset = context.recordMetadata().map(m -> m.offset()).orElse(-1L);
    Timestamp t = event.getOccurredAt();
    long tNanos = t.getSeconds() * 1_000_000_000L + t.getNanos();
    if (tNanos > clockNanos) {
      clockNanos = tNanos;
      clock.put(CLOCK_KEY, clockNanos);
      fireTimersUpTo(t.getSeconds(), offset);
    }

    String id = event.getCustomerId();
    CustomerState before = customers.get(id);
    CustomerState.Builder state = before == null ? CustomerState.newBuilder() : before.toBuilder();
    Optional<Relationship.Change> change = relationship.applyEvent(state, event);
    CustomerState after = state.build();
    customers.put(id, after);
    rearm(id, before == null ? Optional.empty() : relationship.nextInactivityDeadline(before),
        relationship.nextInactivityDeadline(after));
    change.ifPresent(c -> forward(id, "event:" + event.getEventId(), offset, c));
  }

  /** Fires every timer due at or before `seconds`, earliest first. */
  private void fireTimersUpTo(long seconds, long offset) {
    while (!earliestKnown || earliestTimer <= seconds) {
      KeyValue<Bytes, byte[]> first;
      try (KeyValueIterator<Bytes, byte[]> it = timers.all()) {
        first = it.hasNext() ? it.next() : null;
      }
      if (first == null) {
        earliestKnown = true;
        earliestTimer = Long.MAX_VALUE;
        return;
      }
      ByteBuffer key = ByteBuffer.wrap(first.key.get());
      long deadline = key.getLong();
      earliestKnown = true;
      earliestTimer = deadline;
      if (deadline > seconds) return;
      String id = new String(first.key.get(), 8, first.key.get().length - 8, StandardCharsets.UTF_8);
      timers.delete(first.key);
      earliestKnown = false;
      CustomerState before = customers.get(id);
      if (before == null) continue; // cannot happen: a timer is armed for a stored state
      CustomerState.Builder state = before.toBuilder();
      Optional<Relationship.Change> change = relationship.advanceTime(state, Relationship.atSeconds(deadline));
      CustomerState after = state.build();
      customers.put(id, after);
      // Re-armed strictly later, so that firing always makes progress.
      Optional<Long> next = relationship.nextInactivityDeadline(after).map(d -> Math.max(d, deadline + 1));
      next.ifPresent(d -> arm(id, d));
      change.ifPresent(c -> forward(id, "time:" + deadline, offset, c));
    }
  }

  private void rearm(String id, Optional<Long> armed, Optional<Long> next) {
    if (armed.equals(next)) return;
    armed.ifPresent(d -> {
      timers.delete(PeerTopology.timerKey(d, id));
      if (earliestKnown && d == earliestTimer) earliestKnown = false;
    });
    next.ifPresent(d -> arm(id, d));
  }

  private void arm(String id, long deadline) {
    timers.put(PeerTopology.timerKey(deadline, id), NOTHING);
    if (earliestKnown && deadline < earliestTimer) earliestTimer = deadline;
  }

  private void forward(String id, String cause, long offset, Relationship.Change change) {
    RelationshipChange value = RelationshipChange.newBuilder()
        .setChangeId(id + "/" + cause + "/stage")
        .setCustomerId(id)
        .setPosition(Math.max(0, offset))
        .setEventTime(change.eventTime())
        .setStage(change.stage())
        .build();
    long millis = change.eventTime().getSeconds() * 1000L + change.eventTime().getNanos() / 1_000_000;
    context.forward(new Record<>(id, value.toByteArray(), millis));
  }

  private void skip(Record<String, byte[]> record, String why) {
    if (skipped++ < 10) {
      log.warn("skipped a record ({}) at {}", why, context.recordMetadata().map(Object::toString).orElse("?"));
    }
  }
}
