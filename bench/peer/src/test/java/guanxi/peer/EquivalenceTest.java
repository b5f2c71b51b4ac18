package guanxi.peer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.util.JsonFormat;
import com.google.protobuf.util.Timestamps;
import guanxi.v1.Config.EngineConfig;
import guanxi.v1.Events.Event;
import guanxi.v1.State.CustomerState;
import guanxi.v1.State.RelationshipChange;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.zip.GZIPInputStream;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;
import org.junit.jupiter.api.Test;

/**
 * On a fixed input (guanxi simulate, 50 customers, 365 days, seed 3: 3,057 events), the
 * peer reaches the same lifecycle stage for every customer as guanxi did, through the same
 * stage changes (from, to, event time, cause), in the same order per customer. The
 * expected figures are guanxi's own (bench/peer/make-fixture.sh made them from its
 * export and its relationship-changes topic). TopologyTestDriver runs the topology as
 * written (RocksDB stores, exactly_once_v2), without a broker.
 */
class EquivalenceTest {
  private static final String EVENTS = "guanxi.events";
  private static final String OUTPUT = "guanxi-peer.stage-changes";

  private static BufferedReader resource(String name) throws IOException {
    InputStream in = EquivalenceTest.class.getResourceAsStream("/" + name);
    if (in == null) throw new IOException("no test resource " + name);
    if (name.endsWith(".gz")) in = new GZIPInputStream(in);
    return new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
  }

  private static List<String[]> tsv(String name) throws IOException {
    List<String[]> rows = new ArrayList<>();
    try (BufferedReader r = resource(name)) {
      for (String line; (line = r.readLine()) != null; ) {
        if (line.startsWith("#") || line.isEmpty()) continue;
        rows.add(line.split("\t", -1));
      }
    }
    return rows;
  }

  private static List<Event> events() throws IOException {
    List<Event> events = new ArrayList<>();
    JsonFormat.Parser parser = JsonFormat.parser();
    try (BufferedReader r = resource("events.jsonl.gz")) {
      for (String line; (line = r.readLine()) != null; ) {
        Event.Builder event = Event.newBuilder();
        parser.merge(line, event);
        events.add(event.build());
      }
    }
    return events;
  }

  @Test
  void sameStagesAndStageChangesAsGuanxi() throws Exception {
    EngineConfig config = PeerApp.readConfig(Path.of(System.getProperty("guanxi.config")));
    Relationship relationship = new Relationship(config.getScoring(), config.getLifecycle());
    Path stateDir = Path.of(System.getProperty("guanxi.peer.state.dir", "target/test-state"));
    Files.createDirectories(stateDir);
    Properties props = new Properties();
    props.put(StreamsConfig.APPLICATION_ID_CONFIG, "guanxi-peer-test");
    props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "unused:9092");
    props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
    props.put(StreamsConfig.STATE_DIR_CONFIG, Files.createTempDirectory(stateDir, "run").toString());

    Map<String, String> stages = new TreeMap<>();
    Map<String, List<String>> changes = new TreeMap<>();
    int eventCount;
    try (TopologyTestDriver driver =
        new TopologyTestDriver(PeerTopology.build(relationship, EVENTS, OUTPUT), props)) {
      TestInputTopic<String, byte[]> in = driver.createInputTopic(
          EVENTS, Serdes.String().serializer(), Serdes.ByteArray().serializer());
      TestOutputTopic<String, byte[]> out = driver.createOutputTopic(
          OUTPUT, Serdes.String().deserializer(), Serdes.ByteArray().deserializer());
      List<Event> events = events();
      eventCount = events.size();
      for (Event e : events) {
        in.pipeInput(e.getCustomerId(), e.toByteArray(), Timestamps.toMillis(e.getOccurredAt()));
      }
      for (byte[] value : out.readValuesToList()) {
        RelationshipChange c = RelationshipChange.parseFrom(value);
        changes.computeIfAbsent(c.getCustomerId(), k -> new ArrayList<>()).add(String.join("\t",
            Timestamps.toString(c.getEventTime()), c.getStage().getFrom().name(),
            c.getStage().getTo().name(), c.getStage().getCause()));
      }
      KeyValueStore<String, CustomerState> store = driver.getKeyValueStore(PeerTopology.CUSTOMERS_STORE);
      try (KeyValueIterator<String, CustomerState> it = store.all()) {
        it.forEachRemaining(kv -> stages.put(kv.key, kv.value.getStage().name()));
      }
    }

    Map<String, String> expectedStages = new TreeMap<>();
    for (String[] row : tsv("expected-stages.tsv")) expectedStages.put(row[0], row[1]);
    Map<String, List<String>> expectedChanges = new TreeMap<>();
    int expectedChangeCount = 0;
    for (String[] row : tsv("expected-stage-changes.tsv")) {
      expectedChanges.computeIfAbsent(row[0], k -> new ArrayList<>())
          .add(String.join("\t", row[1], row[2], row[3], row[4]));
      ++expectedChangeCount;
    }
    assertEquals(3057, eventCount, "the fixture's events");
    assertEquals(50, expectedStages.size(), "the fixture's customers");
    assertTrue(expectedChangeCount > 50, "the fixture's stage changes");

    // Every difference at once, for the report.
    List<String> stageDiffs = new ArrayList<>();
    expectedStages.forEach((id, stage) -> {
      if (!stage.equals(stages.get(id))) stageDiffs.add(id + ": guanxi " + stage + ", peer " + stages.get(id));
    });
    stages.keySet().stream().filter(id -> !expectedStages.containsKey(id))
        .forEach(id -> stageDiffs.add(id + ": not in guanxi's export"));
    assertEquals(List.of(), stageDiffs, "final stages that differ from guanxi's");
    assertEquals(expectedChanges, changes, "stage changes per customer");
    System.out.printf("EquivalenceTest: %d events, %d customers, %d stage changes: all as guanxi%n",
        eventCount, stages.size(), expectedChangeCount);
  }
}
