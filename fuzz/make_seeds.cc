// guanxi_fuzz_seeds: writes the seed corpora of the harnesses whose input is binary or
// is made from events (scripts/fuzz runs it before fuzzing; nothing here is kept in the
// repository):
//   decode_event/  Kafka messages (key byte, key, value) of events
//   log_record/    stored log records (8-byte key, value)
//   connector_jsonl/  a few events per file, as JSON lines
// from three sources: the simulator (every event type), the real data sets read by their
// connectors (../shared/data: CDNOW, UCI Online Retail), and an event log written by an
// older release (tests/fixtures/release-3c0dc61.tar.gz, unpacked by the caller).
//
//   guanxi_fuzz_seeds OUT_DIR [--data SHARED_DATA_DIR] [--log DATA_DIR]
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "connectors/connector.h"
#include "connectors/line_reader.h"
#include "connectors/run.h"
#include "connectors/simulator.h"
#include "engine/storage/data_dir.h"
#include "engine/storage/event_log.h"
#include "engine/storage/keys.h"

namespace {

namespace fs = std::filesystem;
using guanxi::v1::Event;
using guanxi::v1::LogRecord;

class Seeds {
 public:
  explicit Seeds(fs::path out) : out_(std::move(out)) {}

  void Write(const std::string& harness, std::string_view bytes) {
    const fs::path dir = out_ / harness;
    fs::create_directories(dir);
    std::ofstream(dir / absl::StrCat("seed-", count_[harness]++), std::ios::binary)
        .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }

  // An event as a Kafka message, as a stored record at `position`, and as JSON.
  void AddEvent(const Event& event, uint64_t position) {
    const std::string value = event.SerializeAsString();
    const std::string key = event.customer_id().substr(0, 63);
    Write("decode_event", absl::StrCat(std::string(1, static_cast<char>(key.size())), key, value));
    LogRecord record;
    *record.mutable_event() = event;
    record.set_position(position);
    record.set_prev_hash(std::string(32, '\x5a'));
    record.mutable_recorded_at()->set_seconds(event.occurred_at().seconds() + 1);
    record.mutable_source()->set_topic("guanxi.events");
    record.mutable_source()->set_offset(static_cast<int64_t>(position));
    AddRecord(record);
    jsonl_.push_back(event);
    if (jsonl_.size() == 4) FlushJsonl();
  }

  void AddRecord(const LogRecord& record) {
    Write("log_record", absl::StrCat(guanxi::engine::keys::PositionKey(record.position()),
                                     record.SerializeAsString()));
  }

  void FlushJsonl() {
    if (jsonl_.empty()) return;
    std::ostringstream lines;
    guanxi::connectors::JsonlPublisher publisher(lines);
    for (const Event& e : jsonl_) (void)publisher.Publish(e);
    (void)publisher.Flush();
    Write("connector_jsonl", lines.str());
    jsonl_.clear();
  }

  int total() const {
    int n = 0;
    for (const auto& [harness, count] : count_) n += count;
    return n;
  }

 private:
  fs::path out_;
  std::map<std::string, int> count_;
  std::vector<Event> jsonl_;
};

// Collects what a parser accepts.
class Collect : public guanxi::connectors::EventSink {
 public:
  void Accept(Event event) override { events.push_back(std::move(event)); }
  void Reject(int64_t, std::string) override {}
  std::vector<Event> events;
};

// The first `lines` lines of a real data set, through its connector.
std::vector<Event> ReadData(const std::string& path,
                            std::unique_ptr<guanxi::connectors::LineParser> parser, int lines) {
  Collect sink;
  auto reader = guanxi::connectors::LineReader::Open(path);
  if (!reader.ok()) {
    std::cerr << "guanxi_fuzz_seeds: " << reader.status() << " (skipped)\n";
    return {};
  }
  std::string line;
  for (int64_t n = 1; n <= lines && (*reader)->Next(line); ++n) parser->Line(n, line, sink);
  parser->Finish(sink);
  return std::move(sink.events);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: guanxi_fuzz_seeds OUT_DIR [--data SHARED_DATA_DIR] [--log DATA_DIR]\n";
    return 2;
  }
  std::string data_dir;
  std::string log_dir;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--data") {
      data_dir = argv[i + 1];
    } else if (flag == "--log") {
      log_dir = argv[i + 1];
    } else {
      std::cerr << "guanxi_fuzz_seeds: unknown flag " << flag << "\n";
      return 2;
    }
  }
  Seeds seeds(argv[1]);
  uint64_t position = 0;

  // The simulator: every event type; a few of each.
  std::map<int, int> per_type;
  guanxi::connectors::Simulator simulator({.customers = 40, .days = 200, .seed = 7});
  simulator.Run([&](const Event& event) {
    if (per_type[event.payload_case()]++ < 12) seeds.AddEvent(event, position++);
  });

  // The real data sets, through their connectors.
  if (!data_dir.empty()) {
    int n = 0;
    for (const Event& e : ReadData(data_dir + "/cdnow/CDNOW_sample.txt",
                                   guanxi::connectors::NewCdnowParser(), 2000)) {
      if (n++ % 40 == 0) seeds.AddEvent(e, position++);
    }
    n = 0;
    for (const Event& e : ReadData(data_dir + "/online-retail.csv.gz",
                                   guanxi::connectors::NewOnlineRetailParser(), 4000)) {
      if (n++ % 8 == 0) seeds.AddEvent(e, position++);
    }
  }

  // An older release's log: its records as stored (events, model records).
  if (!log_dir.empty()) {
    for (int32_t p = 0; p < 2; ++p) {
      guanxi::engine::EventLogOptions options;
      options.mode = guanxi::engine::OpenMode::kReadOnly;
      auto log = guanxi::engine::EventLog::Open(guanxi::engine::PartitionDir(log_dir, p), options);
      if (!log.ok()) {
        std::cerr << "guanxi_fuzz_seeds: " << log.status() << " (skipped)\n";
        continue;
      }
      int n = 0;
      const absl::Status read =
          (*log)->ReadRange(0, UINT64_MAX, [&](const LogRecord& record) {
            if (!record.has_event()) {
              seeds.AddRecord(record);
            } else if (n++ % 50 == 0) {
              seeds.AddRecord(record);
              const Event& e = record.event();
              seeds.Write("decode_event", absl::StrCat(std::string(1, '\0'), e.SerializeAsString()));
            }
            return true;
          });
      if (!read.ok()) std::cerr << "guanxi_fuzz_seeds: " << read << "\n";
    }
  }
  seeds.FlushJsonl();
  std::cout << seeds.total() << " seeds written to " << argv[1] << "\n";
  return 0;
}
